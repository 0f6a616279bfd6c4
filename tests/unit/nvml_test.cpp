// NVML through dlopen: a missing library or driver is a reason, never an error or a crash.
#include "hardware/nvml.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace batchwise {
namespace {

TEST(Nvml, MissingLibraryIsReportedNotFatal) {
  ::setenv("BATCHWISE_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
  const NvmlProbe probe = probe_nvml();
  ::unsetenv("BATCHWISE_NVML_LIB");
  EXPECT_FALSE(probe.available);
  EXPECT_TRUE(probe.gpus.empty());
  EXPECT_NE(probe.reason.find("libnvidia-ml"), std::string::npos) << probe.reason;
}

TEST(Nvml, ALibraryWithoutNvmlIsReportedNotFatal) {
  ::setenv("BATCHWISE_NVML_LIB", "libm.so.6", 1);
  const NvmlProbe probe = probe_nvml();
  ::unsetenv("BATCHWISE_NVML_LIB");
  EXPECT_FALSE(probe.available);
  EXPECT_FALSE(probe.reason.empty());
}

TEST(Nvml, ThisMachineEitherHasGpusWithMemoryOrSaysWhyNot) {
  const NvmlProbe probe = probe_nvml();
  if (probe.gpus.empty()) {
    EXPECT_FALSE(probe.reason.empty());
  }
  for (const auto& g : probe.gpus) {
    EXPECT_FALSE(g.name.empty());
    EXPECT_GT(g.memory_total_bytes, 0);
    EXPECT_LE(g.memory_free_bytes, g.memory_total_bytes);
  }
}

}  // namespace
}  // namespace batchwise

namespace batchwise {
namespace {

TEST(GpuSampler, WithoutNvmlThereIsNoSampleAndNoCrash) {
  ::setenv("BATCHWISE_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
  GpuSampler sampler;
  EXPECT_FALSE(sampler.sample().has_value());
  ::unsetenv("BATCHWISE_NVML_LIB");
}

}  // namespace
}  // namespace batchwise
