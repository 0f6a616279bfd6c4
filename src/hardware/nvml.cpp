#include "hardware/nvml.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>

namespace batchwise {
namespace {

// The few NVML types used, as nvml.h declares them (ABI-stable since NVML 3).
using nvmlReturn_t = int;
using nvmlDevice_t = void*;
constexpr nvmlReturn_t kNvmlSuccess = 0;
constexpr int kClockSm = 1;
constexpr int kClockMem = 2;
constexpr unsigned kMaxNvLinks = 18;
struct NvmlMemory {
  unsigned long long total, free, used;
};
struct NvmlDeviceAttributes {
  unsigned int multiprocessorCount, sharedCopyEngineCount, sharedDecoderCount, sharedEncoderCount, sharedJpegCount,
      sharedOfaCount, gpuInstanceSliceCount, computeInstanceSliceCount;
  unsigned long long memorySizeMB;
};

class Library {
 public:
  explicit Library(const char* path) : handle_(dlopen(path, RTLD_NOW | RTLD_LOCAL)) {}
  ~Library() {
    if (handle_) dlclose(handle_);
  }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  bool loaded() const { return handle_ != nullptr; }
  template <class Fn>
  Fn get(const char* name) const {
    return reinterpret_cast<Fn>(dlsym(handle_, name));
  }

 private:
  void* handle_;
};

struct NvmlUtilization {
  unsigned int gpu, memory;
};
// nvmlProcessInfo_v2_t, what nvmlDeviceGetComputeRunningProcesses_v3 fills in.
struct NvmlProcessInfo {
  unsigned int pid;
  unsigned long long usedGpuMemory;  // NVML_VALUE_NOT_AVAILABLE (all ones) when withheld
  unsigned int gpuInstanceId, computeInstanceId;
};

const char* nvml_path() {
  const char* env = std::getenv("BATCHWISE_NVML_LIB");
  return env && *env ? env : "libnvidia-ml.so.1";
}

}  // namespace

struct GpuSampler::Impl {
  Library lib{nvml_path()};
  bool ready = false;
  std::vector<nvmlDevice_t> devices;
  nvmlReturn_t (*shutdown)() = nullptr;
  nvmlReturn_t (*memory)(nvmlDevice_t, NvmlMemory*) = nullptr;
  nvmlReturn_t (*utilization)(nvmlDevice_t, NvmlUtilization*) = nullptr;
  nvmlReturn_t (*processes)(nvmlDevice_t, unsigned*, NvmlProcessInfo*) = nullptr;
};

GpuSampler::GpuSampler() : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  if (!m.lib.loaded()) return;
  auto init = m.lib.get<nvmlReturn_t (*)()>("nvmlInit_v2");
  auto count_fn = m.lib.get<nvmlReturn_t (*)(unsigned*)>("nvmlDeviceGetCount_v2");
  auto handle_fn = m.lib.get<nvmlReturn_t (*)(unsigned, nvmlDevice_t*)>("nvmlDeviceGetHandleByIndex_v2");
  m.shutdown = m.lib.get<nvmlReturn_t (*)()>("nvmlShutdown");
  m.memory = m.lib.get<nvmlReturn_t (*)(nvmlDevice_t, NvmlMemory*)>("nvmlDeviceGetMemoryInfo");
  m.utilization = m.lib.get<nvmlReturn_t (*)(nvmlDevice_t, NvmlUtilization*)>("nvmlDeviceGetUtilizationRates");
  m.processes = m.lib.get<nvmlReturn_t (*)(nvmlDevice_t, unsigned*, NvmlProcessInfo*)>(
      "nvmlDeviceGetComputeRunningProcesses_v3");
  if (!init || !count_fn || !handle_fn || !m.shutdown || !m.memory || init() != kNvmlSuccess) return;
  m.ready = true;
  unsigned count = 0;
  if (count_fn(&count) != kNvmlSuccess) count = 0;
  for (unsigned i = 0; i < count && i < 64; ++i) {
    nvmlDevice_t dev = nullptr;
    if (handle_fn(i, &dev) == kNvmlSuccess) m.devices.push_back(dev);
  }
}

