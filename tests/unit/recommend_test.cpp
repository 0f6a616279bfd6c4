// Recommendations a user would check: safe <= recommended <= max, the batch fits the device, a latency
// SLO lowers the batch, and a model too big for the device says by how much and what would fit.
#include "plan/recommend.h"

#include <gtest/gtest.h>

#include <cmath>
#include <utility>
#include <vector>

namespace batchwise {
namespace {

RecommendInput input(const char* model, FileType type, const char* gpu, const char* workload) {
  RecommendInput in;
  in.spec = *find_preset(model);
  in.weights = estimate_weights(in.spec, type);
  in.device = device_from_catalogue(*find_gpu(*load_gpu_catalogue(), gpu));
  in.workload = *workload_preset(workload);
  return in;
}

TEST(Recommend, SeedOn4090OrdersSafeRecommendedMaxAndFits) {
  const RecommendInput in = input("llama-3.1-8b", FileType::kQ4_K_M, "RTX 4090", "seed");
  const Recommendation r = recommend(in);
  ASSERT_TRUE(r.fits);
  EXPECT_LE(r.safe.batch, r.recommended.batch);
  EXPECT_LE(r.recommended.batch, r.max.batch);
  EXPECT_LE(r.max.batch, kRunSequencesPerLane * r.max.lanes) << "252 of run's sequences a lane";
  EXPECT_LE(r.max.lanes, kMaxPlannedLanes);
  EXPECT_LE(r.max.memory.device.total_bytes(), in.device.memory_bytes);
  EXPECT_LE(static_cast<double>(r.safe.memory.device.total_bytes()), kSafeMemoryFraction * in.device.memory_bytes);
  EXPECT_GE(r.max.context_tokens, in.workload.kv_cells_for_batch(r.max.batch, true));
  EXPECT_FALSE(r.curve.empty());
  EXPECT_EQ(r.curve.back().batch, r.max.batch);
}

TEST(Recommend, SharingThePrefixAllowsMoreSequences) {
  RecommendInput in = input("llama-3.1-8b", FileType::kQ4_K_M, "RTX 4090", "seed");
  const int64_t shared = recommend(in).max.batch;
  in.share_prefix = false;
  const int64_t unshared = recommend(in).max.batch;
  EXPECT_GT(shared, 2 * unshared) << "the 2,000-token rubric stored once instead of per sequence";
}

TEST(Recommend, LatencySloLowersTheBatch) {
  RecommendInput in = input("llama-3.1-8b", FileType::kQ4_K_M, "H100 SXM", "chat");
  const Recommendation free_run = recommend(in);
  const double slo = free_run.curve.front().request_latency_s * 1.5;
  in.max_latency_s = slo;
  const Recommendation bounded = recommend(in);
  EXPECT_LE(bounded.recommended.batch, free_run.recommended.batch);
  EXPECT_LE(bounded.recommended.perf.request_latency_s, slo);
  in.max_latency_s = 1e-6;
  const Recommendation impossible = recommend(in);
  EXPECT_EQ(impossible.recommended.batch, 1);
  EXPECT_NE(impossible.limited_by.find("not met"), std::string::npos);
}

TEST(Recommend, TooBigSaysByHowMuchAndWhatFits) {
  const RecommendInput in = input("llama-3.1-70b", FileType::kF16, "RTX 3080", "chat");
  const Recommendation r = recommend(in);
  ASSERT_FALSE(r.fits);
  EXPECT_GT(r.shortfall_bytes, int64_t{100} << 30) << "140 GB of weights on a 10 GiB card";
  ASSERT_FALSE(r.suggestions.empty());
  bool offload = false;
  for (const auto& s : r.suggestions) offload |= s.find("-ngl") != std::string::npos;
  EXPECT_TRUE(offload);

  const RecommendInput close = input("llama-3.1-8b", FileType::kF16, "RTX 3080", "chat");
  const Recommendation q = recommend(close);
  ASSERT_FALSE(q.fits);
  EXPECT_NE(q.suggestions.front().find("--quant"), std::string::npos) << q.suggestions.front();
}

TEST(Recommend, CpuOnlyPlanIsFinite) {
  RecommendInput in = input("llama-3.2-1b", FileType::kQ4_K_M, "cpu", "seed");
  in.device = cpu_device(HostInfo{});
  const Recommendation r = recommend(in);
  ASSERT_TRUE(r.fits);
  EXPECT_TRUE(std::isfinite(r.recommended.perf.requests_per_s));
  EXPECT_GT(r.recommended.perf.requests_per_s, 0);
}

TEST(Recommend, AskedSequencesGetRunsDefaultLanesOnAGpu) {
  // run --lanes 0 on a GPU: below 512 sequences one lane per 128 (2 to 4), from 512 on one per 252 (4 to 16):
  // 1,008 in 4 lanes ran 255.5 req/s where 8 lanes ran 219.2 (H100, 8B F16, seed).
  for (const auto& [batch, lanes] : std::vector<std::pair<int64_t, int64_t>>{
           {8, 2}, {256, 2}, {384, 3}, {511, 4}, {512, 4}, {1008, 4}, {1260, 5}, {2016, 8}, {4032, 16}}) {
    RecommendInput in = input("llama-3.1-8b", FileType::kF16, "H200", "seed");
    in.asked_batch = batch;
    const Recommendation r = recommend(in);
    ASSERT_TRUE(r.asked.has_value()) << batch;
    EXPECT_EQ(r.asked->choice.lanes, lanes) << batch << " sequences";
  }
}

TEST(Recommend, AskedSettingsAreEvaluatedAsGivenBesidesTheRecommendation) {
  RecommendInput in = input("llama-3.1-8b", FileType::kQ4_K_M, "RTX 4090", "seed");
  in.asked_batch = 8;
  in.asked_context_tokens = 5000;  // padded to 5120, as llama.cpp pads
  const Recommendation r = recommend(in);
  ASSERT_TRUE(r.asked.has_value());
  EXPECT_EQ(r.asked->choice.batch, 8);
  EXPECT_EQ(r.asked->choice.context_tokens, 5120);
  EXPECT_EQ(r.asked->choice.lanes, 2) << "run's default on a GPU";
  EXPECT_EQ(r.asked->choice.memory.kv.cells_full, 2560) << "each lane gets -c / 2";
  EXPECT_EQ(r.asked->free_bytes, in.device.memory_bytes - r.asked->choice.memory.device.total_bytes());
  EXPECT_EQ(r.asked->requests_held, 8);  // per lane 2,000 shared + 4 x 82 cells fit in 2,560
  in.asked_batch.reset();
  in.asked_context_tokens = 2304;  // alone: as many requests as the cells hold
  const AskedSettings alone = *recommend(in).asked;
  EXPECT_EQ(alone.choice.batch, 3);  // 2000 + 3 x 82 = 2246 <= 2304 < 2000 + 4 x 82
}

TEST(Recommend, NoSafeBatchWhenEvenBatchOneBreaksTheHeadroom) {
  RecommendInput in = input("llama-3.1-70b", FileType::kQ4_K_M, "RTX 4090", "seed");
  in.device.memory_bytes = int64_t{42} << 30;
  const Recommendation r = recommend(in);
  ASSERT_TRUE(r.fits);
  EXPECT_FALSE(r.safe_meets_headroom);
  EXPECT_EQ(r.safe.batch, 1);
  EXPECT_EQ(r.per_request.safe_tokens, 0);
  EXPECT_GT(r.per_request.max_tokens, in.workload.request_context_tokens());
}

TEST(Recommend, TooBigOffersTheFewestGpusThatFit) {
  RecommendInput in = input("llama-3.1-70b", FileType::kF16, "H100 SXM", "seed");
  const Recommendation r = recommend(in);
  ASSERT_FALSE(r.fits);
  bool two = false;
  for (const auto& s : r.suggestions) two = two || s.starts_with("--gpus 2:");
  EXPECT_TRUE(two) << "131 GiB of weights fit two 80 GB GPUs";
  in.device = combine_gpus(in, in.device, 2);
  EXPECT_TRUE(recommend(in).fits);
}

TEST(Recommend, KvTypesMustDivideTheHeadSize) {
  const ModelSpec tiny = *find_preset("tiny");
  const WeightType f16 = *parse_weight_type("f16"), q8 = *parse_weight_type("q8_0");
  EXPECT_TRUE(check_kv_types(*find_preset("llama-3.1-8b"), q8, q8));
  EXPECT_TRUE(check_kv_types(*find_preset("deepseek-v2-lite"), q8, q8));  // MLA: 512 + 64
  EXPECT_TRUE(check_kv_types(tiny, f16, f16));
  ASSERT_EQ(tiny.head_dim % 32, 16) << "the tiny model's 16-wide heads are the case llama.cpp refuses";
  const auto refused = check_kv_types(tiny, q8, f16);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("K cache type q8_0"), std::string::npos) << refused.error().message;
}

}  // namespace
}  // namespace batchwise
