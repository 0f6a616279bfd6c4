// The accelerator catalogue (data/gpus.json): memory, bandwidth and dense FP16/BF16/INT8 throughput
// from public datasheets, so `plan --gpu NAME` can plan for hardware that is not present, and a
// probed GPU gets the peak FLOP/s that NVML cannot report. Read-only after loading: thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace batchwise {

struct GpuSpec {
  std::string name;                  // "H100 SXM"
  std::vector<std::string> aliases;  // other spellings, NVML names
  std::string vendor;                // "nvidia", "amd", "apple", "cpu"
  int64_t memory_bytes = 0;
  double bandwidth_bytes_per_s = 0;
  double fp16_flops_per_s = 0;       // dense
  double bf16_flops_per_s = 0;
  double int8_ops_per_s = 0;
  std::string compute_capability;    // NVIDIA only
  bool unified_memory = false;       // Apple and CPU: weights live in the same RAM as everything else
};

Expected<std::vector<GpuSpec>> load_gpu_catalogue();

// By name or alias, case-insensitive, ignoring "NVIDIA"/"GeForce" and spaces/dashes. Unknown names
// give kNotFound listing close matches.
Expected<GpuSpec> find_gpu(const std::vector<GpuSpec>& catalogue, std::string_view name);

// The catalogue entry for a name NVML reports ("NVIDIA H100 80GB HBM3", "NVIDIA GeForce RTX 4090"):
// the entry whose name or alias is the longest one contained in it; nullopt when none is.
std::optional<GpuSpec> match_probed_gpu(const std::vector<GpuSpec>& catalogue, std::string_view nvml_name);

}  // namespace batchwise
