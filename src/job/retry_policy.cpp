#include "job/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace batchwise {

bool RetryPolicy::retryable(ErrorCode code) {
  switch (code) {
    case ErrorCode::kTimeout:
    case ErrorCode::kOutOfMemory:
    case ErrorCode::kUnavailable:
    case ErrorCode::kRateLimited:
    case ErrorCode::kServerError:
    case ErrorCode::kEngine:
      return true;
    default:
      return false;
  }
}

double RetryPolicy::delay_s(int attempts, std::mt19937_64& rng) const {
  const double cap = std::min(max_delay_s, base_delay_s * std::pow(2.0, std::max(0, attempts - 1)));
  return std::uniform_real_distribution<double>(0.0, cap)(rng);
}

}  // namespace batchwise
