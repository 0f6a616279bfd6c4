// ConcurrencyLimiter: how many requests one endpoint may have outstanding at once. Additive increase,
// multiplicative decrease, driven by a latency gradient (in the spirit of Netflix's Gradient2):
// completions are averaged in windows of about `limit` samples (one round trip's worth); a window
// whose mean latency stays under tolerance x the baseline (+ a small absolute slack, so sub-millisecond
// jitter on a fast server is not read as queueing) adds one slot, a slower window takes 20% away.
// The baseline is the lowest window mean seen, allowed to drift up 2% per window so a server that
// became slower for good is eventually accepted as the new normal. Overload signals (429, timeouts)
// halve the limit, at most once per window. The limit never leaves [min, max].
//
// Not thread-safe: owned by the HTTP engine's event loop. No clock inside: callers pass latencies,
// so tests drive it directly.
#pragma once

namespace batchwise {

struct ConcurrencyOptions {
  int initial = 8;
  int min = 1;
  int max = 64;
  double tolerance = 2.0;      // window mean / baseline above this: queueing at the server
  double slack_ms = 5.0;       // absolute latency increase always tolerated
  double baseline_drift = 1.02;  // per window
};

class ConcurrencyLimiter {
 public:
  explicit ConcurrencyLimiter(ConcurrencyOptions options);

  int limit() const { return static_cast<int>(limit_); }
  double baseline_ms() const { return baseline_ms_; }

  // A successful request took `latency_ms`; `outstanding` requests were in flight when it ended.
  void on_success(double latency_ms, int outstanding);
  // 429 or a timeout: the endpoint is overloaded.
  void on_overload();
  // The endpoint came back after being down: start again from the initial limit.
  void reset();

 private:
  void close_window();

  ConcurrencyOptions options_;
  double limit_;
  double baseline_ms_ = 0;   // 0: not measured yet
  double window_sum_ms_ = 0;
  int window_n_ = 0;
  int window_max_outstanding_ = 0;
  bool decreased_in_window_ = false;
};

}  // namespace batchwise
