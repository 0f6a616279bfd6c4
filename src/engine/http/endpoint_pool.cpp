#include "engine/http/endpoint_pool.h"

#include <algorithm>
#include <limits>

namespace batchwise {
namespace {
constexpr size_t kMaxStickyKeys = 1 << 16;  // distinct prefixes remembered; then forgotten at once
}

EndpointPool::EndpointPool(std::vector<std::string> base_urls, PoolOptions options) : options_(options) {
  endpoints_.reserve(base_urls.size());
  for (auto& url : base_urls) endpoints_.emplace_back(std::move(url), options.concurrency);
}

std::vector<EndpointView> EndpointPool::views() const {
  std::vector<EndpointView> out;
  for (const auto& e : endpoints_) out.push_back(e.view);
  return out;
}

bool EndpointPool::has_room(const Endpoint& e, double now_s) const {
  return e.view.up && !e.view.stalled && now_s >= e.paused_until_s && e.view.outstanding < e.limiter.limit();
}

double EndpointPool::weight(const Endpoint& e) const {
  // Relative measured throughput; endpoints not measured yet count as average.
  double sum = 0;
  int n = 0;
  for (const auto& o : endpoints_) {
    if (o.view.throughput_rps > 0) {
      sum += o.view.throughput_rps;
      n++;
    }
  }
  if (n == 0 || e.view.throughput_rps <= 0) return 1.0;
  return std::max(0.05, e.view.throughput_rps / (sum / n));
}

std::optional<size_t> EndpointPool::choose(uint64_t prefix_key, double now_s) {
  std::optional<size_t> sticky;
  if (prefix_key != 0) {
    if (auto it = sticky_.find(prefix_key); it != sticky_.end()) {
      if (has_room(endpoints_[it->second], now_s)) return it->second;
      if (endpoints_[it->second].view.up) sticky = it->second;  // full or paused: overflow, keep the binding
    }
  }
  std::optional<size_t> best;
  double best_score = std::numeric_limits<double>::max();
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const Endpoint& e = endpoints_[i];
    if (!has_room(e, now_s)) continue;
    const double score = (e.view.outstanding + 1) / weight(e);
    if (score < best_score) {
      best_score = score;
      best = i;
    }
  }
  if (best && prefix_key != 0 && !sticky) {
    if (sticky_.size() >= kMaxStickyKeys) sticky_.clear();
    sticky_[prefix_key] = *best;
  }
  return best;
}

void EndpointPool::on_dispatch(size_t i, double now_s) {
  Endpoint& e = endpoints_[i];
  if (e.owed_since_s == 0) e.owed_since_s = now_s;
  EndpointView& v = e.view;
  v.outstanding++;
  v.dispatched++;
  v.max_outstanding = std::max(v.max_outstanding, v.outstanding);
}

void EndpointPool::mark_down(Endpoint& e, double now_s) {
  if (!e.view.up) return;
  e.view.up = false;
  e.view.times_down++;
  e.backoff_s = options_.health_backoff_min_s;
  e.next_health_s = now_s + e.backoff_s;
}

