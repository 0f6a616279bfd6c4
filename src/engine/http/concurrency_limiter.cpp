#include "engine/http/concurrency_limiter.h"

#include <algorithm>

namespace batchwise {

ConcurrencyLimiter::ConcurrencyLimiter(ConcurrencyOptions options) : options_(options) {
  options_.max = std::max(1, options_.max);
  options_.min = std::clamp(options_.min, 1, options_.max);
  options_.initial = std::clamp(options_.initial, options_.min, options_.max);
  limit_ = options_.initial;
}

void ConcurrencyLimiter::on_success(double latency_ms, int outstanding) {
  window_sum_ms_ += latency_ms;
  window_n_++;
  window_max_outstanding_ = std::max(window_max_outstanding_, outstanding);
  if (window_n_ >= std::max(4, limit())) close_window();
}

void ConcurrencyLimiter::close_window() {
  const double mean_ms = window_sum_ms_ / window_n_;
  baseline_ms_ = baseline_ms_ <= 0 ? mean_ms : std::min(mean_ms, baseline_ms_ * options_.baseline_drift);
  if (mean_ms > options_.tolerance * baseline_ms_ + options_.slack_ms) {
    if (!decreased_in_window_) limit_ = std::max<double>(options_.min, limit_ * 0.8);
  } else if (window_max_outstanding_ + 1 >= limit()) {
    // Only a limit that was reached is raised: an idle endpoint says nothing about its capacity.
    limit_ = std::min<double>(options_.max, limit_ + 1);
  }
  window_sum_ms_ = 0;
  window_n_ = 0;
  window_max_outstanding_ = 0;
  decreased_in_window_ = false;
}

void ConcurrencyLimiter::on_overload() {
  if (decreased_in_window_) return;
  limit_ = std::max<double>(options_.min, limit_ * 0.5);
  decreased_in_window_ = true;
}

void ConcurrencyLimiter::reset() {
  limit_ = options_.initial;
  window_sum_ms_ = 0;
  window_n_ = 0;
  window_max_outstanding_ = 0;
  decreased_in_window_ = false;
}

}  // namespace batchwise
