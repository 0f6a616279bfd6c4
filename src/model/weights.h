// How many bytes a model's weights take and where they sit: the total, the token embedding (which
// llama.cpp keeps in host memory even with every layer offloaded), the output projection, and the
// routed experts (of which one token reads n_expert_used / n_expert). Exact when summed from a
// GGUF's tensor infos; from a ModelSpec and a file type it applies llama.cpp's per-tensor type rule.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "model/gguf_reader.h"
#include "model/model_spec.h"
#include "model/weight_types.h"

namespace batchwise {

struct WeightsSummary {
  int64_t total_bytes = 0;
  int64_t token_embd_bytes = 0;
  std::string token_embd_type;        // "q4_k"; backends treat some types specially (CPU repacking)
  int64_t output_bytes = 0;           // 0 when the output projection is tied to token_embd
  int64_t routed_expert_bytes = 0;    // ffn_*_exps tensors
  // On a CPU whose llama.cpp keeps matrices in AMX buffers (model/amx_packing.h): what their packed layout
  // adds to the matrices AMX takes, and the token embedding's size as such a matrix (a tied output
  // projection's copy there; 0 where AMX would not take it).
  int64_t amx_packing_bytes = 0;
  int64_t token_embd_amx_bytes = 0;
  int64_t parameter_count = 0;
  std::map<std::string, int64_t> bytes_by_type;  // "q4_k" -> bytes
  std::string source;                 // "gguf tensor infos", "safetensors headers", "estimated for q4_k_m"

  double bits_per_weight() const {
    return parameter_count ? 8.0 * static_cast<double>(total_bytes) / static_cast<double>(parameter_count) : 0.0;
  }
};

// Weights of `spec` stored as file type `type`, tensor by tensor.
WeightsSummary estimate_weights(const ModelSpec& spec, FileType type);

// Exact weights of a GGUF file, from its tensor infos.
WeightsSummary weights_from_gguf(const GgufHeader& header);

}  // namespace batchwise
