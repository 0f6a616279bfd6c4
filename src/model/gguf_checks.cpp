#include "model/gguf_checks.h"

#include <charconv>
#include <set>
#include <string>

#include "model/model_spec.h"

namespace batchwise {
namespace {

Error bad(const std::string& what) {
  return Error{ErrorCode::kCorrupt, what + " (llama.cpp would abort on this file: it is damaged or not a real model)"};
}

// N of a tensor named "blk.N.<rest>", or -1.
int64_t block_of(const std::string& name) {
  if (!name.starts_with("blk.")) return -1;
  const char* begin = name.data() + 4;
  const char* end = name.data() + name.size();
  int64_t n = -1;
  const auto [ptr, ec] = std::from_chars(begin, end, n);
  if (ec != std::errc() || ptr == begin || ptr == end || *ptr != '.') return -1;
  return n;
}

}  // namespace

Status check_llama_loadable(const GgufHeader& h) {
  const auto arch = h.get_string("general.architecture");
  if (!arch) return std::unexpected(bad("no general.architecture"));
  const std::string key = *arch + ".block_count";
  const GgufValue* count = h.find(key);
  if (!count || (count->kind != GgufValue::Kind::kInt && count->kind != GgufValue::Kind::kArray)) {
    return std::unexpected(bad("`" + key + "` is missing or not an integer"));
  }
  const int64_t blocks = h.get_int(key).value_or(0);
  if (blocks < 1 || blocks > kMaxLayers) {
    return std::unexpected(bad("`" + key + "` is " + std::to_string(blocks) + ", outside 1.." + std::to_string(kMaxLayers)));
  }
  if (h.get_int(*arch + ".nextn_predict_layers").value_or(0) > blocks) {
    return std::unexpected(bad("`" + *arch + ".nextn_predict_layers` is more than `" + key + "`"));
  }
  if (!h.tensors.empty()) {
    std::set<int64_t> present;
    for (const auto& t : h.tensors) {
      const int64_t b = block_of(t.name);
      if (b < 0) continue;
      if (b >= blocks) {
        return std::unexpected(bad("tensor `" + t.name + "` is past `" + key + "` = " + std::to_string(blocks)));
      }
      present.insert(b);
    }
    if (static_cast<int64_t>(present.size()) != blocks) {
      return std::unexpected(bad("`" + key + "` = " + std::to_string(blocks) + " but the file has tensors for " +
                                 std::to_string(present.size()) + " blocks"));
    }
  }
  const GgufValue* tokens = h.find("tokenizer.ggml.tokens");
  if (tokens) {
    if (tokens->kind != GgufValue::Kind::kArray || tokens->array_count == 0) {
      return std::unexpected(bad("`tokenizer.ggml.tokens` is not a non-empty array"));
    }
    if (tokens->duplicate_strings) return std::unexpected(bad("`tokenizer.ggml.tokens` holds a token twice"));
    for (const char* other : {"tokenizer.ggml.scores", "tokenizer.ggml.token_type"}) {
      const GgufValue* v = h.find(other);
      if (v && (v->kind != GgufValue::Kind::kArray || v->array_count != tokens->array_count)) {
        return std::unexpected(bad("`" + std::string(other) + "` has " + std::to_string(v ? v->array_count : 0) +
                                   " entries for " + std::to_string(tokens->array_count) + " tokens"));
      }
    }
  }
  return {};
}

Status check_gguf_file_for_llama(const std::filesystem::path& path) {
  BW_ASSIGN_OR_RETURN(GgufHeader header, read_gguf_header(path));
  if (Status s = check_llama_loadable(header); !s) return std::unexpected(s.error().with_context(path.string()));
  return {};
}

}  // namespace batchwise
