// RetryPolicy: which failures are worth another attempt, and when. Exponential backoff with full
// jitter (AWS's "full jitter": a uniform delay in [0, min(cap, base * 2^attempt)]), so retries of
// many requests that failed together do not arrive together.
#pragma once

#include <cstdint>
#include <random>

#include "core/status.h"

namespace batchwise {

struct RetryPolicy {
  int max_attempts = 3;
  double base_delay_s = 0.5;
  double max_delay_s = 30.0;

  // Timeouts, out-of-memory, unavailable engines, rate limits and 5xx may pass on a second try;
  // invalid requests and context overflows never will.
  static bool retryable(ErrorCode code);

  // Whether a request that failed its `attempts`-th attempt with `code` goes again.
  bool should_retry(ErrorCode code, int attempts) const { return retryable(code) && attempts < max_attempts; }

  // Seconds to wait before attempt number `attempts + 1`.
  double delay_s(int attempts, std::mt19937_64& rng) const;
};

}  // namespace batchwise
