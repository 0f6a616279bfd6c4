// Test double for libnvidia-ml.so.1 (the CI machines have no NVIDIA GPU): one device with 10 GiB in
// use, whose compute-process list holds the process that loaded this library (3 GiB), pid 1 (5 GiB,
// another process) and pid 2 (figure withheld, as NVML does without permission). Only the entry
// points batchwise's GpuSampler calls; tests load it through $BATCHWISE_NVML_LIB.
#include <unistd.h>

#include <cstring>

namespace {
constexpr unsigned long long kGiB = 1ULL << 30;
struct Memory {
  unsigned long long total, free, used;
};
struct Utilization {
  unsigned int gpu, memory;
};
struct ProcessInfo {  // nvmlProcessInfo_v2_t
  unsigned int pid;
  unsigned long long usedGpuMemory;
  unsigned int gpuInstanceId, computeInstanceId;
};
int device_token = 0;
}  // namespace

extern "C" {
int nvmlInit_v2() { return 0; }
int nvmlShutdown() { return 0; }
int nvmlDeviceGetCount_v2(unsigned* count) {
  *count = 1;
  return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned index, void** device) {
  if (index != 0) return 2;  // NVML_ERROR_INVALID_ARGUMENT
  *device = &device_token;
  return 0;
}
int nvmlDeviceGetMemoryInfo(void*, Memory* m) {
  *m = Memory{80 * kGiB, 70 * kGiB, 10 * kGiB};
  return 0;
}
int nvmlDeviceGetUtilizationRates(void*, Utilization* u) {
  *u = Utilization{40, 20};
  return 0;
}
int nvmlDeviceGetComputeRunningProcesses_v3(void*, unsigned* count, ProcessInfo* infos) {
  const ProcessInfo listed[] = {{static_cast<unsigned>(::getpid()), 3 * kGiB, 0, 0}, {1, 5 * kGiB, 0, 0}, {2, ~0ULL, 0, 0}};
  constexpr unsigned n = sizeof listed / sizeof listed[0];
  if (*count < n) {
    *count = n;
    return 7;  // NVML_ERROR_INSUFFICIENT_SIZE
  }
  std::memcpy(infos, listed, sizeof listed);
  *count = n;
  return 0;
}
}
