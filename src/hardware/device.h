// The devices a plan is made for: probed GPUs (NVML, with FLOP/s from the catalogue entry their name
// matches), a catalogue GPU named with `--gpu` (hardware that is not present), or the CPU when there
// is no GPU. Every figure a plan divides by is positive, so CPU-only hosts never divide by zero.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "hardware/gpu_catalogue.h"
#include "hardware/host_info.h"
#include "hardware/nvml.h"

namespace batchwise {

struct Device {
  std::string name;
  std::string kind;                  // "gpu" (own memory), "unified" (Apple), "cpu"
  std::string source;                // "probed", "probed + catalogue <name>", "catalogue"
  int64_t memory_bytes = 0;          // what the plan may fill (total for a GPU, available RAM for the CPU)
  double bandwidth_bytes_per_s = 0;
  double fp16_flops_per_s = 0;       // dense peak
  double int8_ops_per_s = 0;
  std::string compute_capability;    // NVIDIA: "9.0"; empty elsewhere or when unknown
  bool is_gpu() const { return kind != "cpu"; }
  // Hopper and datacenter Blackwell reach their tensor peak only through warpgroup (wgmma) or tcgen05 MMAs; kernels
  // that issue the warp-level MMAs (llama.cpp's quantized matmuls) reach a fraction of it there.
  bool tensor_peak_needs_warpgroup_mma() const;
};

struct Hardware {
  std::vector<Device> gpus;          // identical devices a model may be split over; empty: CPU only
  Device cpu;
  HostInfo host;
  std::string note;                  // e.g. why no GPU was found
  // The device a single-device plan uses: the first GPU, else the CPU.
  const Device& primary() const { return gpus.empty() ? cpu : gpus.front(); }
};

// The CPU as a device: RAM available, an assumed 40 GB/s (dual-channel DDR4/DDR5; not measurable
// from /proc), cores x 2.5 GHz x FMA width for FLOP/s.
Device cpu_device(const HostInfo& host);

// A probed GPU, completed with its catalogue entry when the name matches one.
Device device_from_probe(const ProbedGpu& gpu, const std::vector<GpuSpec>& catalogue);
Device device_from_catalogue(const GpuSpec& spec);

// `gpu_name` set: `gpu_count` catalogue devices of that name (a CPU entry gives CPU-only). Unset: probe.
Expected<Hardware> select_hardware(const std::optional<std::string>& gpu_name, int gpu_count);

}  // namespace batchwise
