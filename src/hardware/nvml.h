// NVIDIA GPUs through NVML, loaded at run time with dlopen("libnvidia-ml.so.1") so one binary runs
// with and without a driver. No library or no GPU is a normal outcome (an empty list and a reason),
// never an error. Figures NVML cannot give (peak FLOP/s) come from the catalogue.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace batchwise {

struct ProbedGpu {
  int index = 0;
  std::string name;                 // as NVML reports it: "NVIDIA H100 80GB HBM3"
  int64_t memory_total_bytes = 0;
  int64_t memory_free_bytes = 0;
  int sm_count = 0;                 // 0: NVML did not say
  int cuda_cores = 0;
  int sm_clock_max_mhz = 0;
  int memory_clock_max_mhz = 0;
  int memory_bus_width_bits = 0;
  double memory_bandwidth_bytes_per_s = 0;  // 2 x memory clock x bus width (double data rate)
  std::string compute_capability;   // "9.0"
  int pcie_generation = 0;
  int pcie_width = 0;
  int nvlink_links_active = 0;
};

struct NvmlProbe {
  bool available = false;           // the library loaded and initialised
  std::string reason;               // why not, or "" when available
  std::string driver_version;
  std::vector<ProbedGpu> gpus;
};

// Tries $BATCHWISE_NVML_LIB first when set (tests point it at a missing file), else libnvidia-ml.so.1.
NvmlProbe probe_nvml();

// Device memory in use and utilization of every GPU, for `run`'s report (read about once a second).
// Without NVML or a GPU, sample() gives nullopt. Not thread-safe: one owner samples.
class GpuSampler {
 public:
  struct Sample {
    int64_t memory_used_bytes = 0;  // summed over GPUs, every process's allocations
    double utilization_percent = 0; // mean over GPUs of NVML's busy share of the last period
  };
  GpuSampler();
  ~GpuSampler();
  GpuSampler(const GpuSampler&) = delete;
  GpuSampler& operator=(const GpuSampler&) = delete;

  std::optional<Sample> sample();

  // Device memory these processes hold, summed over GPUs (NVML's compute-process list). nullopt where
  // the driver gives no per-process figures: none of them listed (another PID namespace, as in many
  // containers), the figure withheld, or an NVML without the call. Callers then use sample()'s total.
  std::optional<int64_t> process_memory_bytes(const std::vector<int>& pids);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace batchwise
