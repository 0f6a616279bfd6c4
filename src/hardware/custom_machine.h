// A machine that is not in the catalogue (seed 000's manual profile): `plan --gpu-memory 48G
// --gpu-bandwidth 960 --gpu-tflops 150 --cpu-cores 16 --ram 128G`. Each figure replaces the probed
// or catalogue one; GPU figures amend the
// catalogue/probed GPU, or, where there is none, define a "custom GPU" and then all three are needed.
// Units: memory in GiB (a bare number or "48G"/"48GiB"; "48GB" is 10^9 bytes), bandwidth in GB/s,
// throughput in dense FP16 TFLOP/s. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "hardware/device.h"

namespace batchwise {

struct MachineOverrides {
  std::optional<int64_t> gpu_memory_bytes;
  std::optional<double> gpu_bandwidth_bytes_per_s;
  std::optional<double> gpu_fp16_flops_per_s;
  std::optional<int> cpu_cores;
  std::optional<int64_t> ram_bytes;
  bool any_gpu() const { return gpu_memory_bytes || gpu_bandwidth_bytes_per_s || gpu_fp16_flops_per_s; }
};

// "80", "80G", "80GiB", "80gb" (10^9), "512M", "512MiB" -> bytes; `field` names the flag in errors.
Expected<int64_t> parse_memory_size(std::string_view text, std::string_view field);

// Applies the overrides. GPU figures amend the GPUs `hw` has (catalogue or probed); where it has none
// they must all be given, and `gpu_count` such GPUs are created.
Status apply_overrides(Hardware& hw, const MachineOverrides& o, int gpu_count);

}  // namespace batchwise
