#include "model/model_spec.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "core/ascii.h"
#include "core/files.h"
#include "model/tensor_layout.h"

namespace batchwise {
namespace {

// Edits between a and b, an adjacent transposition counting as one (a typo "4900" for "4090" is one
// slip, not two substitutions): the optimal string alignment distance.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// Lower case letters and digits only: "RTX 4090" and "rtx4090" are the same name to a reader.
std::string letters_and_digits(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c)) out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

Expected<nlohmann::json> load_presets() {
  const auto path = data_dir() / "models.json";
  BW_ASSIGN_OR_RETURN(std::string text, read_file(path));
  auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.contains("models") || !doc["models"].is_array()) {
    return make_error(ErrorCode::kCorrupt, path.string() + ": expected an object with a `models` array");
  }
  return doc["models"];
}

ModelSpec spec_from_json(const nlohmann::json& j) {
  ModelSpec s;
  s.name = j.value("name", "");
  s.architecture = j.value("architecture", "llama");
  s.vocab = j.value("vocab", "llama-bpe");
  s.vocab_size = j.value("vocab_size", int64_t{0});
  s.n_ctx_train = j.value("n_ctx_train", int64_t{4096});
  s.n_embd = j.value("n_embd", int64_t{0});
  s.n_layer = j.value("n_layer", int64_t{0});
  s.n_head = j.value("n_head", int64_t{0});
  s.n_head_kv = j.value("n_head_kv", s.n_head);
  s.head_dim = j.value("head_dim", s.n_head ? s.n_embd / s.n_head : 0);
  s.n_ff = j.value("n_ff", int64_t{0});
  s.tied_embeddings = j.value("tied_embeddings", false);
  s.attention_bias = j.value("attention_bias", false);
  s.rope_freq_base = j.value("rope_freq_base", 10000.0f);
  s.norm_eps = j.value("norm_eps", 1e-5f);
  s.qk_norm = j.value("qk_norm", false);
  s.sliding_window = j.value("sliding_window", int64_t{0});
  s.swa_pattern = j.value("swa_pattern", int64_t{0});
  s.n_expert = j.value("n_expert", int64_t{0});
  s.n_expert_used = j.value("n_expert_used", int64_t{0});
  s.n_ff_expert = j.value("n_ff_expert", s.n_expert > 0 ? s.n_ff : int64_t{0});
  s.n_expert_shared = j.value("n_expert_shared", int64_t{0});
  s.n_layer_dense_lead = j.value("n_layer_dense_lead", int64_t{0});
  s.q_lora_rank = j.value("q_lora_rank", int64_t{0});
  s.kv_lora_rank = j.value("kv_lora_rank", int64_t{0});
  s.qk_rope_head_dim = j.value("qk_rope_head_dim", int64_t{0});
  s.qk_nope_head_dim = j.value("qk_nope_head_dim", int64_t{0});
  s.v_head_dim = j.value("v_head_dim", int64_t{0});
  if (s.is_mla() && !j.contains("head_dim")) s.head_dim = s.qk_nope_head_dim + s.qk_rope_head_dim;
  return s;
}

}  // namespace

bool ModelSpec::is_swa_layer(int64_t il) const {
  if (sliding_window <= 0) return false;
  if (swa_pattern <= 1) return swa_pattern == 0;
  return il % swa_pattern < swa_pattern - 1;
}

int64_t ModelSpec::n_layer_swa() const {
  int64_t n = 0;
  for (int64_t il = 0; il < n_layer; ++il) n += is_swa_layer(il) ? 1 : 0;
  return n;
}

int64_t ModelSpec::parameter_count() const {
  int64_t n = 0;
  for (const auto& t : model_tensor_shapes(*this)) n += t.elements();
  return n;
}

int64_t ModelSpec::active_parameter_count() const {
  int64_t n = 0;
  for (const auto& t : model_tensor_shapes(*this)) {
    n += t.routed_expert ? t.ne0 * t.ne1 * n_expert_used : t.elements();
  }
  return n;
}

