#include "model/hf_config.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/json_read.h"

namespace batchwise {
namespace {

using nlohmann::json;

// config.json is untrusted: a field of another type falls back, a float outside int64 (1e300)
// is not cast (undefined behaviour) but falls back too.
int64_t get_int(const json& j, const char* key, int64_t fallback) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (auto i = json_as_int64(*it)) return *i;
  if (it->is_number_float()) {
    const double d = it->get<double>();
    if (d >= -9.0e18 && d <= 9.0e18) return static_cast<int64_t>(d);
  }
  return fallback;
}

std::string get_string(const json& j, const char* key, std::string fallback) {
  return json_string_or(j, key, fallback).value_or(fallback);
}

bool get_bool(const json& j, const char* key, bool fallback) { return json_bool_or(j, key, fallback).value_or(fallback); }

// model_type -> GGUF architecture name llama.cpp uses.
std::string architecture_for(const std::string& model_type) {
  if (model_type == "mistral" || model_type == "mixtral" || model_type == "llama") return "llama";
  if (model_type == "qwen3_moe") return "qwen3moe";
  if (model_type == "deepseek_v2" || model_type == "deepseek_v3") return "deepseek2";
  if (model_type == "gemma3_text") return "gemma3";
  return model_type;  // qwen2, qwen3, gemma2, gemma3
}

int64_t dtype_bytes(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "F32" || dtype == "I32" || dtype == "U32") return 4;
  if (dtype == "F16" || dtype == "BF16" || dtype == "I16" || dtype == "U16") return 2;
  if (dtype == "I8" || dtype == "U8" || dtype == "BOOL" || dtype.starts_with("F8")) return 1;
  return 0;
}

Status add_safetensors(const std::filesystem::path& path, WeightsSummary& w) {
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot read " + path.string());
  UniqueFile f(std::fopen(path.c_str(), "rb"));
  if (!f) return make_error(ErrorCode::kIo, "cannot open " + path.string());
  unsigned char len_bytes[8];
  if (size < 8 || std::fread(len_bytes, 1, 8, f.get()) != 8) return make_error(ErrorCode::kCorrupt, path.string() + ": truncated");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > size - 8 || n > (100u << 20)) return make_error(ErrorCode::kCorrupt, path.string() + ": header length past the end");
  std::string text(n, '\0');
  if (std::fread(text.data(), 1, n, f.get()) != n) return make_error(ErrorCode::kCorrupt, path.string() + ": truncated");
  const json doc = parse_json_bounded(text).value_or(json());
  if (!doc.is_object()) return make_error(ErrorCode::kCorrupt, path.string() + ": header is not a JSON object");
  for (const auto& [name, t] : doc.items()) {
    if (name == "__metadata__" || !t.is_object() || !t.contains("shape") || !t["shape"].is_array()) continue;
    int64_t elements = 1;
    for (const auto& d : t["shape"]) {
      const int64_t n = std::max<int64_t>(0, json_as_int64(d).value_or(0));
      elements = n > 0 && elements > INT64_MAX / 8 / n ? 0 : elements * n;  // an impossible shape counts 0
    }
    const std::string dtype = get_string(t, "dtype", "");
    const int64_t bytes = elements * dtype_bytes(dtype);
    w.total_bytes += bytes;
    w.parameter_count += elements;
    w.bytes_by_type[dtype] += bytes;
    if (name.find("embed_tokens") != std::string::npos) w.token_embd_bytes += bytes;
    if (name.find("lm_head") != std::string::npos) w.output_bytes += bytes;
    if (name.find(".experts.") != std::string::npos) w.routed_expert_bytes += bytes;
  }
  return {};
}

}  // namespace

