// The /v1/embeddings request and answer as OpenAI's API has them, for the embedded engine: the inputs (a string, an
// array of strings, an array of token ids, or an array of such arrays), `encoding_format` (float or base64) and
// `dimensions` (only the model's own width: a model not trained for shorter vectors would give wrong ones cut); and
// the answer, {"object": "list", "data": [{"object": "embedding", "index": i, "embedding": ...}], "model", "usage"}.
// Pure functions over JSON; no llama.cpp state. Thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/status.h"

namespace batchwise {

struct EmbeddingInputs {
  std::vector<std::variant<std::string, std::vector<int32_t>>> inputs;  // text, or token ids as given
  bool base64 = false;
  std::optional<int64_t> dimensions;
};

Expected<EmbeddingInputs> parse_embedding_body(const nlohmann::json& body);

// The answer's body: one L2-normalized vector per input, in input order, as floats or as base64 of little-endian
// float32s.
nlohmann::json embedding_response_body(const std::vector<std::vector<float>>& vectors, bool base64,
                                       const std::string& model, int64_t prompt_tokens);

// Scales `v` to length 1 (OpenAI's and llama-server's embeddings are unit vectors); a zero vector stays zero.
void normalize_l2(std::vector<float>& v);

}  // namespace batchwise
