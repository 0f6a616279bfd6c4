// Devices a plan divides by: every figure positive, for catalogue GPUs, probed GPUs and the CPU.
#include "hardware/device.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

void expect_usable(const Device& d) {
  EXPECT_GT(d.memory_bytes, 0) << d.name;
  EXPECT_GT(d.bandwidth_bytes_per_s, 0) << d.name;
  EXPECT_GT(d.fp16_flops_per_s, 0) << d.name;
  EXPECT_GT(d.int8_ops_per_s, 0) << d.name;
}

TEST(Device, CpuOnlyHostsGetUsableFigures) {
  expect_usable(cpu_device(HostInfo{}));  // nothing known at all
  HostInfo h;
  h.physical_cores = 8;
  h.simd_flags = {"avx2", "fma"};
  h.ram_available_bytes = int64_t{16} << 30;
  const Device d = cpu_device(h);
  expect_usable(d);
  EXPECT_FALSE(d.is_gpu());
  EXPECT_EQ(d.memory_bytes, int64_t{16} << 30);
  EXPECT_DOUBLE_EQ(d.fp16_flops_per_s, 8 * 2.5e9 * 32);
}

TEST(Device, ProbedGpuTakesFlopsFromItsCatalogueEntry) {
  auto catalogue = load_gpu_catalogue();
  ASSERT_TRUE(catalogue);
  ProbedGpu g;
  g.name = "NVIDIA H100 80GB HBM3";
  g.memory_total_bytes = int64_t{81559} << 20;
  g.memory_clock_max_mhz = 2619;
  g.memory_bus_width_bits = 5120;
  g.memory_bandwidth_bytes_per_s = 2.0 * 2619e6 * 5120 / 8;
  const Device d = device_from_probe(g, *catalogue);
  expect_usable(d);
  EXPECT_EQ(d.memory_bytes, g.memory_total_bytes) << "probed memory wins over the catalogue";
  EXPECT_DOUBLE_EQ(d.fp16_flops_per_s, 989e12);
  EXPECT_NEAR(d.bandwidth_bytes_per_s, 3.35e12, 0.01e12) << "2 x 2619 MHz x 640 bytes";

  EXPECT_TRUE(d.tensor_peak_needs_warpgroup_mma()) << "the catalogue's compute capability 9.0";

  ProbedGpu unknown;
  unknown.name = "NVIDIA Mystery";
  unknown.compute_capability = "10.0";
  const Device mystery = device_from_probe(unknown, *catalogue);
  expect_usable(mystery);
  EXPECT_TRUE(mystery.tensor_peak_needs_warpgroup_mma()) << "NVML's compute capability where no entry matches";
}

// Where a GPU's tensor peak needs warpgroup MMAs, plan prices llama.cpp's quantized matmuls lower (docs/plan.md).
TEST(Device, HopperAndDatacenterBlackwellNeedWarpgroupMmasForTheirPeak) {
  auto catalogue = load_gpu_catalogue();
  ASSERT_TRUE(catalogue);
  for (const char* name : {"H100 SXM", "H100 PCIe", "H200", "B200"}) {
    EXPECT_TRUE(device_from_catalogue(*find_gpu(*catalogue, name)).tensor_peak_needs_warpgroup_mma()) << name;
  }
  for (const char* name : {"RTX 4090", "RTX 5090", "A100 80GB", "L40S", "MI300X", "M2 Max", "cpu"}) {
    EXPECT_FALSE(device_from_catalogue(*find_gpu(*catalogue, name)).tensor_peak_needs_warpgroup_mma()) << name;
  }
}

TEST(Device, SelectingACatalogueGpuOrCpu) {
  auto hw = select_hardware(std::string("RTX 4090"), 2);
  ASSERT_TRUE(hw) << hw.error().message;
  ASSERT_EQ(hw->gpus.size(), 2u);
  EXPECT_EQ(hw->primary().name, "RTX 4090");
  auto cpu = select_hardware(std::string("cpu"), 1);
  ASSERT_TRUE(cpu);
  EXPECT_TRUE(cpu->gpus.empty());
  expect_usable(cpu->primary());
  auto bad = select_hardware(std::string("RTX 9090"), 1);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().code == ErrorCode::kNotFound);
}

}  // namespace
}  // namespace batchwise
