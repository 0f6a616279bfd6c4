#include "tune/choice.h"

#include <algorithm>
#include <cstdio>

namespace batchwise {
namespace {
// Throughput differences below this are noise: repeated trials of one setting differ by about 1-2%.
constexpr double kThroughputNoise = 0.02;
}  // namespace

bool LatencySlo::met_by(const Trial& t) const {
  if (ttft_p95_ms && t.ttft.p95_ms > *ttft_p95_ms) return false;
  if (total_p95_ms && t.total.p95_ms > *total_p95_ms) return false;
  return true;
}

std::string LatencySlo::describe() const {
  std::string out;
  char buf[96];
  if (ttft_p95_ms) {
    std::snprintf(buf, sizeof buf, "p95 first token <= %.0f ms", *ttft_p95_ms);
    out += buf;
  }
  if (total_p95_ms) {
    std::snprintf(buf, sizeof buf, "%sp95 latency <= %.0f ms", out.empty() ? "" : ", ", *total_p95_ms);
    out += buf;
  }
  return out;
}

Choice choose(const std::vector<Trial>& trials, const LatencySlo& slo) {
  Choice c;
  std::vector<size_t> feasible;
  for (size_t i = 0; i < trials.size(); ++i) {
    if (trials[i].feasible()) feasible.push_back(i);
  }
  std::sort(feasible.begin(), feasible.end(), [&](size_t a, size_t b) {
    return trials[a].knob != trials[b].knob ? trials[a].knob < trials[b].knob : trials[a].lanes < trials[b].lanes;
  });
  for (size_t i : feasible) {
    if (!c.fastest || trials[i].items_per_s > trials[*c.fastest].items_per_s) c.fastest = i;
    if (slo.met_by(trials[i]) && (!c.chosen || trials[i].items_per_s > trials[*c.chosen].items_per_s)) c.chosen = i;
  }
  if (!c.fastest) {
    c.reason = "no setting ran to the end: see each trial's outcome";
    return c;
  }
  // A bigger setting whose gain is within the noise of a measurement bought nothing but latency (issue
  // 26: 128 in flight chosen over 64 for +0.4% throughput at +33% p95): the smallest one that comes that
  // close to the best is taken instead.
  bool smaller_within_noise = false;
  if (c.chosen) {
    const double best = trials[*c.chosen].items_per_s;
    const auto in_flight = [&](size_t i) { return trials[i].knob * trials[i].lanes; };
    for (size_t i : feasible) {
      if (!slo.met_by(trials[i]) || trials[i].items_per_s < (1 - kThroughputNoise) * best) continue;
      if (in_flight(i) < in_flight(*c.chosen)) {
        c.chosen = i;
        smaller_within_noise = true;
      }
    }
  }
  for (size_t i : feasible) {
    if (trials[i].items_per_s >= 0.9 * trials[*c.fastest].items_per_s) {
      c.knee = i;
      break;
    }
  }
  for (size_t i : feasible) {
    bool dominated = false;
    for (size_t j : feasible) {
      const bool no_worse = trials[j].items_per_s >= trials[i].items_per_s && trials[j].total.p95_ms <= trials[i].total.p95_ms;
      const bool better = trials[j].items_per_s > trials[i].items_per_s || trials[j].total.p95_ms < trials[i].total.p95_ms;
      if (j != i && no_worse && better) dominated = true;
    }
    if (!dominated) c.pareto.push_back(i);
  }
  const std::string best = smaller_within_noise ? "the smallest setting within 2% of the highest measured throughput"
                                                 : "the highest measured throughput";
  if (!slo.any()) {
    c.reason = best;
  } else if (c.chosen) {
    c.reason = best + " with " + slo.describe();
  } else {
    c.reason = "no setting met " + slo.describe() + ": loosen the SLO or give the work more hardware";
  }
  return c;
}

}  // namespace batchwise
