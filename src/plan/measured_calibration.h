// Plan's speed model corrected by measurement: `tune` compares each trial's requests/s with what the
// performance model predicted for it and stores the ratio (median over trials) for this hardware under
// CACHE_DIR/tune/calibration-<hash of the hardware key>.json. `plan` on the same hardware (probed, not
// a catalogue --gpu) loads it and scales every predicted speed by it, and says so. A missing file is
// the normal "not calibrated" outcome (nullopt).
#pragma once

#include <optional>
#include <string>

#include "core/status.h"
#include "plan/perf_model.h"

namespace batchwise {

struct MeasuredCalibration {
  std::string hardware;       // hardware_key() it was measured on
  double speed_factor = 1.0;  // measured / predicted requests per second
  int trials = 0;             // trials the factor is the median of
  std::string measured_with;  // the model and workload of those trials, for the note
};

std::optional<MeasuredCalibration> load_measured_calibration(const std::string& hardware_key);
Status save_measured_calibration(const MeasuredCalibration& calibration);

// The calibration with every step time divided by `speed_factor`: efficiencies times it, the fixed
// per-step cost divided by it (a roofline step is max(bytes/bw, flops/peak) + overhead).
Calibration scale_speed(Calibration c, double speed_factor);

}  // namespace batchwise
