// Engine flags carry the recommended batch and context, and prefix sharing where the engine has it.
#include "plan/engine_flags.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace batchwise {
namespace {

const EngineFlags& find(const std::vector<EngineFlags>& all, const std::string& engine) {
  return *std::find_if(all.begin(), all.end(), [&](const EngineFlags& f) { return f.engine == engine; });
}

// The value after `flag` in args, "" when absent.
std::string value_of(const EngineFlags& f, const std::string& flag) {
  auto it = std::find(f.args.begin(), f.args.end(), flag);
  return it == f.args.end() || it + 1 == f.args.end() ? "" : *(it + 1);
}

bool has(const EngineFlags& f, const std::string& arg) {
  return std::find(f.args.begin(), f.args.end(), arg) != f.args.end();
}

RecommendInput input(const char* workload, const char* kv = "f16") {
  RecommendInput in;
  in.spec = *find_preset("llama-3.1-8b");
  in.weights = estimate_weights(in.spec, FileType::kQ4_K_M);
  in.device = device_from_catalogue(*find_gpu(*load_gpu_catalogue(), "RTX 4090"));
  in.workload = *workload_preset(workload);
  in.base.k_type = in.base.v_type = *parse_weight_type(kv);
  return in;
}

TEST(EngineFlags, EveryEngineGetsTheRecommendedBatch) {
  const RecommendInput in = input("seed");
  const BatchChoice choice = recommend(in).recommended;
  const auto flags = engine_flags(in, choice);
  const std::string b = std::to_string(choice.batch);
  EXPECT_EQ(value_of(find(flags, "llama-server"), "-np"), b);
  // llama-server keeps every slot's prompt: -c holds -np whole requests (5% slack, padded to 256).
  EXPECT_EQ(value_of(find(flags, "llama-server"), "-c"), std::to_string(choice.batch * 2304));
  EXPECT_EQ(value_of(find(flags, "vllm"), "--max-num-seqs"), b);
  EXPECT_EQ(value_of(find(flags, "sglang"), "--max-running-requests"), b);
  EXPECT_TRUE(has(find(flags, "ollama"), "OLLAMA_NUM_PARALLEL=" + b));
  EXPECT_EQ(value_of(find(flags, "batchwise"), "-c"), std::to_string(choice.context_tokens));
  EXPECT_EQ(value_of(find(flags, "batchwise"), "-ub"), "512");
  EXPECT_GE(std::stoll(value_of(find(flags, "vllm"), "--max-model-len")), in.workload.request_context_tokens());
}

TEST(EngineFlags, PrefixSharingOnlyWhereTheWorkloadShares) {
  const RecommendInput seed = input("seed");
  const auto shared = engine_flags(seed, recommend(seed).recommended);
  EXPECT_FALSE(has(find(shared, "llama-server"), "-kvu")) << "llama-server does not share the prefix's cells";
  EXPECT_NE(find(shared, "llama-server").note.find("every slot's copy of the prompt"), std::string::npos);
  EXPECT_TRUE(has(find(shared, "vllm"), "--enable-prefix-caching"));
  const RecommendInput chat = input("chat");
  const auto unshared = engine_flags(chat, recommend(chat).recommended);
  EXPECT_FALSE(has(find(unshared, "vllm"), "--enable-prefix-caching"));
  EXPECT_TRUE(has(find(unshared, "sglang"), "--disable-radix-cache"));
}

TEST(EngineFlags, KvTypeReachesTheEngines) {
  const RecommendInput in = input("chat", "q8_0");
  const auto flags = engine_flags(in, recommend(in).recommended);
  EXPECT_EQ(value_of(find(flags, "llama-server"), "-ctk"), "q8_0");
  EXPECT_EQ(value_of(find(flags, "llama-server"), "-ctv"), "q8_0");
  EXPECT_TRUE(has(find(flags, "ollama"), "OLLAMA_KV_CACHE_TYPE=q8_0"));
}

// The planned memory is for the lanes the plan chose, so the flags ask for exactly those.
TEST(EngineFlags, BatchwiseRunsTheLanesThePlanSized) {
  const RecommendInput in = input("seed");
  const BatchChoice choice = recommend(in).recommended;
  const EngineFlags bw = find(engine_flags(in, choice), "batchwise");
  EXPECT_EQ(value_of(bw, "--lanes"), std::to_string(choice.lanes));
  EXPECT_EQ(value_of(bw, "-c"), std::to_string(choice.context_tokens));
  EXPECT_NE(bw.note.find("holds it once"), std::string::npos) << bw.note;
}

}  // namespace
}  // namespace batchwise
