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

namespace {

// What every compute buffer depends on: the ubatch's tokens and the KV cells its attention sees.
struct GraphShape {
  int64_t tokens = 0;      // T = min(ubatch, batch, n_ctx)
  int64_t cells = 0;       // KV cells of a full-attention layer, per stream
  int64_t swa_cells = 0;   // of a sliding-window layer (0: the model has none)
};

GraphShape graph_shape(const ModelSpec& spec, const ContextConfig& ctx) {
  const KvCacheEstimate kv = estimate_kv_cache(spec, ctx);
  GraphShape g;
  g.tokens = std::min({ctx.n_ubatch_tokens, ctx.n_batch_tokens, padded_context(ctx.n_ctx_tokens)});
  g.cells = kv.cells_full;
  g.swa_cells = spec.has_swa() && spec.n_layer_swa() > 0 ? kv.cells_swa : 0;
  return g;
}

// The attention masks, one per KV cache (full and sliding-window): f16 with flash attention, else f32.
int64_t mask_bytes(const GraphShape& g, bool flash_attention) {
  return (flash_attention ? 2 : 4) * g.tokens * (g.cells + g.swa_cells);
}

// FFN width alive at once: n_ff, or for MoE the routed plus shared experts' (the dense lead layers' n_ff
// where that is wider).
int64_t ffn_width(const ModelSpec& spec) {
  if (!spec.is_moe()) return spec.n_ff;
  const int64_t experts = spec.n_ff_expert * (spec.n_expert_used + spec.n_expert_shared);
  return std::max(experts, spec.n_layer_dense_lead > 0 ? spec.n_ff : 0);
}

constexpr int64_t f32 = 4;

// The CPU backend (fitted to llama.cpp's dry runs on the CPU, docs/plan.md): ggml-alloc reuses memory
// between ops, so the buffer is the peak of three stages, each the tensors alive at once.
int64_t cpu_compute_buffer_bytes(const ModelSpec& spec, const ContextConfig& ctx) {
  const GraphShape g = graph_shape(spec, ctx);
  const int64_t t = g.tokens;
  const int64_t cells = g.cells;
  // the output stage: the final norm's result and the logits for every token of the ubatch;
  const int64_t output_stage = f32 * t * (spec.vocab_size + 2 * spec.n_embd);
  // attention: q/k/v and the residual, plus the mask (f16) with flash attention, else the f32
  // score matrix of every head and an f32 mask;
  const int64_t q_dim = spec.n_head * spec.head_dim;
  int64_t attention_stage = f32 * t * (2 * spec.n_embd + q_dim + 2 * k_width(spec));
  attention_stage += ctx.flash_attention ? 2 * cells * t : f32 * cells * t * (spec.n_head + 1);
  // the FFN: gate, up and their product (per routed expert), the experts' outputs before they are
  // summed, the residual stream.
  const int64_t expert_outputs = spec.is_moe() ? spec.n_expert_used * spec.n_embd : 0;
  const int64_t ffn_stage = f32 * t * (3 * ffn_width(spec) + expert_outputs + 3 * spec.n_embd);
  return std::max({output_stage, attention_stage, ffn_stage});
}

// A GPU with every layer offloaded (fitted to llama.cpp's dry runs on an H200, 143 cases:
// tests/unit/plan_accuracy_cuda_test.cpp). The masks are graph inputs copied to the GPU once per
// ubatch and alive until the last layer's attention, so they add to the attention and FFN stages.
int64_t gpu_compute_buffer_bytes(const ModelSpec& spec, const ContextConfig& ctx) {
  const GraphShape g = graph_shape(spec, ctx);
  const int64_t t = g.tokens;
  const int64_t masks = mask_bytes(g, ctx.flash_attention);
  // The output stage: the final norm's result and the logits. In MoE graphs the final norm's result
  // lands above the last layer's expert tensors (gate, up, their product), so unless the logits fit in
  // the space those leave (vocabulary narrower than them, as Mixtral's), the buffer holds both.
  int64_t output_stage = f32 * t * (spec.vocab_size + spec.n_embd);
  if (spec.is_moe()) {
    const int64_t experts = 3 * spec.n_ff_expert * spec.n_expert_used;
    if (spec.vocab_size > experts) output_stage += f32 * t * (experts + spec.n_embd);
  }
  // Attention: the residual stream, q, k and v; MLA's absorbed queries and latent outputs per head;
  // without flash attention the f32 scores of every head.
  int64_t q_width = spec.n_head * spec.head_dim;
  if (spec.is_mla()) {
    q_width = spec.n_head * (2 * spec.kv_lora_rank + 2 * spec.qk_rope_head_dim + spec.qk_nope_head_dim + spec.v_head_dim);
  }
  const int64_t kv_width = k_width(spec) + v_width(spec);
  int64_t attention_stage = masks;
  if (ctx.flash_attention) {
    attention_stage += f32 * t * (2 * spec.n_embd + q_width + kv_width);
  } else {
    attention_stage += f32 * t * (3 * spec.n_embd + q_width + kv_width + 1) + f32 * t * g.cells * spec.n_head;
  }
  // The FFN: gate, up and their product, and the residual stream.
  const int64_t ffn_stage = masks + f32 * t * (3 * ffn_width(spec) + 3 * spec.n_embd);
  return std::max({output_stage, attention_stage, ffn_stage});
}

}  // namespace

