#include "model/model_spec.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "core/files.h"

namespace batchwise {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
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
  return s;
}

}  // namespace

int64_t ModelSpec::parameter_count() const {
  const int64_t q = n_embd * n_head * head_dim;
  const int64_t kv = 2 * n_embd * n_head_kv * head_dim;
  const int64_t o = n_head * head_dim * n_embd;
  const int64_t bias = attention_bias ? n_head * head_dim + 2 * n_head_kv * head_dim : 0;
  const int64_t ffn = 3 * n_embd * n_ff;
  const int64_t norms = 2 * n_embd;
  const int64_t per_layer = q + kv + o + bias + ffn + norms;
  const int64_t embeddings = vocab_size * n_embd * (tied_embeddings ? 1 : 2);
  return n_layer * per_layer + embeddings + n_embd /* output_norm */;
}

Expected<std::vector<std::string>> preset_names() {
  BW_ASSIGN_OR_RETURN(nlohmann::json models, load_presets());
  std::vector<std::string> names;
  for (const auto& m : models) names.push_back(m.value("name", ""));
  return names;
}

Expected<ModelSpec> find_preset(std::string_view name) {
  BW_ASSIGN_OR_RETURN(nlohmann::json models, load_presets());
  const std::string wanted = lower(name);
  std::vector<std::string> names;
  for (const auto& m : models) {
    names.push_back(m.value("name", ""));
    if (lower(names.back()) == wanted) return spec_from_json(m);
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
  const std::string wanted = lower(name);
  for (const auto& c : candidates) {
    const std::string lc = lower(c);
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
