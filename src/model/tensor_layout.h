// The weight tensors llama.cpp loads for a ModelSpec, with GGUF names and shapes, for the
// architectures batchwise knows: llama-like dense (llama, mistral, qwen2, qwen3), Gemma 2/3,
// MoE (llama-arch Mixtral, qwen3moe) and MLA (deepseek2). Used to count parameters and to
// estimate weight bytes for a file type when no GGUF file is at hand.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/model_spec.h"

namespace batchwise {

struct TensorShape {
  std::string name;     // "blk.3.attn_q.weight"
  int64_t layer = -1;   // -1: not in a block (token_embd, output, output_norm)
  int64_t ne0 = 1;      // row length (input features)
  int64_t ne1 = 1;      // rows (output features)
  int64_t ne2 = 1;      // experts, for *_exps tensors
  bool routed_expert = false;  // one slice per expert, of which a token reads n_expert_used

  int64_t elements() const { return ne0 * ne1 * ne2; }
};

std::vector<TensorShape> model_tensor_shapes(const ModelSpec& spec);

}  // namespace batchwise
