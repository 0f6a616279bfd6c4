#include "model/model_source.h"

#include <filesystem>

#include "core/files.h"
#include "model/gguf_checks.h"
#include "model/hf_config.h"

namespace batchwise {
namespace {

bool has_tensor(const GgufHeader& h, const std::string& name) {
  for (const auto& t : h.tensors) {
    if (t.name == name) return true;
  }
  return false;
}

std::optional<FileType> file_type_from_id(int64_t id) {
  for (const auto& name : file_type_names()) {
    auto type = parse_file_type(name);
    if (type && file_type_id(*type) == id) return *type;
  }
  return std::nullopt;
}

}  // namespace

Expected<ModelSpec> spec_from_gguf(const GgufHeader& h) {
  ModelSpec s;
  auto arch = h.get_string("general.architecture");
  if (!arch) return make_error(ErrorCode::kCorrupt, "GGUF has no general.architecture");
  s.architecture = *arch;
  s.name = h.get_string("general.name").value_or(*arch);
  const std::string a = *arch + ".";
  auto i = [&](const std::string& key, int64_t fallback) { return h.get_int(a + key).value_or(fallback); };
  s.n_ctx_train = i("context_length", 4096);
  s.n_embd = i("embedding_length", 0);
  s.n_layer = i("block_count", 0);
  s.n_ff = i("feed_forward_length", 0);
  s.n_head = i("attention.head_count", 0);
  s.n_head_kv = i("attention.head_count_kv", s.n_head);
  s.head_dim = i("attention.key_length", s.n_head ? s.n_embd / s.n_head : 0);
  s.rope_freq_base = static_cast<float>(h.get_float(a + "rope.freq_base").value_or(10000.0));
  s.norm_eps = static_cast<float>(h.get_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  if (const GgufValue* tokens = h.find("tokenizer.ggml.tokens"); tokens && tokens->kind == GgufValue::Kind::kArray) {
    s.vocab_size = static_cast<int64_t>(tokens->array_count);
  }
  s.vocab_size = i("vocab_size", s.vocab_size);
  for (const auto& t : h.tensors) {
    if (t.name == "token_embd.weight" && t.dims.size() >= 2) s.vocab_size = t.dims[1];
  }
  s.tied_embeddings = !has_tensor(h, "output.weight");
  s.attention_bias = has_tensor(h, "blk.0.attn_q.bias");
  s.qk_norm = has_tensor(h, "blk.0.attn_q_norm.weight");
  s.sliding_window = i("attention.sliding_window", 0);
  if (s.sliding_window > 0) {
    // llama.cpp fixes the pattern per architecture (llama-model.cpp) unless the file names one.
    const int64_t fixed = *arch == "gemma2" ? 2 : *arch == "gemma3" ? 6 : 0;
    s.swa_pattern = i("attention.sliding_window_pattern", fixed);
  }
  s.n_expert = i("expert_count", 0);
  s.n_expert_used = i("expert_used_count", 0);
  s.n_ff_expert = i("expert_feed_forward_length", s.n_expert > 0 ? s.n_ff : 0);
  s.n_expert_shared = i("expert_shared_count", 0);
  s.n_layer_dense_lead = i("leading_dense_block_count", 0);
  s.kv_lora_rank = i("attention.kv_lora_rank", 0);
  if (s.kv_lora_rank > 0) {
    s.q_lora_rank = i("attention.q_lora_rank", 0);
    s.qk_rope_head_dim = i("rope.dimension_count", 64);
    // Files converted for absorbed MLA carry the per-head sizes under *_mla keys.
    const int64_t key_length = i("attention.key_length_mla", i("attention.key_length", 192));
    s.qk_nope_head_dim = key_length - s.qk_rope_head_dim;
    s.v_head_dim = i("attention.value_length_mla", i("attention.value_length", 128));
    s.head_dim = key_length;
  }
  BW_TRY(s.validate());
  return s;
}

Expected<ModelInfo> load_model_info(std::string_view model_arg) {
  const std::filesystem::path path(model_arg);
  std::error_code ec;
  ModelInfo info;
  if (std::filesystem::is_regular_file(path, ec) && path.extension() == ".gguf") {
    BW_ASSIGN_OR_RETURN(GgufHeader header, read_gguf_header(path));
    if (Status s = check_llama_loadable(header); !s) return std::unexpected(s.error().with_context(path.string()));
    auto spec = spec_from_gguf(header);
    if (!spec) return std::unexpected(spec.error().with_context(path.string()));
    info.spec = *spec;
    info.source = "gguf";
    info.file_weights = weights_from_gguf(header);
    if (auto ft = header.get_int("general.file_type")) info.file_type = file_type_from_id(*ft);
    return info;
  }
  std::filesystem::path config = path;
  if (std::filesystem::is_directory(path, ec)) config = path / "config.json";
  if (config.extension() == ".json" && std::filesystem::is_regular_file(config, ec)) {
    BW_ASSIGN_OR_RETURN(std::string text, read_file(config));
    auto spec = spec_from_hf_config(text);
    if (!spec) return std::unexpected(spec.error().with_context(config.string()));
    info.spec = *spec;
    if (info.spec.name == info.spec.architecture || info.spec.name.empty()) info.spec.name = config.parent_path().filename().string();
    info.source = "hf_config";
    BW_ASSIGN_OR_RETURN(info.file_weights, safetensors_weights(config.parent_path().empty() ? "." : config.parent_path()));
    return info;
  }
  if (path.has_parent_path() || path.extension() == ".gguf" || path.extension() == ".json") {
    return make_error(ErrorCode::kNotFound, "model file " + path.string() + " not found");
  }
  BW_ASSIGN_OR_RETURN(info.spec, find_preset(model_arg));
  info.source = "preset";
  return info;
}

}  // namespace batchwise
