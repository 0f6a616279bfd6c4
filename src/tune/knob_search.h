// search_knob: finds the setting of one integer knob (parallel sequences, requests in flight, batch
// size) with the highest measured throughput in few trials, without running a setting whose memory
// would not fit. Seed 001's Dynamic Batch Optimizer, in three phases:
//   1. the knob at 1 (the baseline every speedup is over), then `start` (plan's recommendation);
//   2. exponential: double while a doubling gains more than `min_gain` and fits;
//   3. bisection: the best lies between its measured neighbours; halve the wider side of that bracket
//      (keeping whichever point is better) until both sides are within a quarter of the best knob. A
//      start that overshot the peak is walked back the same way.
// Memory: MemoryPredictor fits bytes = fixed + per_unit x knob to the trials measured so far; a setting
// whose prediction + `memory_margin` exceeds the limit is recorded as kPredictedTooBig and not run, and
// no setting above one that ran out of memory is run. The measure function runs the trial (in a child
// process: a trial that dies cannot take the tuner with it). Single-threaded; calls measure in order.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "tune/trial.h"

namespace batchwise {

class MemoryPredictor {
 public:
  // Bytes one more unit of the knob costs before two trials tell (plan's estimate); unset: memory is
  // assumed proportional to the knob (the conservative rule of seed 001).
  explicit MemoryPredictor(std::optional<double> prior_bytes_per_unit = std::nullopt);
  void add(int64_t knob, int64_t bytes);
  // nullopt until one trial's memory is known.
  std::optional<int64_t> predict(int64_t knob) const;
  // Slope of the fit, bytes per unit of the knob (nullopt with fewer than two distinct knobs).
  std::optional<double> bytes_per_unit() const;

 private:
  std::optional<double> prior_;
  std::vector<std::pair<double, double>> points_;
};

struct SearchOptions {
  int64_t start = 1;                 // plan's recommendation; clamped to [min_knob, max_knob]
  int64_t min_knob = 1;
  int64_t max_knob = 256;
  double min_gain = 0.03;            // a doubling that gains no more than this ends the exponential phase
  std::optional<int64_t> memory_limit_bytes;
  double memory_margin = 0.10;       // predicted memory is multiplied by 1 + this before the limit check
  std::optional<double> prior_bytes_per_unit;
  int max_trials = 24;               // trials run (skipped ones not counted)
};

using MeasureFn = std::function<Trial(int64_t knob)>;

struct SearchResult {
  std::vector<Trial> trials;         // in the order run or skipped; speedup filled in
  int trials_run = 0;
  std::optional<size_t> best;        // index of the highest feasible throughput
};

SearchResult search_knob(const SearchOptions& options, const MeasureFn& measure);

// Fills each trial's speedup over the knob-1 trial of the same lanes count (when there is one).
void fill_speedups(std::vector<Trial>& trials);

}  // namespace batchwise