GpuSampler::~GpuSampler() {
  if (impl_->ready) impl_->shutdown();
}

std::optional<GpuSampler::Sample> GpuSampler::sample() {
  const Impl& m = *impl_;
  if (!m.ready || m.devices.empty()) return std::nullopt;
  Sample s;
  int with_utilization = 0;
  for (nvmlDevice_t dev : m.devices) {
    NvmlMemory mem{};
    if (m.memory(dev, &mem) == kNvmlSuccess) s.memory_used_bytes += static_cast<int64_t>(mem.used);
    NvmlUtilization u{};
    if (m.utilization && m.utilization(dev, &u) == kNvmlSuccess) {
      s.utilization_percent += u.gpu;
      with_utilization++;
    }
  }
  if (with_utilization > 0) s.utilization_percent /= with_utilization;
  return s;
}

std::optional<int64_t> GpuSampler::process_memory_bytes(const std::vector<int>& pids) {
  const Impl& m = *impl_;
  if (!m.ready || !m.processes || pids.empty()) return std::nullopt;
  int64_t total = 0;
  bool listed = false;
  for (nvmlDevice_t dev : m.devices) {
    std::vector<NvmlProcessInfo> infos(256);
    unsigned n = static_cast<unsigned>(infos.size());
    if (m.processes(dev, &n, infos.data()) != kNvmlSuccess) continue;  // e.g. more than 256 processes
    for (unsigned i = 0; i < n && i < infos.size(); ++i) {
      const auto& p = infos[i];
      if (p.usedGpuMemory == ~0ULL) continue;
      if (std::find(pids.begin(), pids.end(), static_cast<int>(p.pid)) == pids.end()) continue;
      total += static_cast<int64_t>(p.usedGpuMemory);
      listed = true;
    }
  }
  if (!listed) return std::nullopt;
  return total;
}

