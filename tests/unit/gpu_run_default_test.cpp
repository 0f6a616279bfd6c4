// run's default on a GPU: the measured 4 lanes of 252 sequences where the memory allows it, less where it
// does not, and nothing (run's plain defaults) where not even one small lane fits.
#include "plan/gpu_run_default.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace batchwise {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

struct Model {
  ModelSpec spec;
  WeightsSummary weights;
};

Model llama_8b(FileType type) {
  auto spec = find_preset("llama-3.1-8b");
  EXPECT_TRUE(spec);
  return {*spec, estimate_weights(*spec, type)};
}

TEST(GpuRunDefault, OnAnH100OrH200ItIsFourLanesOf252WithRoomForTheSeedWorkload) {
  const Model m = llama_8b(FileType::kF16);
  for (const int64_t free_gib : {139, 79}) {
    const auto d = gpu_run_default(m.spec, m.weights, ContextConfig{}, free_gib * kGiB);
    ASSERT_TRUE(d) << free_gib;
    EXPECT_EQ(d->layout.lanes, 4);
    EXPECT_EQ(d->layout.parallel, 4 * 252) << "a context's most sequences in each lane";
    EXPECT_EQ(d->layout.ctx_tokens, 4 * 28672) << "a 2,000-token prompt shared and 252 requests of ~100 tokens a lane";
    EXPECT_EQ(d->batch_tokens, 4096);
    EXPECT_EQ(d->ubatch_tokens, 1024);
    // 15 GiB of weights and 14 GiB of KV cache (128 KiB a cell): the H100 measured 33.4 GB (31.1 GiB) at
    // 114,096 cells.
    EXPECT_GT(d->memory_bytes, 29 * kGiB);
    EXPECT_LT(d->memory_bytes, 34 * kGiB);
  }
}

TEST(GpuRunDefault, ASmallerGpuGetsFewerCellsOrLanesAndStaysWithinItsShareOfTheFreeMemory) {
  const Model m = llama_8b(FileType::kQ4_K_M);
  const auto big = gpu_run_default(m.spec, m.weights, ContextConfig{}, 139 * kGiB);
  ASSERT_TRUE(big);
  for (const int64_t free_gib : {24, 12, 8}) {
    const auto d = gpu_run_default(m.spec, m.weights, ContextConfig{}, free_gib * kGiB);
    ASSERT_TRUE(d) << free_gib << " GiB free";
    EXPECT_LE(d->memory_bytes, static_cast<int64_t>(0.85 * static_cast<double>(free_gib * kGiB))) << free_gib;
    const int64_t sequences = d->layout.parallel / d->layout.lanes, cells = d->layout.ctx_tokens / d->layout.lanes;
    EXPECT_TRUE(std::ranges::any_of(kGpuDefaultLaneShapes, [&](const GpuLaneShape& shape) {
      return shape.sequences == sequences && shape.cells == cells;
    })) << free_gib << " GiB: " << sequences << " sequences in " << cells << " cells a lane, not a default shape";
    EXPECT_GE(d->layout.ctx_tokens, d->layout.lanes * 4096);
    if (free_gib < 12) {
      EXPECT_LT(d->layout.ctx_tokens, big->layout.ctx_tokens) << free_gib << " GiB: less than the H200's";
    }
  }
}

TEST(GpuRunDefault, AModelThatLeavesNoRoomForOneLaneGetsNone) {
  const Model m = llama_8b(FileType::kF16);  // 15 GiB of weights
  EXPECT_FALSE(gpu_run_default(m.spec, m.weights, ContextConfig{}, 12 * kGiB));
}

}  // namespace
}  // namespace batchwise
