// ConcurrencyLimiter: how many requests one endpoint may have outstanding at once. The limit should sit
// at the server's knee: as many requests as it serves at once, not more (more only wait in its queue,
// adding latency and no throughput), not fewer (throughput left unused).
//
// Completions are taken in windows of max(min_window, limit) answers; each gives a mean latency and a
// rate (answers per second). Against the lowest window mean of the last `history` windows:
//   - a window under grow_tolerance x that (+ slack_ms, so sub-millisecond jitter on a fast server is
//     not read as queueing) adds one slot, if the limit was reached;
//   - a window over tolerance x that takes 20 % away (clear queueing), unless the cut before cost
//     throughput (the rate fell by more than probe_noise and the latency did not): then the limit is below the knee and the
//     server became slower for everyone, so that cut is undone and this latency is the new norm.
// Latency alone cannot see a server that was already queueing when it was first measured (start at 8
// against a server that serves 4: every window is equally slow). So every `probe_every` windows, while
// the endpoint is full, the limit drops to probe_fraction of itself for a window (after one window that
// lets the queue drain). Below the server's knee each slot serves rate / limit, so the knee is about
// probe limit x full rate / probe rate (Little's law; the probe itself when the rate stayed within
// probe_noise): the limit goes to 1.25 x the knee, never above where it was, and does not grow past that
// until a probe finds every slot in use (a server that became faster shows it there). A probe that found every
// slot in use makes the next come twice as late (up to 64 windows): a server that uses its slots pays
// little for being checked.
// Overload signals (429, timeouts) halve the limit, at most once per window. The limit never leaves
// [min, max].
//
// Not thread-safe: owned by the HTTP engine's event loop. No clock inside: callers pass the time, so
// tests drive it directly.
#pragma once

#include <deque>

namespace batchwise {

struct ConcurrencyOptions {
  int initial = 8;
  int min = 1;
  int max = 64;
  double tolerance = 2.0;        // window mean / recent lowest above this: -20 %
  double grow_tolerance = 1.25;  // at most this (+ slack): +1
  double slack_ms = 5.0;         // absolute latency increase always tolerated
  int min_window = 16;           // answers per window at least (fewer make a noisy rate)
  int history = 16;              // windows the lowest mean is taken over
  int probe_every = 8;           // windows between probes at first
  double probe_fraction = 0.5;
  double probe_noise = 0.15;
};

class ConcurrencyLimiter {
 public:
  explicit ConcurrencyLimiter(ConcurrencyOptions options);

  int limit() const { return static_cast<int>(limit_); }
  double baseline_ms() const { return lowest_ms(); }

  // A successful request took `latency_ms`; `outstanding` requests were in flight when it ended, at
  // `now_s` (monotonic seconds).
  void on_success(double latency_ms, int outstanding, double now_s);
  // 429 or a timeout: the endpoint is overloaded.
  void on_overload();
  // The endpoint came back after being down: start again from the initial limit.
  void reset();
  // The server says it runs `slots` requests at once: never go above it, and start there when
  // `start_there` (else at the initial limit, if lower).
  void cap_at(int slots, bool start_there);

 private:
  enum class Phase { kNormal, kProbeDrain, kProbeMeasure, kSettle };
  void close_window(double now_s);
  void clear_window(double now_s);
  double lowest_ms() const;

  ConcurrencyOptions options_;
  double limit_;
  Phase phase_ = Phase::kNormal;
  std::deque<double> recent_ms_;  // the last `history` window means
  double window_sum_ms_ = 0;
  int window_n_ = 0;
  int window_rate_n_ = 0;         // answers after window_start_s_ (the rate's numerator)
  double window_start_s_ = -1;    // -1: not started (the first answer starts it)
  int window_max_outstanding_ = 0;
  bool decreased_in_window_ = false;
  int windows_since_probe_ = 0;
  int probe_interval_ = 0;
  double probe_from_ = 0;         // the limit before the probe
  double reference_rps_ = 0;      // the rate at that limit
  double ceiling_ = 0;            // growth stops here (the last probe found the slots above idle)
  bool cut_last_window_ = false;  // the last normal window cut the limit for its latency
  bool jumped_last_window_ = false;  // its mean was over 2x (or under half) the one before
  double limit_before_cut_ = 0;
  double last_rps_ = 0;           // the last normal window's rate and mean latency
  double last_mean_ms_ = 0;
};

}  // namespace batchwise
