#include "plan/measured_calibration.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/files.h"

namespace batchwise {
namespace {

Expected<std::filesystem::path> calibration_path(const std::string& hardware_key) {
  BW_ASSIGN_OR_RETURN(std::filesystem::path dir, cache_dir());
  dir /= "tune";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::kIo, dir.string() + ": " + ec.message());
  return dir / ("calibration-" + hex64(fnv1a64(hardware_key)) + "-m" + std::to_string(kPerfModelVersion) + ".json");
}

double median_factor(const std::vector<CalibrationSample>& s) {
  std::vector<double> f;
  for (const auto& x : s) f.push_back(x.speed_factor);
  std::sort(f.begin(), f.end());
  if (f.empty()) return 1.0;
  return f.size() % 2 ? f[f.size() / 2] : 0.5 * (f[f.size() / 2 - 1] + f[f.size() / 2]);
}

void summarize(MeasuredCalibration& c) {
  c.speed_factor = median_factor(c.samples);
  c.trials = 0;
  double lo = c.speed_factor, hi = c.speed_factor;
  for (const auto& s : c.samples) {
    c.trials += s.trials;
    lo = std::min(lo, s.speed_factor);
    hi = std::max(hi, s.speed_factor);
  }
  c.spread = c.speed_factor > 0 ? (hi - lo) / c.speed_factor : 0.0;
  if (!c.samples.empty()) c.measured_with = c.samples.back().measured_with;
}

bool far_apart(double a, double b) {
  return a <= 0 || b <= 0 || a / b > kCalibrationOutlierRatio || b / a > kCalibrationOutlierRatio;
}

std::string fmt(double v) {
  char s[32];
  std::snprintf(s, sizeof s, "%.3g", v);
  return s;
}

nlohmann::json samples_json(const std::vector<CalibrationSample>& v) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : v) out.push_back({{"speed_factor", s.speed_factor}, {"trials", s.trials}, {"measured_with", s.measured_with}});
  return out;
}

std::vector<CalibrationSample> samples_from(const nlohmann::json& j, const char* key) {
  std::vector<CalibrationSample> out;
  if (!j.contains(key) || !j[key].is_array()) return out;
  for (const auto& s : j[key]) {
    if (!s.is_object() || !s.contains("speed_factor") || !s["speed_factor"].is_number()) continue;
    CalibrationSample c;
    c.speed_factor = s["speed_factor"].get<double>();
    if (!(c.speed_factor > 0)) continue;
    if (s.contains("trials") && s["trials"].is_number_integer()) c.trials = s["trials"].get<int>();
    if (s.contains("measured_with") && s["measured_with"].is_string()) c.measured_with = s["measured_with"].get<std::string>();
    out.push_back(c);
  }
  return out;
}

}  // namespace

CalibrationMerge merge_calibration(const std::optional<MeasuredCalibration>& known, const std::string& hardware,
                                   const CalibrationSample& sample) {
  CalibrationMerge m;
  m.merged = known.value_or(MeasuredCalibration{});
  m.merged.hardware = hardware;
  MeasuredCalibration& c = m.merged;
  if (c.samples.empty() || !far_apart(sample.speed_factor, c.speed_factor)) {
    c.samples.push_back(sample);
    if (c.samples.size() > kMaxCalibrationSamples) c.samples.erase(c.samples.begin());
    const double before = c.speed_factor;
    const bool first = !known || known->samples.empty();
    summarize(c);
    m.note = first ? "plan's speed calibration for this hardware: x " + fmt(c.speed_factor)
                   : "plan's speed calibration: this tune's x " + fmt(sample.speed_factor) + " merged with " +
                         std::to_string(c.samples.size() - 1) + " earlier: x " + fmt(before) + " -> x " + fmt(c.speed_factor) +
                         " (spread " + fmt(100 * c.spread) + "%)";
    return m;
  }
  // Far from what was known: an outlier, unless an earlier outlier agrees with it (the machine changed).
  const bool confirmed = !c.outliers.empty() && !far_apart(sample.speed_factor, c.outliers.back().speed_factor) &&
                         std::fabs(sample.speed_factor / c.outliers.back().speed_factor - 1.0) <= 0.25;
  if (confirmed) {
    const double before = c.speed_factor;
    c.samples = {c.outliers.back(), sample};
    c.outliers.clear();
    summarize(c);
    m.note = "plan's speed calibration: two tunes in a row measured x " + fmt(sample.speed_factor) + " against the x " +
             fmt(before) + " known: the machine changed, the calibration is now x " + fmt(c.speed_factor);
    return m;
  }
  c.outliers.push_back(sample);
  if (c.outliers.size() > kMaxCalibrationSamples) c.outliers.erase(c.outliers.begin());
  m.outlier = true;
  m.note = "plan's speed calibration kept at x " + fmt(c.speed_factor) + ": this tune measured x " + fmt(sample.speed_factor) +
           ", more than " + fmt(kCalibrationOutlierRatio) + "x off the " + std::to_string(c.samples.size()) +
           " tunes before (was the machine busy?); named an outlier and not used (a second tune that agrees with it replaces "
           "the calibration)";
  return m;
}

std::optional<MeasuredCalibration> load_measured_calibration(const std::string& hardware_key) {
  auto path = calibration_path(hardware_key);
  if (!path) return std::nullopt;
  auto text = read_file(*path);
  if (!text) return std::nullopt;
  const auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("hardware") || j["hardware"] != hardware_key) return std::nullopt;
  MeasuredCalibration c;
  c.hardware = hardware_key;
  c.samples = samples_from(j, "samples");
  c.outliers = samples_from(j, "outliers");
  if (c.samples.empty() && j.contains("speed_factor") && j["speed_factor"].is_number()) {
    // A file from before samples were kept: its factor is one sample.
    CalibrationSample s;
    s.speed_factor = j["speed_factor"].get<double>();
    if (j.contains("trials") && j["trials"].is_number_integer()) s.trials = j["trials"].get<int>();
    if (j.contains("measured_with") && j["measured_with"].is_string()) s.measured_with = j["measured_with"].get<std::string>();
    if (s.speed_factor > 0) c.samples.push_back(s);
  }
  if (c.samples.empty()) return std::nullopt;
  summarize(c);
  return c;
}

Status save_measured_calibration(const MeasuredCalibration& c) {
  BW_ASSIGN_OR_RETURN(std::filesystem::path path, calibration_path(c.hardware));
  const nlohmann::json j = {{"hardware", c.hardware},   {"speed_factor", c.speed_factor}, {"trials", c.trials},
                            {"spread", c.spread},       {"measured_with", c.measured_with},
                            {"samples", samples_json(c.samples)}, {"outliers", samples_json(c.outliers)}};
  return write_file_atomic(path, j.dump(2) + "\n");
}

Calibration scale_speed(Calibration c, double f) {
  c.bandwidth_efficiency *= f;
  c.compute_efficiency *= f;
  c.quantized_compute_efficiency *= f;
  c.step_overhead_s /= f;
  c.gpu_step_overhead_s /= f;
  c.host_s_per_logit /= f;
  c.mask_s_per_cell /= f;
  c.gpu_mask_s_per_cell /= f;
  c.gpu_attention_efficiency *= f;
  c.gpu_dense_attention_efficiency *= f;
  c.gpu_gemm_efficiency *= f;
  c.gpu_quantized_gemm_efficiency *= f;
  c.gpu_products_bandwidth_efficiency *= f;
  c.gpu_layer_kernels_s /= f;
  c.gpu_layer_kernels_s_per_token /= f;
  return c;
}

}  // namespace batchwise
