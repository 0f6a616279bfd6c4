// Plan's speed model corrected by measurement: `tune` compares each trial's requests/s with what the
// performance model predicted for it, and its median ratio is one sample for this hardware. Samples
// are merged, never replaced by one run: the stored factor is the median of the last kMaxSamples
// tunes' factors, with their spread; a tune whose factor is more than 2x off what was known (a trial
// on a machine someone else was loading) is kept as an outlier, named and not used, until two
// outliers agree with each other (then the machine itself changed, and they become the samples).
// Stored under CACHE_DIR/tune/calibration-<hash of the hardware key>-m<kPerfModelVersion>.json (a factor measured
// against another version of the model's shape does not carry over). `plan` on the same hardware
// (probed, not a catalogue --gpu) loads it and scales every predicted speed by it, and says so. A
// missing file is the normal "not calibrated" outcome (nullopt).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "plan/perf_model.h"

namespace batchwise {

inline constexpr size_t kMaxCalibrationSamples = 8;
inline constexpr double kCalibrationOutlierRatio = 2.0;

struct CalibrationSample {
  double speed_factor = 1.0;  // one tune's median measured / predicted requests per second
  int trials = 0;
  std::string measured_with;  // the model and workload of those trials
};

struct MeasuredCalibration {
  std::string hardware;       // hardware_key() it was measured on
  double speed_factor = 1.0;  // the median of the samples' factors
  int trials = 0;             // trials over those samples
  double spread = 0;          // (largest - smallest) / median of the samples' factors
  std::string measured_with;  // the newest sample's
  std::vector<CalibrationSample> samples;   // used, oldest first
  std::vector<CalibrationSample> outliers;  // named and not used, oldest first
};

struct CalibrationMerge {
  MeasuredCalibration merged;
  bool outlier = false;       // the new sample was not used
  std::string note;           // for the user: what happened to it
};

// `known` (nullopt: none yet) with one more tune's sample.
CalibrationMerge merge_calibration(const std::optional<MeasuredCalibration>& known, const std::string& hardware,
                                   const CalibrationSample& sample);

std::optional<MeasuredCalibration> load_measured_calibration(const std::string& hardware_key);
Status save_measured_calibration(const MeasuredCalibration& calibration);

// The calibration with every step time divided by `speed_factor`: efficiencies times it, the fixed
// costs divided by it (a step is max(bytes/bw, flops/peak) plus host costs).
Calibration scale_speed(Calibration c, double speed_factor);

}  // namespace batchwise