Expected<ModelSpec> spec_from_hf_config(std::string_view text) {
  const json doc = parse_json_bounded(text).value_or(json());
  if (!doc.is_object()) return make_error(ErrorCode::kCorrupt, "config.json is not a JSON object (or nests too deep)");
  // Multimodal Gemma 3 keeps the language model in text_config.
  const json& j = doc.contains("text_config") && doc["text_config"].is_object() ? doc["text_config"] : doc;
  const std::string model_type = get_string(j, "model_type", get_string(doc, "model_type", ""));
  if (model_type.empty()) return make_error(ErrorCode::kUnsupported, "config.json has no model_type");
  ModelSpec s;
  s.name = get_string(doc, "_name_or_path", model_type);
  s.architecture = architecture_for(model_type);
  const std::string known[] = {"llama", "qwen2", "qwen3", "gemma2", "gemma3", "qwen3moe", "deepseek2"};
  if (std::find(std::begin(known), std::end(known), s.architecture) == std::end(known)) {
    return make_error(ErrorCode::kUnsupported, "config.json model_type `" + model_type +
                                                   "` is not one batchwise models (llama, mistral, mixtral, qwen2, "
                                                   "qwen3, qwen3_moe, gemma2, gemma3, deepseek_v2, deepseek_v3)");
  }
  s.vocab_size = get_int(j, "vocab_size", 0);
  s.n_ctx_train = get_int(j, "max_position_embeddings", 4096);
  s.n_embd = get_int(j, "hidden_size", 0);
  s.n_layer = get_int(j, "num_hidden_layers", 0);
  s.n_head = get_int(j, "num_attention_heads", 0);
  s.n_head_kv = get_int(j, "num_key_value_heads", s.n_head);
  s.head_dim = get_int(j, "head_dim", s.n_head ? s.n_embd / s.n_head : 0);
  s.n_ff = get_int(j, "intermediate_size", 0);
  s.tied_embeddings = get_bool(j, "tie_word_embeddings", s.architecture.starts_with("gemma"));
  s.attention_bias = s.architecture == "qwen2" || get_bool(j, "attention_bias", false);
  s.qk_norm = s.architecture == "qwen3" || s.architecture == "qwen3moe" || s.architecture == "gemma3";
  if (j.contains("rope_theta") && j["rope_theta"].is_number()) s.rope_freq_base = j["rope_theta"].get<float>();
  if (j.contains("rms_norm_eps") && j["rms_norm_eps"].is_number()) s.norm_eps = j["rms_norm_eps"].get<float>();
  if (s.architecture.starts_with("gemma")) {
    s.sliding_window = get_int(j, "sliding_window", 4096);
    s.swa_pattern = get_int(j, "sliding_window_pattern", s.architecture == "gemma2" ? 2 : 6);
  }
  s.n_expert = get_int(j, "num_local_experts", get_int(j, "num_experts", get_int(j, "n_routed_experts", 0)));
  if (s.n_expert > 0) {
    s.n_expert_used = get_int(j, "num_experts_per_tok", 2);
    s.n_ff_expert = get_int(j, "moe_intermediate_size", s.n_ff);
    s.n_expert_shared = get_int(j, "n_shared_experts", 0);
    s.n_layer_dense_lead = get_int(j, "first_k_dense_replace", 0);
  }
  s.kv_lora_rank = get_int(j, "kv_lora_rank", 0);
  if (s.kv_lora_rank > 0) {
    s.q_lora_rank = get_int(j, "q_lora_rank", 0);
    s.qk_rope_head_dim = get_int(j, "qk_rope_head_dim", 64);
    s.qk_nope_head_dim = get_int(j, "qk_nope_head_dim", 128);
    s.v_head_dim = get_int(j, "v_head_dim", 128);
    s.head_dim = s.qk_nope_head_dim + s.qk_rope_head_dim;
  }
  BW_TRY(s.validate());
  return s;
}

Expected<std::optional<WeightsSummary>> safetensors_weights(const std::filesystem::path& dir) {
  std::error_code ec;
  WeightsSummary w;
  w.source = "safetensors headers";
  bool any = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".safetensors") continue;
    BW_TRY(add_safetensors(entry.path(), w));
    any = true;
  }
  if (!any) return std::optional<WeightsSummary>();
  return std::optional<WeightsSummary>(w);
}

}  // namespace batchwise
