// The GPU catalogue: datasheet figures, lookup by the names people type and the names NVML reports.
#include "hardware/gpu_catalogue.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

std::vector<GpuSpec> catalogue() {
  auto c = load_gpu_catalogue();
  EXPECT_TRUE(c) << c.error().message;
  return c ? *c : std::vector<GpuSpec>{};
}

TEST(GpuCatalogue, HoldsTheGpusTheIssueNames) {
  const auto c = catalogue();
  for (const char* name : {"RTX 3080", "RTX 3090", "RTX 4080", "RTX 4090", "RTX 5070 Ti", "RTX 5090", "A10G", "L4",
                           "L40S", "A100 40GB", "A100 80GB", "H100 SXM", "H100 PCIe", "H200", "B200", "MI300X",
                           "Apple M2 Max", "Apple M4 Max", "cpu-ddr4"}) {
    auto g = find_gpu(c, name);
    ASSERT_TRUE(g) << name;
    EXPECT_GT(g->memory_bytes, 0) << name;
    EXPECT_GT(g->bandwidth_bytes_per_s, 0) << name;
    EXPECT_GT(g->fp16_flops_per_s, 0) << name;
    EXPECT_GE(g->int8_ops_per_s, g->fp16_flops_per_s) << name << ": INT8 is never slower than FP16";
  }
}

// NVIDIA's H100 SXM datasheet: 3.35 TB/s HBM3, 989 TFLOP/s dense BF16 (1,979 with sparsity), 1,979 INT8 dense.
TEST(GpuCatalogue, FiguresAreDenseDatasheetOnes) {
  const auto c = catalogue();
  auto h100 = find_gpu(c, "h100-sxm");
  ASSERT_TRUE(h100);
  EXPECT_DOUBLE_EQ(h100->bandwidth_bytes_per_s, 3.35e12);
  EXPECT_DOUBLE_EQ(h100->bf16_flops_per_s, 989e12);
  EXPECT_DOUBLE_EQ(h100->int8_ops_per_s, 1979e12);
  auto a100 = find_gpu(c, "A100 80GB");
  ASSERT_TRUE(a100);
  EXPECT_DOUBLE_EQ(a100->fp16_flops_per_s, 312e12);
  auto m300 = find_gpu(c, "MI300X");
  ASSERT_TRUE(m300);
  EXPECT_GT(m300->memory_bytes, h100->memory_bytes * 2);
}

TEST(GpuCatalogue, NvmlNamesMatchTheirEntry) {
  const auto c = catalogue();
  const std::pair<const char*, const char*> names[] = {
      {"NVIDIA H100 80GB HBM3", "H100 SXM"},   {"NVIDIA H100 PCIe", "H100 PCIe"},
      {"NVIDIA GeForce RTX 4090", "RTX 4090"}, {"NVIDIA A100-SXM4-40GB", "A100 40GB"},
      {"NVIDIA A100-SXM4-80GB", "A100 80GB"},  {"NVIDIA H200", "H200"},
      {"NVIDIA L40S", "L40S"},                 {"NVIDIA GeForce RTX 5070 Ti", "RTX 5070 Ti"}};
  for (const auto& [nvml, entry] : names) {
    auto m = match_probed_gpu(c, nvml);
    ASSERT_TRUE(m) << nvml;
    EXPECT_EQ(m->name, entry) << nvml;
  }
  EXPECT_FALSE(match_probed_gpu(c, "NVIDIA Tesla K80")) << "an unknown GPU matches nothing";
}

TEST(GpuCatalogue, UnknownNameListsCloseOnes) {
  auto g = find_gpu(catalogue(), "RTX 4900");
  ASSERT_FALSE(g);
  EXPECT_TRUE(g.error().code == ErrorCode::kNotFound);
  EXPECT_NE(g.error().message.find("RTX 4090"), std::string::npos) << g.error().message;
}

}  // namespace
}  // namespace batchwise
