// Weight and KV-cache element types with their exact storage cost, as ggml lays them out: a type
// stores `block_weights` values in `block_bytes` (Q4_K: 256 weights in 144 bytes = 4.5 bits each).
// Also the llama.cpp file types (`--quant q4_k_m`), which mix several tensor types, and the rule
// that picks each tensor's type for a file type (the one llama.cpp's quantizer and `synth` follow).
// Pure functions over constant tables: thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace batchwise {

struct WeightType {
  std::string_view name;   // ggml's name, lower case: "f16", "q4_k"
  int ggml_id = -1;        // enum ggml_type value, as stored in GGUF tensor infos
  int64_t block_weights = 1;
  int64_t block_bytes = 0;

  double bits_per_weight() const { return 8.0 * static_cast<double>(block_bytes) / static_cast<double>(block_weights); }
  // Bytes of `n` consecutive values (a row); rounds a partial block up, as a partial block cannot be stored.
  int64_t bytes_for(int64_t n) const { return (n + block_weights - 1) / block_weights * block_bytes; }
};

// The type with this ggml id, or nullptr for ids that are unknown or removed (hostile files use them).
const WeightType* weight_type_by_id(int64_t ggml_id);

// A tensor type by name ("f16", "q8_0", "q4_k", ...; case-insensitive).
Expected<WeightType> parse_weight_type(std::string_view name);

// Every known type, in ggml id order.
const std::vector<WeightType>& all_weight_types();

// A llama.cpp file type (general.file_type): which type each weight tensor gets.
enum class FileType { kF32, kF16, kBF16, kQ8_0, kQ6_K, kQ5_K_M, kQ5_K_S, kQ4_K_M, kQ4_K_S, kQ4_0, kQ3_K_M, kQ2_K, kIQ4_XS };

// "f16", "bf16", "q8_0", "q6_k", "q5_k_m", "q5_k_s", "q4_k_m", "q4_k_s", "q4_0", "q3_k_m", "q2_k", "iq4_xs".
Expected<FileType> parse_file_type(std::string_view name);
std::string_view file_type_name(FileType type);
std::vector<std::string> file_type_names();
// The llama_ftype value llama.cpp writes in general.file_type.
uint32_t file_type_id(FileType type);

// The type llama.cpp's quantizer gives tensor `name` (e.g. "blk.3.ffn_down.weight") in layer `layer`
// of `n_layer`, whose rows hold `row_length` values. 1-D tensors (norms, biases) stay F32. When the
// row length is not a multiple of the chosen type's block, llama.cpp's fallback applies (q4_k -> q5_0,
// q6_k -> q8_0, ...), and F16 when even that does not fit.
// Norms, biases and the MoE router (ffn_gate_inp) stay F32.
// `n_expert` matters: llama.cpp gives 8-expert models (Mixtral) q8_0 attn_k/attn_v and q5_k attn_output.
const WeightType& tensor_weight_type(FileType type, std::string_view name, int64_t layer, int64_t n_layer,
                                     int64_t row_length, int64_t n_expert = 0);

}  // namespace batchwise
