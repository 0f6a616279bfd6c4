// NVML through dlopen: a missing library or driver is a reason, never an error or a crash.
#include "hardware/nvml.h"

#include <gtest/gtest.h>

#include <unistd.h>

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

// A GPU machine's figures through the stand-in NVML (tests/fakes/fake_nvml.cpp): the device's total
// counts every process; a process's own figure counts only the listed ids, never a withheld figure.
TEST(GpuSampler, ProcessMemoryCountsOnlyTheGivenProcessesOwnFigures) {
  ::setenv("BATCHWISE_NVML_LIB", FAKE_NVML_LIB, 1);
  GpuSampler sampler;
  ::unsetenv("BATCHWISE_NVML_LIB");
  const auto device = sampler.sample();
  ASSERT_TRUE(device.has_value());
  EXPECT_EQ(device->memory_used_bytes, int64_t{10} << 30);
  EXPECT_DOUBLE_EQ(device->utilization_percent, 40.0);
  EXPECT_EQ(sampler.process_memory_bytes({static_cast<int>(::getpid())}), int64_t{3} << 30);
  EXPECT_EQ(sampler.process_memory_bytes({static_cast<int>(::getpid()), 1}), int64_t{8} << 30);
  EXPECT_FALSE(sampler.process_memory_bytes({2}).has_value()) << "a withheld figure is not a zero";
  EXPECT_FALSE(sampler.process_memory_bytes({99999999}).has_value()) << "a process NVML does not list";
  EXPECT_FALSE(sampler.process_memory_bytes({}).has_value());
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
