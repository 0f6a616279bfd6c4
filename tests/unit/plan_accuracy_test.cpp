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

#include "llama.h"
#include "model/model_source.h"
#include "model/synth.h"
#include "plan/memory_model.h"
#include "sparse_gguf.h"
#include "test_support.h"

#ifdef BATCHWISE_HAVE_LLAMA_EXT
#include "llama-ext.h"

namespace batchwise {
namespace {

struct Measured {
  int64_t model = 0, context = 0, compute = 0;
  int64_t total() const { return model + context + compute; }
};

struct Case {
  std::string preset;
  FileType quant;
  ContextConfig ctx;
};

ContextConfig config(int64_t n_ctx, int64_t n_seq, int64_t ubatch, bool fa, const char* kv = "f16",
                     bool unified = true) {
  ContextConfig c;
  c.n_ctx_tokens = n_ctx;
  c.n_seq = n_seq;
  c.n_batch_tokens = std::max<int64_t>(2048, ubatch);
  c.n_ubatch_tokens = ubatch;
  c.flash_attention = fa;
  c.kv_unified = unified;
  c.k_type = *parse_weight_type(kv);
  c.v_type = *parse_weight_type(kv);
  return c;
}

void quiet_log(ggml_log_level, const char*, void*) {}

// What llama.cpp would allocate: model, context (KV) and compute buffers over all buffer types.
Measured llama_memory(const std::filesystem::path& path, const ContextConfig& c, bool dry_run) {
  llama_log_set(quiet_log, nullptr);
  llama_model_params mp = llama_model_default_params();
  mp.no_alloc = dry_run;
  if (dry_run) mp.load_mode = LLAMA_LOAD_MODE_NONE;  // a dry run maps nothing
  mp.n_gpu_layers = 0;
  llama_model* model = llama_model_load_from_file(path.c_str(), mp);
  EXPECT_NE(model, nullptr) << path;
  Measured m;
  if (!model) return m;
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = static_cast<uint32_t>(c.n_ctx_tokens);
  cp.n_seq_max = static_cast<uint32_t>(c.n_seq);
  cp.n_batch = static_cast<uint32_t>(c.n_batch_tokens);
  cp.n_ubatch = static_cast<uint32_t>(c.n_ubatch_tokens);
  cp.flash_attn_type = c.flash_attention ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
  cp.type_k = static_cast<ggml_type>(c.k_type.ggml_id);
  cp.type_v = static_cast<ggml_type>(c.v_type.ggml_id);
  cp.kv_unified = c.kv_unified;
  cp.swa_full = c.swa_full;
  cp.n_threads = cp.n_threads_batch = 2;
  llama_context* ctx = llama_init_from_model(model, cp);
  EXPECT_NE(ctx, nullptr) << path;
  if (ctx) {
    for (const auto& [buft, b] : llama_get_memory_breakdown(ctx)) {
      m.model += static_cast<int64_t>(b.model);
      m.context += static_cast<int64_t>(b.context);
      m.compute += static_cast<int64_t>(b.compute);
    }
    llama_free(ctx);
  }
  llama_model_free(model);
  return m;
}

double error_percent(int64_t predicted, int64_t actual) {
  return actual ? 100.0 * static_cast<double>(predicted - actual) / static_cast<double>(actual) : 0.0;
}

TEST(PlanAccuracy, DeviceMemoryWithin3PercentOfLlamaCpp) {
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
  const auto dir = test::scratch_dir();
  std::printf("\n%-18s %-7s %-32s %14s %14s %8s  (weights / kv / compute error %%)\n", "model", "quant", "context",
              "predicted B", "llama.cpp B", "err %");
  for (const auto& c : cases) {
    auto spec = find_preset(c.preset);
    ASSERT_TRUE(spec) << c.preset;
    spec->vocab = spec->vocab == "gemma" ? "llama-bpe" : spec->vocab;  // llama.cpp ships no Gemma 2 tokenizer
    spec->vocab_size = test::vocab_tokens(spec->vocab);
    ASSERT_GT(spec->vocab_size, 0) << spec->vocab;
    const auto path = dir / (c.preset + "-" + std::string(file_type_name(c.quant)) + ".gguf");
    ASSERT_EQ(test::write_sparse_gguf(*spec, c.quant, path), "");

    // The prediction goes through the same path as `plan --model FILE.gguf`.
    auto info = load_model_info(path.string());
    ASSERT_TRUE(info) << info.error().message;
    const MemoryEstimate predicted = estimate_memory(info->spec, *info->file_weights, c.ctx, /*on_gpu=*/false);
    const Measured actual = llama_memory(path, c.ctx, /*dry_run=*/true);
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
    std::filesystem::remove(path);
  }
}

// The dry run reports what a real load allocates, so comparing with it is comparing with reality.
TEST(PlanAccuracy, DryRunMatchesRealAllocationOnTinyModel) {
  auto tiny = default_tiny_model();
  ASSERT_TRUE(tiny) << tiny.error().message;
  const ContextConfig c = config(2048, 4, 256, true);
  const Measured dry = llama_memory(*tiny, c, true);
  const Measured real = llama_memory(*tiny, c, false);
  EXPECT_EQ(dry.context, real.context);
  EXPECT_NEAR(static_cast<double>(dry.total()), static_cast<double>(real.total()), 0.03 * real.total());
  auto info = load_model_info(tiny->string());
  ASSERT_TRUE(info);
  const MemoryEstimate predicted = estimate_memory(info->spec, *info->file_weights, c, false);
  std::printf("tiny f16 ctx 2048 x4: predicted %lld, llama.cpp real %lld (%+.2f%%)\n",
              (long long)predicted.device.total_bytes(), (long long)real.total(),
              error_percent(predicted.device.total_bytes(), real.total()));
  EXPECT_LT(std::fabs(error_percent(predicted.device.total_bytes(), real.total())), 3.0);
}

}  // namespace
}  // namespace batchwise
#endif
