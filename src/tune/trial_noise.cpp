#include "tune/trial_noise.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>

namespace batchwise {
namespace {

std::string rate(double v) {
  char s[32];
  std::snprintf(s, sizeof s, "%.3g", v);
  return s;
}

// The measured trials at the same lanes just below and above trial i's knob.
std::pair<std::optional<size_t>, std::optional<size_t>> neighbours(const std::vector<Trial>& trials, size_t i) {
  std::optional<size_t> below, above;
  const Trial& t = trials[i];
  for (size_t j = 0; j < trials.size(); ++j) {
    const Trial& n = trials[j];
    if (j == i || !n.feasible() || n.lanes != t.lanes || n.knob == t.knob) continue;
    if (n.knob < t.knob && (!below || n.knob > trials[*below].knob)) below = j;
    if (n.knob > t.knob && (!above || n.knob < trials[*above].knob)) above = j;
  }
  return {below, above};
}

// Other processes' CPU use over the trials that know it, the median.
std::optional<double> usual_load(const std::vector<Trial>& trials) {
  std::vector<double> v;
  for (const auto& t : trials) {
    if (t.feasible() && t.others_cpu_cores >= 0) v.push_back(t.others_cpu_cores);
  }
  if (v.size() < 3) return std::nullopt;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

std::string doubt_about(const std::vector<Trial>& trials, size_t i) {
  const Trial& t = trials[i];
  if (!t.feasible()) return "";
  const auto [below, above] = neighbours(trials, i);
  if (below && above) {
    const double lo = std::min(trials[*below].items_per_s, trials[*above].items_per_s);
    const double hi = std::max(trials[*below].items_per_s, trials[*above].items_per_s);
    if (t.items_per_s < lo * (1.0 - kDipTolerance)) {
      return rate(t.items_per_s) + " items/s, below both neighbours (" + rate(trials[*below].items_per_s) + " at " +
             std::to_string(trials[*below].knob) + ", " + rate(trials[*above].items_per_s) + " at " +
             std::to_string(trials[*above].knob) + ")";
    }
    if (t.items_per_s > hi * (1.0 + kSpikeTolerance)) {
      return rate(t.items_per_s) + " items/s, far above both neighbours (" + rate(trials[*below].items_per_s) + ", " +
             rate(trials[*above].items_per_s) + ")";
    }
  }
  if (const auto usual = usual_load(trials); usual && t.others_cpu_cores >= 0 &&
                                             std::fabs(t.others_cpu_cores - *usual) > kLoadChangeCores) {
    char s[160];
    std::snprintf(s, sizeof s, "other processes used %.1f CPU cores during it, %.1f during the others", t.others_cpu_cores, *usual);
    return s;
  }
  return "";
}

void repeat_doubtful_trials(std::vector<Trial>& trials, const std::function<Trial(const Trial&)>& rerun) {
  const size_t n = trials.size();
  for (size_t i = 0; i < n; ++i) {
    const std::string doubt = doubt_about(trials, i);
    if (doubt.empty()) continue;
    auto again = [&] {
      Trial t = rerun(trials[i]);
      t.knob = trials[i].knob;
      t.lanes = trials[i].lanes;
      return t;
    };
    Trial second = again();
    if (!second.feasible()) continue;
    const double first = trials[i].items_per_s;
    if (std::fabs(second.items_per_s - first) <= kRepeatAgreement * first) continue;  // confirmed: it is the curve
    // Two runs that disagree: a third decides, and the median of the three is the measurement.
    Trial third = again();
    std::vector<size_t> runs = {i};
    trials.push_back(std::move(second));
    runs.push_back(trials.size() - 1);
    if (third.feasible()) {
      trials.push_back(std::move(third));
      runs.push_back(trials.size() - 1);
    }
    std::sort(runs.begin(), runs.end(), [&](size_t a, size_t b) { return trials[a].items_per_s < trials[b].items_per_s; });
    // Three runs: the median. Two (the third failed): the repeat, since the first was doubtful.
    const size_t kept = runs.size() == 3 ? runs[1] : trials.size() - 1;
    std::string rates;
    for (size_t k = 0; k < runs.size(); ++k) rates += (k ? ", " : "") + rate(trials[runs[k]].items_per_s);
    for (size_t r : runs) {
      if (r == kept) continue;
      trials[r].outcome = TrialOutcome::kOutlier;
      trials[r].why = "outlier, not used: " + rate(trials[r].items_per_s) + " items/s" + (r == i ? " (" + doubt + ")" : "") +
                      "; its runs gave " + rates + " and the middle one is kept";
    }
  }
}

}  // namespace batchwise
