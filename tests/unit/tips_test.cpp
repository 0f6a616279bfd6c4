// Tips as a user reads them: derived from the plan (a tight GPU is told its second lane does not fit
// and f16 weights do not either; a roomy one that they do), nothing GPU-only for a CPU, and no tips
// for a model that does not fit (its options are the advice).
#include "plan/tips.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

RecommendInput input(const char* model, FileType type, const char* gpu, int64_t memory_gib = 0) {
  RecommendInput in;
  in.spec = *find_preset(model);
  in.weights = estimate_weights(in.spec, type);
  in.device = device_from_catalogue(*find_gpu(*load_gpu_catalogue(), gpu));
  if (memory_gib > 0) in.device.memory_bytes = memory_gib << 30;
  in.workload = *workload_preset("seed");
  return in;
}

std::string text_of(const std::vector<Tip>& tips, const std::string& topic) {
  for (const auto& t : tips) {
    if (t.topic == topic) return t.text;
  }
  return "";
}

TEST(Tips, ATightGpuIsToldWhatDoesNotFit) {
  const RecommendInput in = input("llama-3.1-70b", FileType::kQ4_K_M, "RTX 4090", 42);
  const auto tips = plan_tips(in, recommend(in), "q4_k_m");
  const std::string lanes = text_of(tips, "lanes");
  EXPECT_EQ(lanes.find("--lanes 1 at batch"), 0u) << lanes;
  EXPECT_NE(lanes.find("with --lanes 2"), std::string::npos) << "what the other choice would give: " << lanes;
  EXPECT_NE(text_of(tips, "quantization").find("do not fit: keep q4_k_m"), std::string::npos);
  EXPECT_NE(text_of(tips, "second model").find("no room"), std::string::npos);
  EXPECT_NE(text_of(tips, "kv cache").find("max batch"), std::string::npos);
}

TEST(Tips, ARoomyGpuIsToldWhatAnotherLaneGivesAndThatASecondModelFits) {
  const RecommendInput in = input("llama-3.1-8b", FileType::kQ4_K_M, "H200");
  const auto tips = plan_tips(in, recommend(in), "q4_k_m");
  const std::string lanes = text_of(tips, "lanes");
  EXPECT_NE(lanes.find(" req/s vs "), std::string::npos) << lanes;
  EXPECT_EQ(lanes.find("does not fit"), std::string::npos) << "141 GiB holds another lane: " << lanes;
  EXPECT_NE(text_of(tips, "second model").find("a second copy of this model"), std::string::npos);
}

// On a Hopper GPU llama.cpp's quantized matmuls reach about a sixth of the F16 rate (docs/plan.md): at the seed's
// batch F16 weights are told to be much faster, and why; an A100, whose tensor peak they reach, is not told that why.
TEST(Tips, OnAHopperGpuQuantizedWeightsAreToldF16IsFasterAndWhy) {
  const RecommendInput h200 = input("llama-3.1-8b", FileType::kQ4_K_M, "H200");
  const std::string hopper = text_of(plan_tips(h200, recommend(h200), "q4_k_m"), "quantization");
  EXPECT_EQ(hopper.find("faster: --quant f16"), 0u) << hopper;
  EXPECT_NE(hopper.find("warpgroup MMAs"), std::string::npos) << hopper;
  const RecommendInput a100 = input("llama-3.1-8b", FileType::kQ4_K_M, "A100 80GB");
  const std::string ampere = text_of(plan_tips(a100, recommend(a100), "q4_k_m"), "quantization");
  ASSERT_FALSE(ampere.empty());
  EXPECT_EQ(ampere.find("warpgroup"), std::string::npos) << ampere;
}

TEST(Tips, TheCpuGetsNoGpuTipsAndATooBigModelNone) {
  RecommendInput cpu = input("llama-3.2-1b", FileType::kQ4_K_M, "cpu");
  cpu.device.kind = "cpu";
  const auto tips = plan_tips(cpu, recommend(cpu), "q4_k_m");
  EXPECT_EQ(text_of(tips, "lanes"), "");
  EXPECT_EQ(text_of(tips, "quantization"), "");
  EXPECT_NE(text_of(tips, "context"), "");
  const RecommendInput big = input("llama-3.1-70b", FileType::kF16, "RTX 4090");
  EXPECT_TRUE(plan_tips(big, recommend(big), "f16").empty());
}

}  // namespace
}  // namespace batchwise
