#include "engine/http/observed_timeout.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace batchwise {

ObservedTimeout::ObservedTimeout(ObservedTimeoutOptions options) : o_(options), limit_s_(options.fixed_limit_s) {
  o_.window = std::max<size_t>(o_.window, 1);
  latencies_.reserve(o_.window);
}

void ObservedTimeout::on_answer(double latency_s) {
  if (!(latency_s >= 0) || o_.p99_multiple <= 0) return;
  if (latencies_.size() < o_.window) {
    latencies_.push_back(latency_s);
  } else {
    latencies_[next_] = latency_s;
    next_ = (next_ + 1) % o_.window;
  }
  // A sort of the window every 16 answers: cheap beside an HTTP round trip, and the limit follows
  // the server as its load changes.
  if (latencies_.size() >= o_.min_answers && ++since_recompute_ >= 16) recompute();
  else if (latencies_.size() == o_.min_answers) recompute();
}

void ObservedTimeout::recompute() {
  since_recompute_ = 0;
  std::vector<double> sorted = latencies_;
  const size_t k = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(sorted.size()))) - 1;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(k), sorted.end());
  p99_s_ = sorted[k];
  limit_s_ = std::clamp(o_.p99_multiple * p99_s_, std::min(o_.floor_s, o_.fixed_limit_s), o_.fixed_limit_s);
  observed_ = limit_s_ < o_.fixed_limit_s;
}

std::string ObservedTimeout::describe_timeout(double limit_s) const {
  char buf[256];
  if (limit_s < o_.fixed_limit_s) {
    std::snprintf(buf, sizeof buf, "no complete answer within %.0f s (%.3g x the p99 of recent answers, %.1f s; "
                  "--timeout-p99-multiple sets the multiple, 0 turns it off)", limit_s, o_.p99_multiple, p99_s_);
  } else {
    std::snprintf(buf, sizeof buf, "no complete answer within %g s (--request-timeout)", limit_s);
  }
  return buf;
}

std::string ObservedTimeout::describe_stall_limit() const {
  char buf[200];
  if (observed_) {
    std::snprintf(buf, sizeof buf, "%.3g x the p99 of recent answers, %.2f s, at least %g s", o_.p99_multiple, p99_s_,
                  o_.floor_s);
  } else {
    std::snprintf(buf, sizeof buf, "--request-timeout %g s, until %zu answers give a p99", o_.fixed_limit_s, o_.min_answers);
  }
  return buf;
}

}  // namespace batchwise
