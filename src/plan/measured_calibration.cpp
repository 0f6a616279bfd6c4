#include "plan/measured_calibration.h"

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
  return dir / ("calibration-" + hex64(fnv1a64(hardware_key)) + ".json");
}

}  // namespace

std::optional<MeasuredCalibration> load_measured_calibration(const std::string& hardware_key) {
  auto path = calibration_path(hardware_key);
  if (!path) return std::nullopt;
  auto text = read_file(*path);
  if (!text) return std::nullopt;
  const auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("hardware") || j["hardware"] != hardware_key ||
      !j.contains("speed_factor") || !j["speed_factor"].is_number() || !j.contains("trials") ||
      !j["trials"].is_number_integer()) {
    return std::nullopt;
  }
  MeasuredCalibration c;
  c.hardware = hardware_key;
  c.speed_factor = j["speed_factor"].get<double>();
  c.trials = j["trials"].get<int>();
  if (j.contains("measured_with") && j["measured_with"].is_string()) c.measured_with = j["measured_with"].get<std::string>();
  if (!(c.speed_factor > 0)) return std::nullopt;
  return c;
}

Status save_measured_calibration(const MeasuredCalibration& c) {
  BW_ASSIGN_OR_RETURN(std::filesystem::path path, calibration_path(c.hardware));
  const nlohmann::json j = {{"hardware", c.hardware}, {"speed_factor", c.speed_factor}, {"trials", c.trials},
                            {"measured_with", c.measured_with}};
  return write_file_atomic(path, j.dump(2) + "\n");
}

Calibration scale_speed(Calibration c, double f) {
  c.bandwidth_efficiency *= f;
  c.compute_efficiency *= f;
  c.quantized_compute_efficiency *= f;
  c.step_overhead_s /= f;
  return c;
}

}  // namespace batchwise
