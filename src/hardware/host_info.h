// The host: CPU model, cores and SIMD flags from /proc/cpuinfo, RAM from /proc/meminfo. The parsers
// take the files' text so tests can feed them any content; missing fields stay 0/empty.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace batchwise {

struct HostInfo {
  std::string cpu_model;
  int logical_cpus = 0;
  int physical_cores = 0;               // distinct (physical id, core id) pairs; logical_cpus when unknown
  std::vector<std::string> simd_flags;  // the ones llama.cpp's CPU kernels use: avx2, avx512f, amx_int8, ...
  int64_t ram_total_bytes = 0;
  int64_t ram_available_bytes = 0;
  bool llama_cpu_amx = false;           // the linked llama.cpp keeps matrices in AMX buffers here (model/amx_packing.h)

  bool has_flag(std::string_view flag) const;
  // FP32 FLOP per cycle per core of the widest FMA units present (AVX-512: 64, AVX2+FMA: 32, else 8).
  int flops_per_cycle_per_core() const;
};

void parse_cpuinfo(std::string_view text, HostInfo& host);
void parse_meminfo(std::string_view text, HostInfo& host);

// Reads /proc/cpuinfo and /proc/meminfo (on other systems those fields stay empty) and asks llama.cpp's CPU
// backend whether it uses AMX.
HostInfo probe_host();

}  // namespace batchwise
