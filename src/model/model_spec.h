// ModelSpec: the shapes of a transformer that memory, speed and synthetic weights depend on.
// Filled from a preset (data/models.json), a GGUF header or a HuggingFace config.json.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace batchwise {

// llama.cpp's LLAMA_MAX_LAYERS: it refuses (asserts on) a model with more blocks.
inline constexpr int64_t kMaxLayers = 512;

struct ModelSpec {
  std::string name;              // preset name or general.name
  std::string architecture;      // GGUF architecture: "llama", "qwen2", ...
  std::string vocab;             // tokenizer of llama.cpp's models/ggml-vocab-<vocab>.gguf used by synth
  int64_t vocab_size = 0;        // tokens in the embedding matrix
  int64_t n_ctx_train = 0;       // trained context, tokens
  int64_t n_embd = 0;            // hidden size
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;         // < n_head for grouped-query attention
  int64_t head_dim = 0;          // usually n_embd / n_head
  int64_t n_ff = 0;              // feed-forward hidden size (per expert for MoE)
  bool tied_embeddings = false;  // output projection shares token_embd
  bool attention_bias = false;   // q/k/v projections carry a bias (Qwen2)
  float rope_freq_base = 10000.0f;
  float norm_eps = 1e-5f;
  bool qk_norm = false;          // per-head RMS norm on q and k (Qwen3, Gemma 3)
  // An embedding model's pooling (GGUF <arch>.pooling_type, llama.cpp's llama_pooling_type): 0 none (a generative
  // model), 1 mean, 2 cls, 3 last (Qwen3-Embedding).
  int pooling_type = 0;

  // Sliding-window attention (Gemma 2/3). 0: every layer attends to the whole context.
  int64_t sliding_window = 0;    // tokens an SWA layer attends to
  int64_t swa_pattern = 0;       // with a window: every swa_pattern-th layer is global (Gemma 2: 2, Gemma 3: 6);
                                 // 0: all layers use the window

  // Mixture of experts (Mixtral, Qwen3-MoE, DeepSeek). n_expert 0: dense.
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;     // routed experts per token
  int64_t n_ff_expert = 0;       // hidden size of one expert's FFN
  int64_t n_expert_shared = 0;   // always-on experts (DeepSeek), each n_ff_expert wide
  int64_t n_layer_dense_lead = 0;  // leading layers with a dense FFN of n_ff (DeepSeek first_k_dense_replace)

  // Multi-head latent attention (DeepSeek-V2/V3). kv_lora_rank 0: ordinary attention.
  int64_t q_lora_rank = 0;       // 0: q is a full projection (V2-Lite)
  int64_t kv_lora_rank = 0;      // compressed KV width cached per token per layer
  int64_t qk_rope_head_dim = 0;  // rotary part of each head, cached beside the compressed KV
  int64_t qk_nope_head_dim = 0;
  int64_t v_head_dim = 0;

  bool is_moe() const { return n_expert > 0; }
  bool is_mla() const { return kv_lora_rank > 0; }
  bool has_swa() const { return sliding_window > 0; }
  // llama.cpp's rule (llama_hparams::set_swa_pattern): layer il is SWA unless il % pattern == pattern - 1.
  bool is_swa_layer(int64_t il) const;
  int64_t n_layer_swa() const;
  bool is_moe_layer(int64_t il) const { return is_moe() && il >= n_layer_dense_lead; }

  // Every weight llama.cpp loads (embeddings, attention, FFN or experts, norms, output); for the
  // architectures synth writes, exactly the parameters in its file.
  int64_t parameter_count() const;
  // Parameters one token passes through: routed experts count n_expert_used of n_expert.
  int64_t active_parameter_count() const;
  // Checks the shapes are usable (positive, heads divisible); the message names the bad field.
  // Positive sizes, in the ranges llama.cpp accepts (n_layer <= kMaxLayers).
  Status validate() const;
};

// The preset names in data/models.json, in file order.
Expected<std::vector<std::string>> preset_names();

// A preset by name (case-insensitive). Unknown names give kNotFound listing the close matches.
Expected<ModelSpec> find_preset(std::string_view name);

// Up to `limit` names from `candidates` closest to `name` (edit distance), for "did you mean" lines.
std::vector<std::string> closest_names(std::string_view name, const std::vector<std::string>& candidates,
                                       size_t limit = 3);

}  // namespace batchwise
