// The memory model's KV cache arithmetic against figures a user can check by hand: Llama 3.1 8B
// caches 128 KiB per token in f16 (32 layers x 8 KV heads x 128 dims x K and V x 2 bytes), MLA caches
// 576 values per layer, Gemma 2's sliding-window layers stop growing at the window.
#include "plan/memory_model.h"

#include <gtest/gtest.h>

namespace batchwise {
namespace {

ModelSpec preset(const char* name) {
  auto s = find_preset(name);
  EXPECT_TRUE(s) << name;
  return s ? *s : ModelSpec{};
}

ContextConfig ctx_of(int64_t n_ctx, int64_t n_seq, const char* kv = "f16") {
  ContextConfig c;
  c.n_ctx_tokens = n_ctx;
  c.n_seq = n_seq;
  c.k_type = c.v_type = *parse_weight_type(kv);
  return c;
}

TEST(MemoryModel, Llama8BCaches128KiBPerTokenInF16) {
  const KvCacheEstimate kv = estimate_kv_cache(preset("llama-3.1-8b"), ctx_of(8192, 1));
  EXPECT_EQ(kv.bytes_per_token, 128 * 1024);
  EXPECT_EQ(kv.total_bytes(), int64_t{8192} * 128 * 1024) << "1 GiB for 8k tokens";
}

TEST(MemoryModel, QuantizedKvUsesItsBlockSize) {
  const ModelSpec s = preset("llama-3.1-8b");
  EXPECT_EQ(estimate_kv_cache(s, ctx_of(4096, 1, "q8_0")).bytes_per_token, 32 * 2 * (1024 / 32) * 34);
  EXPECT_EQ(estimate_kv_cache(s, ctx_of(4096, 1, "q4_0")).bytes_per_token, 32 * 2 * (1024 / 32) * 18);
}

TEST(MemoryModel, ContextIsPaddedLikeLlamaCpp) {
  EXPECT_EQ(padded_context(1), 256);
  EXPECT_EQ(padded_context(4096), 4096);
  EXPECT_EQ(padded_context(4097), 4352);
  // Split (non-unified) caches pad each sequence's share.
  ContextConfig split = ctx_of(1000, 3);
  split.kv_unified = false;
  const KvCacheEstimate kv = estimate_kv_cache(preset("llama-3.1-8b"), split);
  EXPECT_EQ(kv.streams, 3);
  EXPECT_EQ(kv.cells_full, 512) << "1024 / 3 = 341 -> 512";
}

TEST(MemoryModel, MlaCachesTheCompressedLatentOnly) {
  const ModelSpec s = preset("deepseek-v2-lite");
  EXPECT_EQ(kv_bytes_per_token_per_layer(s, *parse_weight_type("f16"), *parse_weight_type("f16")), (512 + 64) * 2);
  const int64_t uncompressed = 2 * s.n_head * 192 * 2;  // K and V of 16 heads x 192 dims (V 128, padded)
  EXPECT_LT(estimate_kv_cache(s, ctx_of(4096, 1)).bytes_per_token * 5, uncompressed * s.n_layer);
}

TEST(MemoryModel, SlidingWindowLayersStopGrowingAtTheWindow) {
  const ModelSpec gemma = preset("gemma-2-9b");
  const KvCacheEstimate short_ctx = estimate_kv_cache(gemma, ctx_of(4096, 1));
  const KvCacheEstimate long_ctx = estimate_kv_cache(gemma, ctx_of(65536, 1));
  EXPECT_EQ(long_ctx.swa_layers_bytes, long_ctx.swa_bytes_per_token * (4096 + 512)) << "window + ubatch cells";
  EXPECT_EQ(long_ctx.full_layers_bytes, 16 * short_ctx.full_layers_bytes);
  ModelSpec no_swa = gemma;
  no_swa.sliding_window = 0;
  EXPECT_LT(long_ctx.total_bytes(), estimate_kv_cache(no_swa, ctx_of(65536, 1)).total_bytes() * 0.6);
  ContextConfig full = ctx_of(65536, 1);
  full.swa_full = true;
  EXPECT_EQ(estimate_kv_cache(gemma, full).total_bytes(), estimate_kv_cache(no_swa, full).total_bytes());
}

TEST(MemoryModel, ComputeBufferGrowsWithUbatchAndWithoutFlashAttention) {
  const ModelSpec s = preset("llama-3.1-8b");
  for (const bool on_gpu : {false, true}) {
    ContextConfig small = ctx_of(8192, 1);
    small.n_ubatch_tokens = 128;
    ContextConfig big = small;
    big.n_ubatch_tokens = 1024;
    EXPECT_LT(compute_buffer_bytes(s, small, on_gpu), compute_buffer_bytes(s, big, on_gpu)) << on_gpu;
    ContextConfig no_fa = ctx_of(32768, 1);
    no_fa.flash_attention = false;
    EXPECT_LT(compute_buffer_bytes(s, ctx_of(32768, 1), on_gpu), compute_buffer_bytes(s, no_fa, on_gpu)) << on_gpu;
  }
}

// On a GPU the attention mask (f16, cells x ubatch tokens) is alive through every layer: with a small
// vocabulary (Mistral's 32,000) the FFN stage plus the mask is the peak, so the buffer grows with the
// context; the host keeps the mask too.
TEST(MemoryModel, GpuComputeBuffersGrowWithTheMaskOfALongContext) {
  const ModelSpec s = preset("mistral-7b");
  const ContextConfig short_ctx = ctx_of(4096, 1), long_ctx = ctx_of(65536, 256);
  const int64_t mask_growth = 2 * 512 * (65536 - 4096);
  EXPECT_EQ(compute_buffer_bytes(s, long_ctx, true) - compute_buffer_bytes(s, short_ctx, true), mask_growth);
  EXPECT_EQ(host_compute_buffer_bytes(s, long_ctx) - host_compute_buffer_bytes(s, short_ctx), mask_growth);
  // The CPU backend's buffer for the same model is another figure (its output stage keeps more).
  EXPECT_NE(compute_buffer_bytes(s, short_ctx, false), compute_buffer_bytes(s, short_ctx, true));
}

TEST(MemoryModel, GpuKeepsTheTokenEmbeddingInHostMemory) {
  const ModelSpec s = preset("llama-3.1-8b");
  const WeightsSummary w = estimate_weights(s, FileType::kQ4_K_M);
  const MemoryEstimate gpu = estimate_memory(s, w, ctx_of(4096, 1), true);
  const MemoryEstimate cpu = estimate_memory(s, w, ctx_of(4096, 1), false);
  EXPECT_EQ(gpu.device.weights_bytes + gpu.host.weights_bytes, w.total_bytes);
  EXPECT_GT(gpu.host.weights_bytes, 0);
  EXPECT_EQ(cpu.device.weights_bytes, w.total_bytes);
  EXPECT_GT(gpu.device.overhead_bytes, 0);
  EXPECT_EQ(cpu.device.overhead_bytes, 0);
}

// On an AMX CPU llama.cpp packs the matrices AMX multiplies: q8_0 keeps 4 more bytes per block of 34 (the
// 8B's untied output too, its embedding table stays as stored), f16 keeps its size but a tied output
// projection is a second copy in the AMX buffer. The dry runs on an AMX host (plan_accuracy_test) check the
// same against llama.cpp; this holds on any machine.
TEST(MemoryModel, AnAmxCpuGrowsQ8MatricesByTheirCompensationAndCopiesATiedOutput) {
  const ModelSpec s8 = preset("llama-3.1-8b");
  const WeightsSummary q8 = estimate_weights(s8, FileType::kQ8_0);
  ContextConfig amx = ctx_of(4096, 1);
  amx.cpu_amx = true;
  const int64_t q8_plain = estimate_memory(s8, q8, ctx_of(4096, 1), false).device.weights_bytes;
  const int64_t q8_amx = estimate_memory(s8, q8, amx, false).device.weights_bytes;
  const int64_t q8_matrices = q8.bytes_by_type.at("q8_0") - q8.token_embd_bytes;
  EXPECT_EQ(q8_amx - q8_plain, q8_matrices / 34 * 4);
  EXPECT_EQ(estimate_memory(s8, q8, amx, true).device.weights_bytes,
            estimate_memory(s8, q8, ctx_of(4096, 1), true).device.weights_bytes)
      << "a GPU holds the matrices: no AMX buffer";

  const ModelSpec s1 = preset("llama-3.2-1b");  // ties its output projection to the embedding
  const WeightsSummary f16 = estimate_weights(s1, FileType::kF16);
  ASSERT_EQ(f16.output_bytes, 0);
  EXPECT_EQ(estimate_memory(s1, f16, ctx_of(4096, 1), false).device.weights_bytes, f16.total_bytes);
  EXPECT_EQ(estimate_memory(s1, f16, amx, false).device.weights_bytes, f16.total_bytes + f16.token_embd_bytes);
}

}  // namespace
}  // namespace batchwise
