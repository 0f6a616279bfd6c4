#include "hardware/device.h"

#include <algorithm>

namespace batchwise {
namespace {

constexpr double kAssumedCpuBandwidth = 40e9;
constexpr double kAssumedCpuClockHz = 2.5e9;

}  // namespace

Device cpu_device(const HostInfo& host) {
  Device d;
  d.name = host.cpu_model.empty() ? "CPU" : host.cpu_model;
  d.kind = "cpu";
  d.source = "probed";
  d.memory_bytes = host.ram_available_bytes > 0 ? host.ram_available_bytes : host.ram_total_bytes;
  if (d.memory_bytes <= 0) d.memory_bytes = int64_t{8} << 30;
  d.bandwidth_bytes_per_s = kAssumedCpuBandwidth;
  const int cores = std::max(1, host.physical_cores);
  d.fp16_flops_per_s = cores * kAssumedCpuClockHz * host.flops_per_cycle_per_core();
  d.int8_ops_per_s = 2 * d.fp16_flops_per_s;
  return d;
}

bool Device::tensor_peak_needs_warpgroup_mma() const {
  return compute_capability.starts_with("9.") || compute_capability.starts_with("10.");
}

Device device_from_catalogue(const GpuSpec& spec) {
  Device d;
  d.name = spec.name;
  d.kind = spec.vendor == "cpu" ? "cpu" : spec.unified_memory ? "unified" : "gpu";
  d.source = "catalogue";
  d.memory_bytes = spec.memory_bytes;
  d.bandwidth_bytes_per_s = spec.bandwidth_bytes_per_s;
  d.fp16_flops_per_s = spec.fp16_flops_per_s;
  d.int8_ops_per_s = spec.int8_ops_per_s;
  d.compute_capability = spec.compute_capability;
  return d;
}

Device device_from_probe(const ProbedGpu& gpu, const std::vector<GpuSpec>& catalogue) {
  Device d;
  d.name = gpu.name;
  d.kind = "gpu";
  d.source = "probed";
  d.memory_bytes = gpu.memory_total_bytes;
  d.bandwidth_bytes_per_s = gpu.memory_bandwidth_bytes_per_s;
  d.compute_capability = gpu.compute_capability;
  if (auto match = match_probed_gpu(catalogue, gpu.name)) {
    d.source = "probed + catalogue " + match->name;
    d.fp16_flops_per_s = match->fp16_flops_per_s;
    d.int8_ops_per_s = match->int8_ops_per_s;
    if (d.bandwidth_bytes_per_s <= 0) d.bandwidth_bytes_per_s = match->bandwidth_bytes_per_s;
    if (d.memory_bytes <= 0) d.memory_bytes = match->memory_bytes;
    if (d.compute_capability.empty()) d.compute_capability = match->compute_capability;
  }
  // Unknown GPU: a conservative guess from the SM count (about 1 dense FP16 TFLOP/s per SM on recent parts).
  if (d.fp16_flops_per_s <= 0) d.fp16_flops_per_s = std::max(1, gpu.sm_count) * 1e12;
  if (d.int8_ops_per_s <= 0) d.int8_ops_per_s = 2 * d.fp16_flops_per_s;
  if (d.bandwidth_bytes_per_s <= 0) d.bandwidth_bytes_per_s = 300e9;
  if (d.memory_bytes <= 0) d.memory_bytes = int64_t{8} << 30;
  return d;
}

Expected<Hardware> select_hardware(const std::optional<std::string>& gpu_name, int gpu_count) {
  Hardware hw;
  hw.host = probe_host();
  hw.cpu = cpu_device(hw.host);
  BW_ASSIGN_OR_RETURN(std::vector<GpuSpec> catalogue, load_gpu_catalogue());
  if (gpu_name) {
    BW_ASSIGN_OR_RETURN(GpuSpec spec, find_gpu(catalogue, *gpu_name));
    const Device d = device_from_catalogue(spec);
    if (d.kind == "cpu") {
      hw.cpu = d;
      hw.note = "CPU only (catalogue " + spec.name + ")";
    } else {
      for (int i = 0; i < std::max(1, gpu_count); ++i) hw.gpus.push_back(d);
    }
    return hw;
  }
  const NvmlProbe probe = probe_nvml();
  for (const auto& g : probe.gpus) hw.gpus.push_back(device_from_probe(g, catalogue));
  if (hw.gpus.empty()) hw.note = "no GPU: " + probe.reason + "; planning for the CPU";
  if (gpu_count > 0 && static_cast<int>(hw.gpus.size()) > gpu_count) hw.gpus.resize(gpu_count);
  return hw;
}

}  // namespace batchwise
