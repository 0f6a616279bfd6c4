// Noise in tune's trials, on a machine others share: a trial that disagrees with its neighbours (a dip
// below both measured neighbours at the same lanes, or a spike far above both: a curve of throughput
// against sequences has one peak), or that ran while other processes used a different share of the
// CPU than during the other trials, is repeated; where the repeat disagrees with the first run, a third
// run decides: the median of the three is the measurement, the other two are named outliers and not
// used (they stay in the list with outcome kOutlier and why). Pure apart from the rerun callback.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tune/trial.h"

namespace batchwise {

inline constexpr double kDipTolerance = 0.15;     // below both neighbours by more: doubtful
inline constexpr double kSpikeTolerance = 0.40;   // above both by more: doubtful
inline constexpr double kLoadChangeCores = 0.5;   // other processes' CPU use differing by more: doubtful
inline constexpr double kRepeatAgreement = 0.10;  // a repeat within this of the first run confirms it

// Why trial `i` is doubtful ("" when it is not).
std::string doubt_about(const std::vector<Trial>& trials, size_t i);

// Repeats each doubtful trial with `rerun` (once, or twice where the first repeat disagrees), appends the
// repeats that disagreed, and names the outliers.
void repeat_doubtful_trials(std::vector<Trial>& trials, const std::function<Trial(const Trial&)>& rerun);

}  // namespace batchwise
