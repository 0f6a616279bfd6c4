// ObservedTimeout: how long the HTTP engine waits for one answer, from the answers it has seen. A
// server that keeps its sockets open and never answers would otherwise hold each request for the
// whole --request-timeout (600 s by default) before anyone notices. Once `min_answers` answers have
// come, a request waits `p99_multiple` times the p99 of the last `window` answers' latencies, never
// less than `floor_s` and never more than the fixed limit. Not thread-safe: the event loop owns it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace batchwise {

struct ObservedTimeoutOptions {
  double fixed_limit_s = 600;  // --request-timeout: the cap, and the limit until enough answers came
  double p99_multiple = 4;     // 0: the fixed limit only
  double floor_s = 30;
  size_t min_answers = 32;
  size_t window = 1024;
};

class ObservedTimeout {
 public:
  explicit ObservedTimeout(ObservedTimeoutOptions options);

  void on_answer(double latency_s);
  double limit_s() const { return limit_s_; }
  // Whether limit_s() comes from observed answers (for the timeout's message).
  bool observed() const { return observed_; }
  double p99_s() const { return p99_s_; }

  // For the user: "no complete answer within 120 s (4 x the p99 …)" for a request that waited `limit_s`.
  std::string describe_timeout(double limit_s) const;
  // The limit past which an endpoint with nothing answered counts as stalled, and where it comes from.
  std::string describe_stall_limit() const;

 private:
  void recompute();

  ObservedTimeoutOptions o_;
  std::vector<double> latencies_;  // ring of the last `window`
  size_t next_ = 0;
  size_t since_recompute_ = 0;
  double limit_s_;
  double p99_s_ = 0;
  bool observed_ = false;
};

}  // namespace batchwise
