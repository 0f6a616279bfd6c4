// ModelSpec: the shapes of a transformer that memory, speed and synthetic weights depend on.
// Filled from a preset (data/models.json), a GGUF header or a HuggingFace config.json.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace batchwise {

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

  // Parameters in the weights synth writes (embeddings, attention, FFN, norms, output).
  int64_t parameter_count() const;
};

// The preset names in data/models.json, in file order.
Expected<std::vector<std::string>> preset_names();

// A preset by name (case-insensitive). Unknown names give kNotFound listing the close matches.
Expected<ModelSpec> find_preset(std::string_view name);

// Up to `limit` names from `candidates` closest to `name` (edit distance), for "did you mean" lines.
std::vector<std::string> closest_names(std::string_view name, const std::vector<std::string>& candidates,
                                       size_t limit = 3);

}  // namespace batchwise
