#include "plan/memory_model.h"

#include <algorithm>

namespace batchwise {
namespace {

constexpr int64_t kKvPad = 256;  // llama.cpp pads n_ctx, n_ctx_seq and the SWA cache to 256 cells

int64_t pad(int64_t n, int64_t to) { return (n + to - 1) / to * to; }

int64_t k_width(const ModelSpec& s) { return s.is_mla() ? s.kv_lora_rank + s.qk_rope_head_dim : s.n_head_kv * s.head_dim; }
int64_t v_width(const ModelSpec& s) { return s.is_mla() ? 0 : s.n_head_kv * s.head_dim; }

}  // namespace

int64_t padded_context(int64_t n_ctx_tokens) { return pad(std::max<int64_t>(1, n_ctx_tokens), kKvPad); }

int64_t kv_bytes_per_token_per_layer(const ModelSpec& spec, const WeightType& k_type, const WeightType& v_type) {
  return k_type.bytes_for(k_width(spec)) + (v_width(spec) > 0 ? v_type.bytes_for(v_width(spec)) : 0);
}

KvCacheEstimate estimate_kv_cache(const ModelSpec& spec, const ContextConfig& ctx) {
  KvCacheEstimate kv;
  const int64_t n_seq = std::max<int64_t>(1, ctx.n_seq);
  const int64_t n_ctx = padded_context(ctx.n_ctx_tokens);
  if (ctx.kv_unified) {
    kv.streams = 1;
    kv.cells_full = n_ctx;
  } else {
    kv.streams = n_seq;
    kv.cells_full = pad(std::max<int64_t>(1, n_ctx / n_seq), kKvPad);
  }
  const int64_t window_cells = spec.sliding_window * (ctx.kv_unified ? n_seq : 1) + ctx.n_ubatch_tokens;
  kv.cells_swa = ctx.swa_full ? kv.cells_full : pad(std::min(kv.cells_full, window_cells), kKvPad);
  const int64_t per_layer = kv_bytes_per_token_per_layer(spec, ctx.k_type, ctx.v_type);
  const int64_t n_swa = spec.n_layer_swa();
  const int64_t n_full = spec.n_layer - n_swa;
  kv.bytes_per_token = per_layer * n_full;
  kv.swa_bytes_per_token = per_layer * n_swa;
  kv.full_layers_bytes = kv.bytes_per_token * kv.cells_full * kv.streams;
  kv.swa_layers_bytes = kv.swa_bytes_per_token * kv.cells_swa * kv.streams;
  return kv;
}

int64_t compute_buffer_bytes(const ModelSpec& spec, const ContextConfig& ctx) {
  const int64_t n_ctx = padded_context(ctx.n_ctx_tokens);
  const int64_t tokens = std::min({ctx.n_ubatch_tokens, ctx.n_batch_tokens, n_ctx});
  const int64_t cells = ctx.kv_unified ? n_ctx : pad(std::max<int64_t>(1, n_ctx / std::max<int64_t>(1, ctx.n_seq)), kKvPad);
  constexpr int64_t f32 = 4;
  // ggml-alloc reuses memory between ops, so the buffer is the peak of three stages, each the
  // tensors alive at once (fitted to llama.cpp's dry-run reports, see docs/plan.md):
  // the output stage: the final norm's result and the logits for every token of the ubatch;
  const int64_t output_stage = f32 * tokens * (spec.vocab_size + 2 * spec.n_embd);
  // attention: q/k/v and the residual, plus the mask (f16) with flash attention, else the f32
  // score matrix of every head and an f32 mask;
  const int64_t q_dim = spec.n_head * spec.head_dim;
  int64_t attention_stage = f32 * tokens * (2 * spec.n_embd + q_dim + 2 * k_width(spec));
  attention_stage += ctx.flash_attention ? 2 * cells * tokens : f32 * cells * tokens * (spec.n_head + 1);
  // the FFN: gate, up and their product (per routed expert), the experts' outputs before they are
  // summed, the residual stream.
  const int64_t ff = spec.is_moe() ? spec.n_ff_expert * (spec.n_expert_used + spec.n_expert_shared) : spec.n_ff;
  const int64_t dense_ff = spec.is_moe() && spec.n_layer_dense_lead > 0 ? spec.n_ff : 0;
  const int64_t expert_outputs = spec.is_moe() ? spec.n_expert_used * spec.n_embd : 0;
  const int64_t ffn_stage = f32 * tokens * (3 * std::max(ff, dense_ff) + expert_outputs + 3 * spec.n_embd);
  return std::max({output_stage, attention_stage, ffn_stage});
}

MemoryEstimate estimate_memory(const ModelSpec& spec, const WeightsSummary& weights, const ContextConfig& ctx,
                               bool on_gpu) {
  MemoryEstimate m;
  m.on_gpu = on_gpu;
  m.kv = estimate_kv_cache(spec, ctx);
  m.device.kv_cache_bytes = m.kv.total_bytes();
  m.device.compute_bytes = compute_buffer_bytes(spec, ctx);
  const int64_t tokens = std::min(ctx.n_ubatch_tokens, padded_context(ctx.n_ctx_tokens));
  const int64_t logits_bytes = 4 * spec.vocab_size * std::max<int64_t>(1, ctx.n_seq);
  if (on_gpu) {
    // The input embedding is looked up on the CPU; a tied output projection is duplicated onto the GPU.
    const int64_t tied_output = weights.output_bytes == 0 ? weights.token_embd_bytes : 0;
    m.device.weights_bytes = weights.total_bytes - weights.token_embd_bytes + tied_output;
    m.device.overhead_bytes = kGpuRuntimeOverheadBytes;
    m.host.weights_bytes = weights.token_embd_bytes;
    m.host.compute_bytes = 4 * tokens * spec.n_embd + logits_bytes;
  } else {
    m.device.weights_bytes = weights.total_bytes;
    // llama.cpp's CPU backend repacks q4_0/q4_k/iq4_nl matrices for its SIMD kernels; a tied output
    // projection then exists twice: the plain embedding table for lookups and the repacked copy.
    const std::string& t = weights.token_embd_type;
    if (weights.output_bytes == 0 && (t == "q4_0" || t == "q4_k" || t == "iq4_nl")) {
      m.device.weights_bytes += weights.token_embd_bytes;
    }
    m.host.compute_bytes = logits_bytes;
  }
  return m;
}

}  // namespace batchwise