Status ModelSpec::validate() const {
  auto bad = [&](const std::string& what) {
    return make_error(ErrorCode::kInvalidArgument, "model `" + name + "`: " + what);
  };
  if (n_embd <= 0 || n_layer <= 0 || n_head <= 0 || vocab_size <= 0) {
    return bad("n_embd, n_layer, n_head and vocab_size must be positive");
  }
  // Bounds from llama.cpp (LLAMA_MAX_LAYERS) and far above any real model: a hostile header's
  // 2^32-1 layers would otherwise make plan loop and allocate for minutes before bad_alloc.
  if (n_layer > kMaxLayers) return bad("n_layer " + std::to_string(n_layer) + " is over llama.cpp's limit of 512");
  const int64_t kMaxDim = int64_t{1} << 20, kMaxVocab = int64_t{1} << 24;
  if (n_embd > kMaxDim || n_head > kMaxDim || n_head_kv > kMaxDim || head_dim > kMaxDim || n_ff > kMaxDim * 16 ||
      n_ff_expert > kMaxDim * 16 || n_expert > 4096 || vocab_size > kMaxVocab || n_ctx_train > (int64_t{1} << 32) ||
      n_layer_dense_lead < 0 || n_layer_dense_lead > n_layer || n_expert < 0 || kv_lora_rank > kMaxDim ||
      q_lora_rank > kMaxDim || qk_rope_head_dim > kMaxDim || qk_nope_head_dim > kMaxDim || v_head_dim > kMaxDim ||
      sliding_window < 0 || swa_pattern < 0) {
    return bad("a size is out of range (embedding <= 2^20, vocabulary <= 2^24, experts <= 4096): not a real model");
  }
  if (!is_mla() && (n_head_kv <= 0 || head_dim <= 0 || n_head % n_head_kv != 0)) {
    return bad("n_head (" + std::to_string(n_head) + ") must be a positive multiple of n_head_kv (" +
               std::to_string(n_head_kv) + ") and head_dim positive");
  }
  if (is_moe() && (n_expert_used <= 0 || n_expert_used > n_expert || n_ff_expert <= 0)) {
    return bad("a mixture of experts needs 0 < n_expert_used <= n_expert and n_ff_expert > 0");
  }
  if (is_mla() && (qk_rope_head_dim <= 0 || qk_nope_head_dim <= 0 || v_head_dim <= 0)) {
    return bad("latent attention needs qk_rope_head_dim, qk_nope_head_dim and v_head_dim");
  }
  if ((!is_moe() || n_layer_dense_lead > 0) && n_ff <= 0) return bad("n_ff must be positive");
  return {};
}

Expected<std::vector<std::string>> preset_names() {
  BW_ASSIGN_OR_RETURN(nlohmann::json models, load_presets());
  std::vector<std::string> names;
  for (const auto& m : models) names.push_back(m.value("name", ""));
  return names;
}

Expected<ModelSpec> find_preset(std::string_view name) {
  BW_ASSIGN_OR_RETURN(nlohmann::json models, load_presets());
  const std::string wanted = ascii_lower(name);
  std::vector<std::string> names;
  for (const auto& m : models) {
    names.push_back(m.value("name", ""));
    if (ascii_lower(names.back()) == wanted) return spec_from_json(m);
  }
  std::string message = "unknown model preset `" + std::string(name) + "`";
  const auto close = closest_names(name, names);
  if (!close.empty()) {
    message += "; did you mean";
    for (size_t i = 0; i < close.size(); ++i) message += (i ? ", " : " ") + close[i];
    message += "?";
  }
  return make_error(ErrorCode::kNotFound, message);
}

std::vector<std::string> closest_names(std::string_view name, const std::vector<std::string>& candidates,
                                       size_t limit) {
  std::vector<std::pair<size_t, std::string>> scored;
  const std::string wanted = letters_and_digits(name);
  for (const auto& c : candidates) {
    const std::string lc = letters_and_digits(c);
    size_t d = edit_distance(wanted, lc);
    if (lc.find(wanted) != std::string::npos || wanted.find(lc) != std::string::npos) d = d / 2;
    scored.emplace_back(d, c);
  }
  std::stable_sort(scored.begin(), scored.end(), [](auto& a, auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (auto& [d, c] : scored) {
    if (out.size() >= limit || d > std::max<size_t>(3, wanted.size() / 2)) break;
    out.push_back(c);
  }
  return out;
}

}  // namespace batchwise