int64_t compute_buffer_bytes(const ModelSpec& spec, const ContextConfig& ctx, bool on_gpu) {
  return on_gpu ? gpu_compute_buffer_bytes(spec, ctx) : cpu_compute_buffer_bytes(spec, ctx);
}

int64_t host_compute_buffer_bytes(const ModelSpec& spec, const ContextConfig& ctx) {
  const GraphShape g = graph_shape(spec, ctx);
  const int64_t t = g.tokens;
  // The embeddings looked up on the CPU (8 bytes a value, as llama.cpp's dry runs report), the masks;
  // without flash attention each KV cache's int64 row indices into its transposed V cache; token ids,
  // positions and the K/V row indices (28 bytes a token).
  const int64_t caches = g.swa_cells > 0 ? 2 : 1;
  const int64_t v_indices = ctx.flash_attention ? 0 : 8 * t * v_width(spec) * caches;
  return 8 * t * spec.n_embd + mask_bytes(g, ctx.flash_attention) + v_indices + 28 * t;
}

MemoryEstimate estimate_memory(const ModelSpec& spec, const WeightsSummary& weights, const ContextConfig& ctx,
                               bool on_gpu) {
  MemoryEstimate m;
  m.on_gpu = on_gpu;
  m.kv = estimate_kv_cache(spec, ctx);
  m.device.kv_cache_bytes = m.kv.total_bytes();
  m.device.compute_bytes = compute_buffer_bytes(spec, ctx, on_gpu);
  m.host.output_bytes = 4 * spec.vocab_size * std::max<int64_t>(1, ctx.n_seq);
  if (on_gpu) {
    // The input embedding is looked up on the CPU; a tied output projection is duplicated onto the GPU.
    const int64_t tied_output = weights.output_bytes == 0 ? weights.token_embd_bytes : 0;
    m.device.weights_bytes = weights.total_bytes - weights.token_embd_bytes + tied_output;
    m.device.overhead_bytes = kGpuRuntimeOverheadBytes;
    m.host.weights_bytes = weights.token_embd_bytes;
    m.host.compute_bytes = host_compute_buffer_bytes(spec, ctx);
  } else {
    m.device.weights_bytes = weights.total_bytes;
    // llama.cpp's CPU backend repacks matrices for its kernels: with AMX every matrix AMX takes (some types
    // grow), else q4_0/q4_k/iq4_nl for its SIMD kernels (same size). A tied output projection it repacks
    // then exists twice: the plain embedding table for lookups and the repacked copy.
    if (ctx.cpu_amx) m.device.weights_bytes += weights.amx_packing_bytes;
    const std::string& t = weights.token_embd_type;
    if (weights.output_bytes == 0) {
      if (ctx.cpu_amx && weights.token_embd_amx_bytes > 0) {
        m.device.weights_bytes += weights.token_embd_amx_bytes;
      } else if (t == "q4_0" || t == "q4_k" || t == "iq4_nl") {
        m.device.weights_bytes += weights.token_embd_bytes;
      }
    }
  }
  return m;
}

}  // namespace batchwise
