#include "engine/http/concurrency_limiter.h"

#include <algorithm>
#include <cmath>

namespace batchwise {

ConcurrencyLimiter::ConcurrencyLimiter(ConcurrencyOptions options) : options_(options) {
  options_.max = std::max(1, options_.max);
  options_.min = std::clamp(options_.min, 1, options_.max);
  options_.initial = std::clamp(options_.initial, options_.min, options_.max);
  options_.min_window = std::max(1, options_.min_window);
  options_.history = std::max(1, options_.history);
  options_.probe_every = std::max(2, options_.probe_every);
  reset();
}

double ConcurrencyLimiter::lowest_ms() const {
  return recent_ms_.empty() ? 0 : *std::min_element(recent_ms_.begin(), recent_ms_.end());
}

void ConcurrencyLimiter::on_success(double latency_ms, int outstanding, double now_s) {
  window_sum_ms_ += latency_ms;
  window_n_++;
  if (window_start_s_ < 0) window_start_s_ = now_s;  // the first answer only starts the clock
  else window_rate_n_++;
  window_max_outstanding_ = std::max(window_max_outstanding_, outstanding);
  if (window_n_ >= std::max(options_.min_window, limit())) close_window(now_s);
}

void ConcurrencyLimiter::clear_window(double now_s) {
  window_sum_ms_ = 0;
  window_n_ = 0;
  window_rate_n_ = 0;
  window_start_s_ = now_s;
  window_max_outstanding_ = 0;
  decreased_in_window_ = false;
}

void ConcurrencyLimiter::close_window(double now_s) {
  const double mean_ms = window_sum_ms_ / window_n_;
  const double span_s = now_s - window_start_s_;
  const double rps = span_s > 0 && window_rate_n_ > 0 ? window_rate_n_ / span_s : 0;
  const bool full = window_max_outstanding_ + 1 >= limit();
  // Answers of requests sent under the limit before: not the new limit's figures.
  if (phase_ == Phase::kProbeDrain || phase_ == Phase::kSettle) {
    phase_ = phase_ == Phase::kProbeDrain ? Phase::kProbeMeasure : Phase::kNormal;
    return clear_window(now_s);
  }
  recent_ms_.push_back(mean_ms);
  if (recent_ms_.size() > static_cast<size_t>(options_.history)) recent_ms_.pop_front();
  if (phase_ == Phase::kProbeMeasure) {
    phase_ = Phase::kSettle;
    windows_since_probe_ = 0;
    // Below the knee each slot serves rps / limit: the knee is where the full limit's rate is reached
    // (Little's law). Within probe_noise of the full rate the knee is the probe itself.
    const double probe_limit = limit_;
    double knee = probe_from_;
    const bool idle_slots = rps >= (1 - options_.probe_noise) * reference_rps_;
    if (idle_slots) knee = probe_limit;
    else if (rps > 0) knee = probe_limit * reference_rps_ / rps;
    limit_ = std::clamp(std::ceil(knee * 1.25), probe_limit + 1, probe_from_);
    // A probe that found every slot in use comes twice as late next time: a server that uses its slots
    // pays little for being checked.
    probe_interval_ = limit_ >= probe_from_ ? std::min(64, probe_interval_ * 2) : options_.probe_every;
    // Slots that bought nothing: no growth past this until a probe finds the slots in use again (a
    // server that became faster shows it there).
    ceiling_ = idle_slots ? limit_ : options_.max;
    limit_ = std::clamp<double>(limit_, options_.min, options_.max);
    return clear_window(now_s);
  }
  const double lowest = lowest_ms();
  // A window after a jump in latency mixes two regimes: its rate is no reference for the next one.
  const bool cut_before = cut_last_window_ && !jumped_last_window_;
  jumped_last_window_ = last_mean_ms_ > 0 && (mean_ms > 2 * last_mean_ms_ || 2 * mean_ms < last_mean_ms_);
  cut_last_window_ = false;
  if (!decreased_in_window_) {
    if (mean_ms > options_.tolerance * lowest + options_.slack_ms) {
      // (A cut that only drained a queue lowers the latency and keeps the rate.)
      if (cut_before && last_rps_ > 0 && rps < (1 - options_.probe_noise) * last_rps_ &&
          mean_ms > (1 - options_.probe_noise) * last_mean_ms_) {
        // The last cut cost throughput: the limit is below the knee, so this latency is the server's own
        // now (it became slower for everyone), not queueing. It is the new norm; the cut is undone.
        recent_ms_.assign(1, mean_ms);
        limit_ = limit_before_cut_;
        // Rates of short windows are noisy: if this was queueing after all, a probe soon tells.
        windows_since_probe_ = std::max(windows_since_probe_, probe_interval_ - 2);
      } else {
        limit_before_cut_ = limit_;
        limit_ = std::max<double>(options_.min, limit_ * 0.8);
        cut_last_window_ = true;
      }
    } else if (full && mean_ms <= options_.grow_tolerance * lowest + options_.slack_ms) {
      // Only a limit that was reached is raised: an idle endpoint says nothing about its capacity.
      limit_ = std::min<double>(ceiling_, limit_ + 1);
    }
  }
  last_rps_ = rps;
  last_mean_ms_ = mean_ms;
  ++windows_since_probe_;
  const int probe_limit = std::max(options_.min, static_cast<int>(limit_ * options_.probe_fraction));
  if (full && rps > 0 && windows_since_probe_ >= probe_interval_ && probe_limit < limit()) {
    probe_from_ = limit_;
    reference_rps_ = rps;
    limit_ = probe_limit;
    phase_ = Phase::kProbeDrain;
  }
  clear_window(now_s);
}

void ConcurrencyLimiter::on_overload() {
  if (decreased_in_window_) return;
  if (phase_ == Phase::kProbeDrain || phase_ == Phase::kProbeMeasure) {  // a probe under overload proves nothing
    limit_ = probe_from_;
  }
  phase_ = Phase::kNormal;
  limit_ = std::max<double>(options_.min, limit_ * 0.5);
  decreased_in_window_ = true;
}

void ConcurrencyLimiter::reset() {
  limit_ = options_.initial;
  ceiling_ = options_.max;
  cut_last_window_ = false;
  jumped_last_window_ = false;
  last_rps_ = 0;
  last_mean_ms_ = 0;
  phase_ = Phase::kNormal;
  recent_ms_.clear();
  // The first probe comes after two windows: the start may already be past the server's knee.
  windows_since_probe_ = options_.probe_every - 2;
  probe_interval_ = options_.probe_every;
  clear_window(-1);
}

void ConcurrencyLimiter::cap_at(int slots, bool start_there) {
  options_.max = std::clamp(slots, options_.min, options_.max);
  options_.initial = start_there ? options_.max : std::min(options_.initial, options_.max);
  reset();
}

}  // namespace batchwise
