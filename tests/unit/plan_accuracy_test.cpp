// The memory model against llama.cpp itself: for models of five architectures (dense llama, qwen2
// with biases, Gemma 2 sliding-window, MoE Mixtral and Qwen3-MoE, DeepSeek MLA) at their real sizes,
// `plan`'s prediction of device memory (weights + KV cache + compute buffer) is compared with what
// llama.cpp's dry run (model and context with no_alloc) says it would allocate on the CPU backend.
// The models are sparse GGUFs (tests/support/sparse_gguf.h); one synthetic tiny model is loaded for
// real to show that the dry run and a real allocation agree. Target: within 3% everywhere.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "model/amx_packing.h"
#include "llama.h"
#include "model/model_source.h"
#include "model/synth.h"
#include "plan/memory_model.h"
#include "plan/plan.h"
#include "plan/run_layout.h"
#include "sparse_gguf.h"
#include "test_support.h"

#ifdef BATCHWISE_HAVE_LLAMA_EXT
#include "llama-ext.h"
#include "llama_dry_run.h"

namespace batchwise {
namespace {

using test::error_percent;
using test::llama_memory;
ContextConfig config(int64_t n_ctx, int64_t n_seq, int64_t ubatch, bool fa, const char* kv = "f16", bool unified = true) {
  return test::llama_test_config(n_ctx, n_seq, ubatch, fa, kv, unified);
}

struct Case {
  std::string preset;
  FileType quant;
  ContextConfig ctx;
};

TEST(PlanAccuracy, DeviceMemoryWithin3PercentOfLlamaCpp) {
  // The CPU backend's figures are those of a CPU-only build: on the H200's CUDA build the same dry runs
  // reported 2-18% more weights and DeepSeek-V2-Lite stopped on a ggml scheduler assert
  // (plan_accuracy_cuda_test.cpp covers GPU builds).
  if (test::llama_has_gpu_device()) GTEST_SKIP() << "a GPU build: the CPU-backend comparison is for CPU-only builds";
  const std::vector<Case> cases = {
      {"llama-3.2-1b", FileType::kF16, config(4096, 1, 512, true)},
      {"llama-3.1-8b", FileType::kQ4_K_M, config(8192, 8, 512, true)},
      {"llama-3.1-8b", FileType::kQ8_0, config(16384, 16, 512, true, "q8_0")},
      {"llama-3.1-8b", FileType::kQ4_K_M, config(4096, 4, 256, false, "f16", false)},
      {"qwen2.5-7b", FileType::kQ4_K_M, config(32768, 4, 512, true)},
      {"qwen2.5-7b", FileType::kQ4_0, config(8192, 2, 512, false)},
      {"gemma-2-9b", FileType::kQ4_K_M, config(8192, 4, 512, true)},
      {"gemma-2-9b", FileType::kF16, config(32768, 1, 1024, true, "q8_0")},
      {"mistral-7b", FileType::kQ4_K_M, config(16384, 1, 1024, false)},
      {"mistral-7b", FileType::kQ8_0, config(8192, 8, 2048, true, "q4_0")},
      {"mixtral-8x7b", FileType::kQ4_K_M, config(4096, 2, 512, true)},
      {"qwen3-30b-a3b", FileType::kQ4_K_M, config(16384, 8, 512, true)},
      {"deepseek-v2-lite", FileType::kQ4_K_M, config(8192, 4, 512, true)},
  };
  test::SparseModels models;
  std::printf("\n%-18s %-7s %-32s %14s %14s %8s  (weights / kv / compute error %%)\n", "model", "quant", "context",
              "predicted B", "llama.cpp B", "err %");
  for (const auto& c : cases) {
    auto gguf = models.get(c.preset, c.quant);
    ASSERT_TRUE(gguf) << gguf.error().message;
    const std::filesystem::path& path = *gguf;

    // The prediction goes through the same path as `plan --model FILE.gguf`.
    auto info = load_model_info(path.string());
    ASSERT_TRUE(info) << info.error().message;
    ContextConfig ctx = c.ctx;
    ctx.cpu_amx = llama_cpu_uses_amx() && amx_holds_model(info->spec);  // DeepSeek's MLA is loaded without AMX buffers (llama_handles.h)
    const MemoryEstimate predicted = estimate_memory(info->spec, *info->file_weights, ctx, /*on_gpu=*/false);
    const test::LlamaBuffers actual = llama_memory(path, ctx, /*dry_run=*/true).all();
    const double err = error_percent(predicted.device.total_bytes(), actual.total());
    char label[64];
    std::snprintf(label, sizeof label, "ctx %lld x%lld ub %lld fa %d kv %s%s", (long long)c.ctx.n_ctx_tokens,
                  (long long)c.ctx.n_seq, (long long)c.ctx.n_ubatch_tokens, c.ctx.flash_attention ? 1 : 0,
                  std::string(c.ctx.k_type.name).c_str(), c.ctx.kv_unified ? "" : " split");
    std::printf("%-18s %-7s %-32s %14lld %14lld %+7.2f%%  (%+.2f / %+.2f / %+.2f)\n", c.preset.c_str(),
                std::string(file_type_name(c.quant)).c_str(), label, (long long)predicted.device.total_bytes(),
                (long long)actual.total(), err, error_percent(predicted.device.weights_bytes, actual.model),
                error_percent(predicted.device.kv_cache_bytes, actual.context),
                error_percent(predicted.device.compute_bytes, actual.compute));
    EXPECT_LT(std::fabs(err), 3.0) << c.preset << " " << label;
  }
}

// `plan -np B --lanes L` against llama.cpp with the contexts `run --lanes L` creates: one model, L
// contexts of c/L cells and np/L + 4 sequences, each with its own KV cache and compute buffer. Seed
// workload, 128 sequences a lane (the GPU's measured sweet spot), 1, 2 and 4 lanes.
TEST(PlanAccuracy, LanesAddUpAsLlamaCppAllocatesThemAt1_2And4Lanes) {
  if (test::llama_has_gpu_device()) GTEST_SKIP() << "a GPU build: the CPU-backend comparison is for CPU-only builds";
  test::SparseModels models;
  auto gguf = models.get("llama-3.1-8b", FileType::kQ4_K_M);
  ASSERT_TRUE(gguf) << gguf.error().message;
  int64_t one_lane_total = 0;
  for (int64_t lanes : {1, 2, 4}) {
    PlanRequest req;
    req.model = gguf->string();
    req.gpu = "cpu";
    req.workload = *workload_preset("seed");
    req.parallel = 128 * lanes;
    req.lanes = lanes;
    auto plan = make_plan(req);
    ASSERT_TRUE(plan) << plan.error().message;
    ASSERT_TRUE(plan->recommendation.asked);
    const BatchChoice& c = plan->recommendation.asked->choice;
    ASSERT_EQ(c.lanes, lanes);
    ContextConfig base = plan->input.base;
    base.kv_unified = true;
    const std::vector<ContextConfig> contexts = lane_contexts(base, RunLayout{c.batch, c.context_tokens, c.lanes});
    ASSERT_EQ(static_cast<int64_t>(contexts.size()), lanes);
    EXPECT_EQ(contexts.front().n_seq, 128 + kRunPrefixSlots) << "run's prefix slots are sequences to llama.cpp";
    const test::LlamaBuffers actual = llama_memory(*gguf, contexts, /*dry_run=*/true).all();
    const DeviceMemory& predicted = c.memory.device;
    const double err = error_percent(predicted.total_bytes(), actual.total());
    std::printf("llama-3.1-8b q4_k_m seed -np %lld -c %lld --lanes %lld: predicted %lld, llama.cpp %lld (%+.2f%%; kv %+.2f%%, "
                "compute %+.2f%%)\n",
                (long long)c.batch, (long long)c.context_tokens, (long long)lanes, (long long)predicted.total_bytes(),
                (long long)actual.total(), err, error_percent(predicted.kv_cache_bytes, actual.context),
                error_percent(predicted.compute_bytes, actual.compute));
    EXPECT_LT(std::fabs(err), 3.0) << lanes << " lanes";
    EXPECT_LT(std::fabs(error_percent(predicted.kv_cache_bytes + predicted.compute_bytes, actual.context + actual.compute)), 3.0)
        << lanes << " lanes: what the lanes add, not only the weights, must be right";
    if (lanes == 1) one_lane_total = actual.total();
    if (lanes > 1) {
      EXPECT_GT(actual.total(), one_lane_total) << "each lane adds its prefix cells and compute buffer";
    }
  }
}

// The dry run reports what a real load allocates, so comparing with it is comparing with reality.
TEST(PlanAccuracy, DryRunMatchesRealAllocationOnTinyModel) {
  if (test::llama_has_gpu_device()) GTEST_SKIP() << "a GPU build: the CPU-backend comparison is for CPU-only builds";
  auto tiny = default_tiny_model();
  ASSERT_TRUE(tiny) << tiny.error().message;
  const ContextConfig c = config(2048, 4, 256, true);
  const test::LlamaBuffers dry = llama_memory(*tiny, c, true).all();
  const test::LlamaBuffers real = llama_memory(*tiny, c, false).all();
  EXPECT_EQ(dry.context, real.context);
  EXPECT_NEAR(static_cast<double>(dry.total()), static_cast<double>(real.total()), 0.03 * real.total());
  auto info = load_model_info(tiny->string());
  ASSERT_TRUE(info);
  const MemoryEstimate predicted = estimate_memory(info->spec, *info->file_weights, c, false);
  std::printf("tiny f16 ctx 2048 x4: predicted %lld, llama.cpp real %lld (%+.2f%%)\n",
              (long long)predicted.device.total_bytes(), (long long)real.total(),
              error_percent(predicted.device.total_bytes(), real.total()));
  EXPECT_LT(std::fabs(error_percent(predicted.device.total_bytes(), real.total())), 3.0);

  // Two contexts over the one model, as `run --lanes 2` makes them: the dry run still equals a real load.
  const std::vector<ContextConfig> lanes = lane_contexts(c, RunLayout{8, 4096, 2});
  const test::LlamaBuffers dry2 = llama_memory(*tiny, lanes, true).all();
  const test::LlamaBuffers real2 = llama_memory(*tiny, lanes, false).all();
  EXPECT_EQ(dry2.context, real2.context);
  EXPECT_NEAR(static_cast<double>(dry2.total()), static_cast<double>(real2.total()), 0.03 * real2.total());
  const MemoryEstimate predicted2 = estimate_run_memory(info->spec, *info->file_weights, c, RunLayout{8, 4096, 2}, false);
  EXPECT_LT(std::fabs(error_percent(predicted2.device.total_bytes(), real2.total())), 3.0);
}

}  // namespace
}  // namespace batchwise
#endif
