// What a set of trials says to run with: the highest measured throughput, or, under a latency SLO,
// the highest throughput among the trials whose measured latency meets it (goodput: throughput that
// counts only when it comes at an acceptable latency, as guidellm's goodput profile counts it); of
// settings within 2% of that (the noise of one measurement), the one with the fewest in flight. The
// Pareto set of throughput against p95 total latency and the knee (the smallest knob within 10% of the
// best throughput, as plan defines it) are for the table and the plot. Pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tune/trial.h"

namespace batchwise {

struct LatencySlo {
  std::optional<double> ttft_p95_ms;   // --slo-ttft-ms: p95 time to first token
  std::optional<double> total_p95_ms;  // --slo-p95-ms: p95 whole-request latency
  bool any() const { return ttft_p95_ms || total_p95_ms; }
  bool met_by(const Trial& t) const;
  std::string describe() const;        // "p95 first token <= 200 ms", or "" without an SLO
};

struct Choice {
  std::optional<size_t> chosen;        // index into the trials; nullopt: none feasible (or none meets the SLO)
  std::optional<size_t> fastest;       // the highest throughput regardless of the SLO
  std::optional<size_t> knee;
  std::vector<size_t> pareto;          // feasible trials no other beats on both throughput and p95, by knob
  std::string reason;                  // one line for the user: why this one (or why none)
};

Choice choose(const std::vector<Trial>& trials, const LatencySlo& slo);

}  // namespace batchwise
