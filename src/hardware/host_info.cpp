#include "hardware/host_info.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <thread>

#include "core/files.h"
#include "model/amx_packing.h"

namespace batchwise {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Splits "key : value" lines; calls fn(key, value) for each.
template <class Fn>
void for_each_field(std::string_view text, Fn fn) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(start, end - start);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) fn(trim(line.substr(0, colon)), trim(line.substr(colon + 1)));
    start = end + 1;
  }
}

constexpr std::string_view kSimdFlags[] = {"sse4_2",  "avx",        "avx2",        "fma",      "f16c",
                                           "avx512f", "avx512bw",   "avx512_vnni", "avx512_bf16", "avx_vnni",
                                           "amx_bf16", "amx_int8",  "asimd",       "sve"};

}  // namespace

bool HostInfo::has_flag(std::string_view flag) const {
  return std::find(simd_flags.begin(), simd_flags.end(), flag) != simd_flags.end();
}

int HostInfo::flops_per_cycle_per_core() const {
  if (has_flag("avx512f")) return 64;
  if (has_flag("avx2") && has_flag("fma")) return 32;
  if (has_flag("asimd")) return 16;
  return 8;
}

void parse_cpuinfo(std::string_view text, HostInfo& host) {
  std::set<std::pair<std::string, std::string>> cores;
  std::string physical_id;
  int logical = 0;
  std::set<std::string> flags;
  for_each_field(text, [&](std::string_view key, std::string_view value) {
    if (key == "processor") ++logical;
    if ((key == "model name" || key == "Model") && host.cpu_model.empty()) host.cpu_model = std::string(value);
    if (key == "physical id") physical_id = std::string(value);
    if (key == "core id") cores.emplace(physical_id, std::string(value));
    if (key == "flags" || key == "Features") {
      std::istringstream words{std::string(value)};
      for (std::string w; words >> w;) flags.insert(w);
    }
  });
  host.logical_cpus = logical;
  host.physical_cores = cores.empty() ? logical : static_cast<int>(cores.size());
  host.simd_flags.clear();
  for (auto f : kSimdFlags) {
    if (flags.count(std::string(f))) host.simd_flags.emplace_back(f);
  }
}

void parse_meminfo(std::string_view text, HostInfo& host) {
  for_each_field(text, [&](std::string_view key, std::string_view value) {
    // "MemTotal:       24564728 kB"
    int64_t kib = 0;
    for (char c : value) {
      if (c < '0' || c > '9') break;
      kib = kib * 10 + (c - '0');
    }
    if (key == "MemTotal") host.ram_total_bytes = kib * 1024;
    if (key == "MemAvailable") host.ram_available_bytes = kib * 1024;
  });
}

HostInfo probe_host() {
  HostInfo host;
  if (auto text = read_file("/proc/cpuinfo")) parse_cpuinfo(*text, host);
  if (auto text = read_file("/proc/meminfo")) parse_meminfo(*text, host);
  if (host.logical_cpus == 0) host.logical_cpus = host.physical_cores = static_cast<int>(std::thread::hardware_concurrency());
  host.llama_cpu_amx = llama_cpu_uses_amx();
  return host;
}

}  // namespace batchwise
