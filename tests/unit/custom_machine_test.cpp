// A machine not in the catalogue as plan's flags give it: sizes in the units the help names, GPU
// figures that amend a GPU or define one (then all three are needed), cores and RAM for the CPU.
#include "hardware/custom_machine.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

TEST(CustomMachine, SizesAreGibUnlessTheUnitSaysOtherwise) {
  EXPECT_EQ(*parse_memory_size("80", "--gpu-memory"), int64_t{80} << 30);
  EXPECT_EQ(*parse_memory_size("80G", "--gpu-memory"), int64_t{80} << 30);
  EXPECT_EQ(*parse_memory_size("80GiB", "--gpu-memory"), int64_t{80} << 30);
  EXPECT_EQ(*parse_memory_size("80GB", "--gpu-memory"), int64_t{80000000000});
  EXPECT_EQ(*parse_memory_size("512M", "--ram"), int64_t{512} << 20);
  EXPECT_EQ(*parse_memory_size("1.5T", "--ram"), int64_t{3} << 39);
  for (const char* bad : {"", "lots", "80X", "-4", "0"}) {
    const auto r = parse_memory_size(bad, "--gpu-memory");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message.find("--gpu-memory \"" + std::string(bad) + "\""), std::string::npos);
  }
}

TEST(CustomMachine, GpuFiguresAmendTheGpusThereAre) {
  Hardware hw;
  hw.gpus.assign(2, Device{"RTX 4090", "gpu", "catalogue", int64_t{24} << 30, 1008e9, 165e12, 330e12});
  MachineOverrides o;
  o.gpu_memory_bytes = int64_t{48} << 30;
  ASSERT_TRUE(apply_overrides(hw, o, 2));
  ASSERT_EQ(hw.gpus.size(), 2u);
  EXPECT_EQ(hw.gpus[1].memory_bytes, int64_t{48} << 30);
  EXPECT_EQ(hw.gpus[1].bandwidth_bytes_per_s, 1008e9);
  EXPECT_EQ(hw.gpus[1].source, "catalogue + custom");
}

TEST(CustomMachine, ACustomGpuNeedsAllThreeFiguresAndComesInGpuCount) {
  Hardware hw;
  MachineOverrides o;
  o.gpu_memory_bytes = int64_t{48} << 30;
  o.gpu_bandwidth_bytes_per_s = 960e9;
  const auto missing = apply_overrides(hw, o, 1);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().message.find("--gpu-tflops"), std::string::npos);
  o.gpu_fp16_flops_per_s = 150e12;
  ASSERT_TRUE(apply_overrides(hw, o, 3));
  ASSERT_EQ(hw.gpus.size(), 3u);
  EXPECT_EQ(hw.gpus[0].name, "custom GPU");
  EXPECT_EQ(hw.gpus[0].source, "custom");
  EXPECT_EQ(hw.gpus[0].fp16_flops_per_s, 150e12);
}

TEST(CustomMachine, CoresAndRamRemakeTheCpuDevice) {
  Hardware hw;
  hw.host.physical_cores = 2;
  hw.cpu = cpu_device(hw.host);
  MachineOverrides o;
  o.cpu_cores = 16;
  o.ram_bytes = int64_t{128} << 30;
  ASSERT_TRUE(apply_overrides(hw, o, 1));
  EXPECT_EQ(hw.cpu.memory_bytes, int64_t{128} << 30);
  EXPECT_EQ(hw.host.ram_total_bytes, int64_t{128} << 30);
  EXPECT_DOUBLE_EQ(hw.cpu.fp16_flops_per_s, 8 * cpu_device(HostInfo{.physical_cores = 2}).fp16_flops_per_s);
  o.cpu_cores = 0;
  EXPECT_FALSE(apply_overrides(hw, o, 1).has_value());
}

}  // namespace
}  // namespace batchwise