void EndpointPool::on_finish(size_t i, EndpointOutcome outcome, double latency_ms, double now_s,
                             double retry_after_s) {
  Endpoint& e = endpoints_[i];
  const int outstanding_before = e.view.outstanding;
  e.view.outstanding = std::max(0, e.view.outstanding - 1);
  // Any answer (a refused connection too: then the endpoint is down, which health checks handle) is
  // progress; only a request that timed out leaves the endpoint owing.
  if (outcome != EndpointOutcome::kTimeout) e.owed_since_s = e.view.outstanding > 0 ? now_s : 0;
  switch (outcome) {
    case EndpointOutcome::kOk:
    case EndpointOutcome::kClientError:
      e.view.ok += outcome == EndpointOutcome::kOk;
      e.view.failed += outcome != EndpointOutcome::kOk;
      e.consecutive_server_errors = 0;
      e.consecutive_connection_failures = 0;
      if (outcome == EndpointOutcome::kOk) e.limiter.on_success(latency_ms, outstanding_before, now_s);
      if (now_s - e.bucket_start_s >= 1.0) {
        const double rps = static_cast<double>(e.bucket_count) / std::max(1.0, now_s - e.bucket_start_s);
        if (e.bucket_start_s > 0) {
          e.view.throughput_rps = e.view.throughput_rps <= 0 ? rps : 0.7 * e.view.throughput_rps + 0.3 * rps;
        }
        e.bucket_start_s = now_s;
        e.bucket_count = 0;
      }
      e.bucket_count++;
      break;
    case EndpointOutcome::kRateLimited: {
      e.view.failed++;
      const double pause = retry_after_s > 0 ? std::min(retry_after_s, options_.max_pause_s) : options_.default_pause_s;
      e.paused_until_s = std::max(e.paused_until_s, now_s + pause);
      e.limiter.on_overload();
      break;
    }
    case EndpointOutcome::kTimeout:  // an answer that never came counts as a server error too
      e.view.failed++;
      e.limiter.on_overload();
      if (++e.consecutive_server_errors >= options_.server_errors_to_down) mark_down(e, now_s);
      break;
    case EndpointOutcome::kServerError:
      e.view.failed++;
      if (++e.consecutive_server_errors >= options_.server_errors_to_down) mark_down(e, now_s);
      break;
    case EndpointOutcome::kConnectionFailed:
      e.view.failed++;
      if (++e.consecutive_connection_failures >= options_.connection_failures_to_down) mark_down(e, now_s);
      break;
  }
  e.view.limit = e.limiter.limit();
  e.view.baseline_ms = e.limiter.baseline_ms();
}

std::vector<size_t> EndpointPool::due_health_checks(double now_s) {
  std::vector<size_t> due;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    Endpoint& e = endpoints_[i];
    if (!e.view.up && !e.view.stalled && !e.health_in_flight && now_s >= e.next_health_s) {
      e.health_in_flight = true;
      due.push_back(i);
    }
  }
  return due;
}

void EndpointPool::on_health(size_t i, bool ok, double now_s) {
  Endpoint& e = endpoints_[i];
  e.health_in_flight = false;
  if (ok) {
    e.view.up = true;
    e.consecutive_server_errors = 0;
    e.consecutive_connection_failures = 0;
    e.limiter.reset();
    e.view.limit = e.limiter.limit();
    return;
  }
  e.backoff_s = std::min(options_.health_backoff_max_s, std::max(options_.health_backoff_min_s, e.backoff_s * 2));
  e.next_health_s = now_s + e.backoff_s;
}

void EndpointPool::set_down(size_t i, double now_s) { mark_down(endpoints_[i], now_s); }

void EndpointPool::set_server_slots(size_t i, int slots, bool start_there) {
  if (slots <= 0) return;
  Endpoint& e = endpoints_[i];
  e.view.server_slots = slots;
  e.limiter.cap_at(slots, start_there);
  e.view.limit = e.limiter.limit();
}

std::vector<size_t> EndpointPool::newly_stalled(double now_s, double limit_s) {
  std::vector<size_t> out;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    Endpoint& e = endpoints_[i];
    if (e.view.stalled || !e.view.up || e.view.outstanding == 0 || e.owed_since_s == 0 ||
        now_s - e.owed_since_s <= limit_s) {
      continue;
    }
    e.view.stalled = true;
    out.push_back(i);
  }
  return out;
}

void EndpointPool::unstall(size_t i) { endpoints_[i].view.stalled = false; }

double EndpointPool::owed_for_s(size_t i, double now_s) const {
  const Endpoint& e = endpoints_[i];
  return e.owed_since_s > 0 ? now_s - e.owed_since_s : 0;
}

bool EndpointPool::all_stalled() const {
  return std::all_of(endpoints_.begin(), endpoints_.end(), [](const Endpoint& e) { return e.view.stalled; });
}

bool EndpointPool::any_up() const {
  return std::any_of(endpoints_.begin(), endpoints_.end(), [](const Endpoint& e) { return e.view.up && !e.view.stalled; });
}

double EndpointPool::next_wakeup_s(double now_s) const {
  double next = std::numeric_limits<double>::max();
  for (const auto& e : endpoints_) {
    if (e.view.stalled) continue;
    if (e.view.up && e.paused_until_s > now_s) next = std::min(next, e.paused_until_s);
    if (!e.view.up && !e.health_in_flight) next = std::min(next, std::max(now_s, e.next_health_s));
  }
  return next;
}

}  // namespace batchwise