NvmlProbe probe_nvml() {
  NvmlProbe probe;
  const char* path = nvml_path();
  Library lib(path);
  if (!lib.loaded()) {
    probe.reason = std::string("no NVIDIA driver (") + path + " not loadable)";
    return probe;
  }
  auto init = lib.get<nvmlReturn_t (*)()>("nvmlInit_v2");
  auto shutdown = lib.get<nvmlReturn_t (*)()>("nvmlShutdown");
  auto count_fn = lib.get<nvmlReturn_t (*)(unsigned*)>("nvmlDeviceGetCount_v2");
  auto handle_fn = lib.get<nvmlReturn_t (*)(unsigned, nvmlDevice_t*)>("nvmlDeviceGetHandleByIndex_v2");
  if (!init || !shutdown || !count_fn || !handle_fn) {
    probe.reason = std::string(path) + " lacks the NVML entry points";
    return probe;
  }
  if (init() != kNvmlSuccess) {
    probe.reason = "NVML failed to initialise (driver not loaded?)";
    return probe;
  }
  probe.available = true;
  auto name_fn = lib.get<nvmlReturn_t (*)(nvmlDevice_t, char*, unsigned)>("nvmlDeviceGetName");
  auto mem_fn = lib.get<nvmlReturn_t (*)(nvmlDevice_t, NvmlMemory*)>("nvmlDeviceGetMemoryInfo");
  auto attr_fn = lib.get<nvmlReturn_t (*)(nvmlDevice_t, NvmlDeviceAttributes*)>("nvmlDeviceGetAttributes_v2");
  auto cores_fn = lib.get<nvmlReturn_t (*)(nvmlDevice_t, unsigned*)>("nvmlDeviceGetNumGpuCores");
  auto clock_fn = lib.get<nvmlReturn_t (*)(nvmlDevice_t, int, unsigned*)>("nvmlDeviceGetMaxClockInfo");
  auto bus_fn = lib.get<nvmlReturn_t (*)(nvmlDevice_t, unsigned*)>("nvmlDeviceGetMemoryBusWidth");
  auto cc_fn = lib.get<nvmlReturn_t (*)(nvmlDevice_t, int*, int*)>("nvmlDeviceGetCudaComputeCapability");
  auto pcie_gen_fn = lib.get<nvmlReturn_t (*)(nvmlDevice_t, unsigned*)>("nvmlDeviceGetCurrPcieLinkGeneration");
  auto pcie_width_fn = lib.get<nvmlReturn_t (*)(nvmlDevice_t, unsigned*)>("nvmlDeviceGetCurrPcieLinkWidth");
  auto nvlink_fn = lib.get<nvmlReturn_t (*)(nvmlDevice_t, unsigned, int*)>("nvmlDeviceGetNvLinkState");
  auto driver_fn = lib.get<nvmlReturn_t (*)(char*, unsigned)>("nvmlSystemGetDriverVersion");
  char text[96] = {};
  if (driver_fn && driver_fn(text, sizeof text - 1) == kNvmlSuccess) probe.driver_version = text;

  unsigned count = 0;
  if (count_fn(&count) != kNvmlSuccess) count = 0;
  for (unsigned i = 0; i < count && i < 64; ++i) {
    nvmlDevice_t dev = nullptr;
    if (handle_fn(i, &dev) != kNvmlSuccess) continue;
    ProbedGpu g;
    g.index = static_cast<int>(i);
    char name[96] = {};
    if (name_fn && name_fn(dev, name, sizeof name - 1) == kNvmlSuccess) g.name = name;
    NvmlMemory mem{};
    if (mem_fn && mem_fn(dev, &mem) == kNvmlSuccess) {
      g.memory_total_bytes = static_cast<int64_t>(mem.total);
      g.memory_free_bytes = static_cast<int64_t>(mem.free);
    }
    NvmlDeviceAttributes attr{};
    if (attr_fn && attr_fn(dev, &attr) == kNvmlSuccess) g.sm_count = static_cast<int>(attr.multiprocessorCount);
    unsigned v = 0;
    if (cores_fn && cores_fn(dev, &v) == kNvmlSuccess) g.cuda_cores = static_cast<int>(v);
    if (clock_fn && clock_fn(dev, kClockSm, &v) == kNvmlSuccess) g.sm_clock_max_mhz = static_cast<int>(v);
    if (clock_fn && clock_fn(dev, kClockMem, &v) == kNvmlSuccess) g.memory_clock_max_mhz = static_cast<int>(v);
    if (bus_fn && bus_fn(dev, &v) == kNvmlSuccess) g.memory_bus_width_bits = static_cast<int>(v);
    g.memory_bandwidth_bytes_per_s = 2.0 * g.memory_clock_max_mhz * 1e6 * g.memory_bus_width_bits / 8.0;
    int major = 0, minor = 0;
    if (cc_fn && cc_fn(dev, &major, &minor) == kNvmlSuccess) g.compute_capability = std::to_string(major) + "." + std::to_string(minor);
    if (pcie_gen_fn && pcie_gen_fn(dev, &v) == kNvmlSuccess) g.pcie_generation = static_cast<int>(v);
    if (pcie_width_fn && pcie_width_fn(dev, &v) == kNvmlSuccess) g.pcie_width = static_cast<int>(v);
    for (unsigned link = 0; nvlink_fn && link < kMaxNvLinks; ++link) {
      int active = 0;
      if (nvlink_fn(dev, link, &active) != kNvmlSuccess) break;
      g.nvlink_links_active += active ? 1 : 0;
    }
    probe.gpus.push_back(std::move(g));
  }
  shutdown();
  if (probe.gpus.empty()) probe.reason = "NVML found no GPU";
  return probe;
}

}  // namespace batchwise
