#include "hardware/custom_machine.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace batchwise {

Expected<int64_t> parse_memory_size(std::string_view text, std::string_view field) {
  const std::string shown(text);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  std::string unit(end, text.data() + text.size());
  std::transform(unit.begin(), unit.end(), unit.begin(), [](unsigned char c) { return std::tolower(c); });
  double scale = 0;
  if (unit.empty() || unit == "g" || unit == "gib") scale = 1073741824.0;
  if (unit == "gb") scale = 1e9;
  if (unit == "m" || unit == "mib") scale = 1048576.0;
  if (unit == "mb") scale = 1e6;
  if (unit == "t" || unit == "tib") scale = 1099511627776.0;
  if (unit == "tb") scale = 1e12;
  if (ec != std::errc() || scale == 0 || value <= 0) {
    return make_error(ErrorCode::kInvalidArgument, std::string(field) + " \"" + shown +
                                                   "\": give a size such as 80 (GiB), 80G, 80GiB, 80GB or 512M");
  }
  return static_cast<int64_t>(value * scale);
}

Status apply_overrides(Hardware& hw, const MachineOverrides& o, int gpu_count) {
  if (o.cpu_cores) {
    if (*o.cpu_cores <= 0) return make_error(ErrorCode::kInvalidArgument, "--cpu-cores must be at least 1");
    hw.host.physical_cores = *o.cpu_cores;
    hw.host.logical_cpus = std::max(hw.host.logical_cpus, *o.cpu_cores);
  }
  if (o.ram_bytes) {
    hw.host.ram_total_bytes = *o.ram_bytes;
    hw.host.ram_available_bytes = *o.ram_bytes;
  }
  if (o.cpu_cores || o.ram_bytes) {
    // Rebuild the CPU device from the amended host, keeping a catalogue CPU's bandwidth.
    const Device before = hw.cpu;
    hw.cpu = cpu_device(hw.host);
    if (before.source == "catalogue") hw.cpu.bandwidth_bytes_per_s = before.bandwidth_bytes_per_s;
    hw.cpu.source = "custom";
    hw.cpu.name = before.name;
  }
  if (!o.any_gpu()) return {};
  if (o.gpu_bandwidth_bytes_per_s && *o.gpu_bandwidth_bytes_per_s <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "--gpu-bandwidth must be positive (GB/s)");
  }
  if (o.gpu_fp16_flops_per_s && *o.gpu_fp16_flops_per_s <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "--gpu-tflops must be positive (dense FP16 TFLOP/s)");
  }
  const bool amend = !hw.gpus.empty();
  if (!amend) {
    if (!o.gpu_memory_bytes || !o.gpu_bandwidth_bytes_per_s || !o.gpu_fp16_flops_per_s) {
      return make_error(ErrorCode::kInvalidArgument,
                        "a custom GPU needs all of --gpu-memory, --gpu-bandwidth and --gpu-tflops "
                        "(or --gpu NAME, whose catalogue figures they then amend)");
    }
    Device d;
    d.name = "custom GPU";
    d.kind = "gpu";
    hw.gpus.assign(static_cast<size_t>(std::max(1, gpu_count)), d);
    hw.note.clear();
  }
  for (Device& d : hw.gpus) {
    if (o.gpu_memory_bytes) d.memory_bytes = *o.gpu_memory_bytes;
    if (o.gpu_bandwidth_bytes_per_s) d.bandwidth_bytes_per_s = *o.gpu_bandwidth_bytes_per_s;
    if (o.gpu_fp16_flops_per_s) {
      d.fp16_flops_per_s = *o.gpu_fp16_flops_per_s;
      d.int8_ops_per_s = 2 * d.fp16_flops_per_s;
    }
    d.source = amend ? d.source + " + custom" : "custom";
  }
  return {};
}

}  // namespace batchwise
