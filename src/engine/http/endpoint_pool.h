// EndpointPool: which OpenAI-compatible endpoint gets the next request. Least outstanding requests,
// weighted by each endpoint's measured throughput; requests sharing a prompt prefix (same
// prefix_key) stick to one endpoint while it has room, so that server's prefix cache hits; each
// endpoint's room is its ConcurrencyLimiter's limit. An endpoint that refuses connections (or
// answers 5xx several times in a row) is taken out and health-checked with exponential backoff;
// 429 pauses an endpoint for its Retry-After. An endpoint that keeps requests but answers none of
// them for a stated time is *stalled* (stalled()): it is taken out for the rest of the run, since its
// /health may still answer (llama-server's did while it processed nothing).
//
// Not thread-safe: owned by the HTTP engine's event loop. No clock inside: every call that needs
// the time takes `now_s` (monotonic seconds), so tests drive it directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/http/concurrency_limiter.h"

namespace batchwise {

struct PoolOptions {
  ConcurrencyOptions concurrency;
  int server_errors_to_down = 5;       // consecutive 5xx that take an endpoint out
  int connection_failures_to_down = 2; // consecutive refused/reset/dropped connections that do
  double health_backoff_min_s = 0.2;   // first health check after an endpoint went down
  double health_backoff_max_s = 10.0;
  double default_pause_s = 1.0;        // 429 without a usable Retry-After
  double max_pause_s = 120.0;
};

// How one request on an endpoint ended, as far as the pool cares.
enum class EndpointOutcome {
  kOk,
  kClientError,       // 4xx other than 429: the request's fault, not the endpoint's
  kRateLimited,       // 429
  kServerError,       // 5xx
  kTimeout,
  kConnectionFailed,  // refused, reset, closed without an answer
};

struct EndpointView {
  std::string base_url;  // "http://host:port" (no trailing /v1)
  bool up = true;
  int limit = 0;
  int outstanding = 0;
  int max_outstanding = 0;
  int64_t dispatched = 0;
  int64_t ok = 0;
  int64_t failed = 0;
  int64_t times_down = 0;
  double throughput_rps = 0;  // measured, smoothed
  double baseline_ms = 0;
  int server_slots = 0;       // what the server said it can run at once (llama-server's /props); 0: unknown
  bool stalled = false;       // took requests and answered none for the stall limit: out for this run
};

class EndpointPool {
 public:
  EndpointPool(std::vector<std::string> base_urls, PoolOptions options);

  size_t size() const { return endpoints_.size(); }
  const EndpointView& view(size_t i) const { return endpoints_[i].view; }
  std::vector<EndpointView> views() const;

  // The endpoint for a request whose prompt starts like `prefix_key` (0: no preference), or
  // nullopt when no endpoint is up, unpaused and under its limit.
  std::optional<size_t> choose(uint64_t prefix_key, double now_s);
  void on_dispatch(size_t i, double now_s);
  // A request dispatched to `i` ended. `retry_after_s` is the server's hint for 429 (0: none).
  void on_finish(size_t i, EndpointOutcome outcome, double latency_ms, double now_s, double retry_after_s = 0);

  // Down endpoints whose next health check is due; each is returned once per check.
  std::vector<size_t> due_health_checks(double now_s);
  void on_health(size_t i, bool ok, double now_s);

  // Takes an endpoint out (it failed its first health check): requests avoid it until a check passes.
  void set_down(size_t i, double now_s);

  // The server runs `slots` requests at once (llama-server's /props `total_slots`): its limit never
  // goes above it (more would only wait in the server's queue), and starts there when `start_there`.
  void set_server_slots(size_t i, int slots, bool start_there);

  // Endpoints, not stalled yet, that have owed an answer for longer than `limit_s`: requests are in
  // flight and no HTTP answer came back since the last one (timeouts do not count as answers; a refused connection does,
  // since the endpoint is then down, not stalled). Each is marked stalled and returned once.
  std::vector<size_t> newly_stalled(double now_s, double limit_s);
  // A stalled endpoint answered after all: it is used again.
  void unstall(size_t i);
  // Seconds since endpoint `i` last answered while it owed answers; 0 when it owes none.
  double owed_for_s(size_t i, double now_s) const;
  bool all_stalled() const;

  bool any_up() const;
  // The earliest time after now when a pause ends or a health check is due (max double: none).
  double next_wakeup_s(double now_s) const;

 private:
  struct Endpoint {
    Endpoint(std::string base_url, const ConcurrencyOptions& concurrency) : limiter(concurrency) {
      view.base_url = std::move(base_url);
      view.limit = limiter.limit();
    }
    EndpointView view;
    ConcurrencyLimiter limiter;
    double paused_until_s = 0;
    int consecutive_server_errors = 0;
    int consecutive_connection_failures = 0;
    double backoff_s = 0;
    double next_health_s = 0;
    bool health_in_flight = false;
    // Throughput: completions counted per second, smoothed.
    double bucket_start_s = 0;
    int64_t bucket_count = 0;
    // Since when the endpoint has owed an answer without giving any (0: it owes none).
    double owed_since_s = 0;
  };
  bool has_room(const Endpoint& e, double now_s) const;
  double weight(const Endpoint& e) const;
  void mark_down(Endpoint& e, double now_s);

  PoolOptions options_;
  std::vector<Endpoint> endpoints_;
  std::unordered_map<uint64_t, size_t> sticky_;  // prefix_key -> endpoint
};

}  // namespace batchwise
