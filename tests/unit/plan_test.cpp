// make_plan end to end (no printing): model and hardware resolution, weights from the GGUF itself,
// bad names that list close ones, and the JSON/text reports naming their units.
#include "plan/plan.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "model/amx_packing.h"
#include "plan/plan_report.h"
#include "sparse_gguf.h"
#include "test_support.h"

namespace batchwise {
namespace {

PlanRequest request(const std::string& model, const char* gpu) {
  PlanRequest r;
  r.model = model;
  r.gpu = gpu;
  r.workload = *workload_preset("seed");
  return r;
}

TEST(Plan, PresetOnACatalogueGpu) {
  auto plan = make_plan(request("llama-3.1-8b", "H100 SXM"));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->quant, "q4_k_m");
  EXPECT_TRUE(plan->recommendation.fits);
  ASSERT_EQ(plan->devices.size(), 1u);
  EXPECT_LE(plan->devices[0].predicted.total_bytes(), plan->devices[0].memory_bytes);
  EXPECT_EQ(plan->flags.size(), 5u);
}

// On a CPU whose llama.cpp keeps matrices in AMX buffers, plan counts them and says so; elsewhere neither. An F16
// Llama 3.2 1B ties its output projection to the embedding: AMX holds a second copy of it.
TEST(Plan, ACpuPlanCountsLlamaCppsAmxBuffersWhereItUsesThem) {
  PlanRequest r = request("llama-3.2-1b", "cpu");
  r.quant = "f16";
  auto plan = make_plan(r);
  ASSERT_TRUE(plan) << plan.error().message;
  const bool amx = llama_cpu_uses_amx();
  const bool said = std::any_of(plan->notes.begin(), plan->notes.end(),
                                [](const std::string& n) { return n.find("AMX buffers") != std::string::npos; });
  EXPECT_EQ(said, amx);
  ASSERT_EQ(plan->devices.size(), 1u);
  EXPECT_EQ(plan->devices[0].predicted.weights_bytes,
            plan->weights.total_bytes + (amx ? plan->weights.token_embd_bytes : 0));
}

TEST(Plan, GgufWeightsAreTheFilesOwn) {
  auto spec = find_preset("qwen3-30b-a3b");
  spec->vocab = "qwen2";
  spec->vocab_size = test::vocab_tokens("qwen2");
  const auto path = test::scratch_dir() / "moe.gguf";
  ASSERT_EQ(test::write_sparse_gguf(*spec, FileType::kQ8_0, path), "");
  auto plan = make_plan(request(path.string(), "L40S"));
  ASSERT_TRUE(plan) << plan.error().message;
  EXPECT_EQ(plan->quant, "q8_0");
  EXPECT_EQ(plan->weights.source, "gguf tensor infos");
  auto requant = request(path.string(), "L40S");
  requant.quant = "q4_k_m";
  auto smaller = make_plan(requant);
  ASSERT_TRUE(smaller);
  EXPECT_LT(smaller->weights.total_bytes, plan->weights.total_bytes);
}

TEST(Plan, MultipleGpusSplitTheLayers) {
  auto req = request("llama-3.1-70b", "RTX 4090");
  req.quant = "q4_k_m";
  auto one = make_plan(req);
  ASSERT_TRUE(one);
  EXPECT_FALSE(one->recommendation.fits) << "40 GB of weights on 24 GiB";
  req.gpu_count = 2;
  auto two = make_plan(req);
  ASSERT_TRUE(two);
  EXPECT_TRUE(two->recommendation.fits);
  ASSERT_EQ(two->devices.size(), 2u);
  for (const auto& d : two->devices) EXPECT_LE(d.predicted.total_bytes(), d.memory_bytes);
}

TEST(Plan, BadNamesListCloseOnes) {
  auto model = make_plan(request("gemma-2-9", "H100 SXM"));
  ASSERT_FALSE(model);
  EXPECT_NE(model.error().message.find("gemma-2-9b"), std::string::npos);
  auto gpu = make_plan(request("llama-3.1-8b", "H10 SXM"));
  ASSERT_FALSE(gpu);
  EXPECT_NE(gpu.error().message.find("H100 SXM"), std::string::npos) << gpu.error().message;
}

TEST(PlanReport, JsonNamesEveryFigureWithItsUnit) {
  auto plan = make_plan(request("llama-3.1-8b", "RTX 4090"));
  ASSERT_TRUE(plan);
  const auto j = nlohmann::json::parse(plan_to_json(*plan));
  EXPECT_EQ(j["kv_cache"]["kv_bytes_per_token"], 131072);
  EXPECT_EQ(j["model"]["weights_bytes"], plan->weights.total_bytes);
  EXPECT_GT(j["recommended"]["decode_tokens_per_s"].get<double>(), 0);
  EXPECT_GT(j["recommended"]["device_memory"]["total_bytes"].get<int64_t>(), 0);
  EXPECT_TRUE(j["engines"].contains("llama-server"));
  for (const char* key : {"max", "recommended", "safe"}) {
    for (const auto& [name, value] : j[key].items()) {
      if (!value.is_number() || name == "batch" || name == "lanes" || name == "compute_bound") continue;
      const bool has_unit = name.ends_with("_bytes") || name.ends_with("_s") || name.ends_with("_per_s") ||
                            name.ends_with("_tokens");
      EXPECT_TRUE(has_unit) << key << "." << name;
    }
  }
  const std::string text = plan_to_text(*plan);
  EXPECT_NE(text.find("recommended"), std::string::npos);
  EXPECT_NE(text.find("llama-server: -c"), std::string::npos);
}

}  // namespace
}  // namespace batchwise
