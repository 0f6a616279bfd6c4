#include "hardware/probe_report.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/log.h"
#include "core/units.h"
#include "hardware/gpu_catalogue.h"

namespace batchwise {
ProbeReport probe_hardware() {
  ProbeReport r;
  r.nvml = probe_nvml();
  r.host = probe_host();
  auto catalogue = load_gpu_catalogue();
  if (!catalogue) log_warn("GPU catalogue: " + catalogue.error().message);
  for (const auto& g : r.nvml.gpus) r.devices.push_back(device_from_probe(g, catalogue ? *catalogue : std::vector<GpuSpec>{}));
  if (r.devices.empty()) r.devices.push_back(cpu_device(r.host));
  return r;
}

std::string probe_to_json(const ProbeReport& r) {
  using nlohmann::json;
  json j;
  j["nvml"] = {{"available", r.nvml.available}, {"reason", r.nvml.reason}, {"driver_version", r.nvml.driver_version}};
  j["gpus"] = json::array();
  for (size_t i = 0; i < r.nvml.gpus.size(); ++i) {
    const ProbedGpu& g = r.nvml.gpus[i];
    const Device& d = r.devices[i];
    j["gpus"].push_back({{"index", g.index},
                         {"name", g.name},
                         {"memory_total_bytes", g.memory_total_bytes},
                         {"memory_free_bytes", g.memory_free_bytes},
                         {"sm_count", g.sm_count},
                         {"cuda_cores", g.cuda_cores},
                         {"sm_clock_max_mhz", g.sm_clock_max_mhz},
                         {"memory_clock_max_mhz", g.memory_clock_max_mhz},
                         {"memory_bus_width_bits", g.memory_bus_width_bits},
                         {"memory_bandwidth_bytes_per_s", g.memory_bandwidth_bytes_per_s},
                         {"compute_capability", g.compute_capability},
                         {"pcie_generation", g.pcie_generation},
                         {"pcie_width", g.pcie_width},
                         {"nvlink_links_active", g.nvlink_links_active},
                         {"catalogue_source", d.source},
                         {"fp16_flops_per_s", d.fp16_flops_per_s},
                         {"int8_ops_per_s", d.int8_ops_per_s}});
  }
  j["cpu"] = {{"model", r.host.cpu_model},
              {"logical_cpus", r.host.logical_cpus},
              {"physical_cores", r.host.physical_cores},
              {"simd_flags", r.host.simd_flags},
              {"llama_cpu_amx", r.host.llama_cpu_amx},
              {"fp32_flops_per_s_estimate", cpu_device(r.host).fp16_flops_per_s}};
  j["ram"] = {{"total_bytes", r.host.ram_total_bytes}, {"available_bytes", r.host.ram_available_bytes}};
  return j.dump(2);
}

std::string probe_to_text(const ProbeReport& r) {
  std::string out;
  if (r.nvml.gpus.empty()) out += "GPU   none: " + r.nvml.reason + "\n";
  for (size_t i = 0; i < r.nvml.gpus.size(); ++i) {
    const ProbedGpu& g = r.nvml.gpus[i];
    const Device& d = r.devices[i];
    char line[512];
    std::snprintf(line, sizeof line,
                  "GPU %d %s: %s total, %s free, %d SMs, cc %s, %.0f GB/s (%d-bit bus), PCIe gen %d x%d, %d NVLink "
                  "links, %.0f TFLOP/s fp16 dense [%s]\n",
                  g.index, g.name.c_str(), format_gib(g.memory_total_bytes).c_str(), format_gib(g.memory_free_bytes).c_str(),
                  g.sm_count, g.compute_capability.c_str(), g.memory_bandwidth_bytes_per_s / 1e9,
                  g.memory_bus_width_bits, g.pcie_generation, g.pcie_width, g.nvlink_links_active,
                  d.fp16_flops_per_s / 1e12, d.source.c_str());
    out += line;
  }
  std::string flags;
  for (const auto& f : r.host.simd_flags) flags += (flags.empty() ? "" : " ") + f;
  out += "CPU   " + (r.host.cpu_model.empty() ? std::string("unknown") : r.host.cpu_model) + ": " +
         std::to_string(r.host.physical_cores) + " cores, " + std::to_string(r.host.logical_cpus) + " threads; " +
         (flags.empty() ? std::string("no SIMD flags found") : flags) +
         (r.host.llama_cpu_amx ? "; llama.cpp keeps matrices in AMX buffers" : "") + "\n";
  out += "RAM   " + format_gib(r.host.ram_total_bytes) + " total, " + format_gib(r.host.ram_available_bytes) + " available\n";
  return out;
}

}  // namespace batchwise
