#include "engine/llama/embedding_body.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "core/base64.h"
#include "core/json_read.h"
#include "engine/llama/request_features.h"

namespace batchwise {
namespace {

// One input that is an array: token ids (integers in int32's range).
Expected<std::vector<int32_t>> token_ids(const nlohmann::json& a, const std::string& where) {
  std::vector<int32_t> ids;
  ids.reserve(a.size());
  for (const auto& t : a) {
    const std::optional<int64_t> id = json_as_int64(t);
    if (!t.is_number_integer() || !id || *id < 0 || *id > INT32_MAX) {
      return std::unexpected(body_field_error(where, "must hold token ids (non-negative integers)"));
    }
    ids.push_back(static_cast<int32_t>(*id));
  }
  if (ids.empty()) return std::unexpected(body_field_error(where, "must not be empty"));
  return ids;
}

}  // namespace

Expected<EmbeddingInputs> parse_embedding_body(const nlohmann::json& body) {
  if (!body.is_object()) return make_error(ErrorCode::kInvalidArgument, "`body` must be a JSON object");
  EmbeddingInputs out;
  const nlohmann::json* input = json_field(body, "input");
  if (input && input->is_string()) {
    out.inputs.emplace_back(input->get<std::string>());
  } else if (input && input->is_array() && !input->empty() && (*input)[0].is_number()) {
    BW_ASSIGN_OR_RETURN(std::vector<int32_t> ids, token_ids(*input, "input"));
    out.inputs.emplace_back(std::move(ids));
  } else if (input && input->is_array() && !input->empty()) {
    for (size_t i = 0; i < input->size(); ++i) {
      const auto& item = (*input)[i];
      const std::string where = "input[" + std::to_string(i) + "]";
      if (item.is_string()) {
        out.inputs.emplace_back(item.get<std::string>());
      } else if (item.is_array()) {
        BW_ASSIGN_OR_RETURN(std::vector<int32_t> ids, token_ids(item, where));
        out.inputs.emplace_back(std::move(ids));
      } else {
        return std::unexpected(body_field_error(where, "must be a string or an array of token ids"));
      }
    }
  } else {
    return std::unexpected(body_field_error("input", "must be a string, an array of strings, or token ids"));
  }
  if (const nlohmann::json* format = json_field(body, "encoding_format"); format && !format->is_null()) {
    if (*format != "float" && *format != "base64") {
      return std::unexpected(body_field_error("encoding_format", "must be \"float\" or \"base64\""));
    }
    out.base64 = *format == "base64";
  }
  if (const nlohmann::json* dims = json_field(body, "dimensions"); dims && !dims->is_null()) {
    const std::optional<int64_t> n = json_as_int64(*dims);
    if (!dims->is_number_integer() || !n || *n < 1) {
      return std::unexpected(body_field_error("dimensions", "must be a positive integer"));
    }
    out.dimensions = *n;
  }
  return out;
}

void normalize_l2(std::vector<float>& v) {
  double sum = 0;
  for (float x : v) sum += static_cast<double>(x) * x;
  if (sum <= 0) return;
  const float scale = static_cast<float>(1.0 / std::sqrt(sum));
  for (float& x : v) x *= scale;
}

nlohmann::json embedding_response_body(const std::vector<std::vector<float>>& vectors, bool base64,
                                       const std::string& model, int64_t prompt_tokens) {
  static_assert(std::endian::native == std::endian::little, "base64 embeddings are little-endian float32s");
  nlohmann::json data = nlohmann::json::array();
  for (size_t i = 0; i < vectors.size(); ++i) {
    nlohmann::json item = {{"object", "embedding"}, {"index", i}};
    if (base64) {
      std::string bytes(vectors[i].size() * sizeof(float), '\0');
      std::memcpy(bytes.data(), vectors[i].data(), bytes.size());
      item["embedding"] = base64_encode(bytes);
    } else {
      item["embedding"] = vectors[i];
    }
    data.push_back(std::move(item));
  }
  return {{"object", "list"},
          {"data", std::move(data)},
          {"model", model},
          {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}};
}

}  // namespace batchwise
