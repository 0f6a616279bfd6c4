#include "hardware/gpu_catalogue.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/log.h"
#include "model/model_spec.h"

namespace batchwise {
namespace {

// Lower case, "nvidia"/"geforce" dropped, only letters and digits kept: "GeForce RTX-4090" -> "rtx4090".
std::string normalize(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c)) out.push_back(static_cast<char>(std::tolower(c)));
  }
  for (const std::string drop : {"nvidia", "geforce", "amd"}) {
    for (auto pos = out.find(drop); pos != std::string::npos; pos = out.find(drop)) out.erase(pos, drop.size());
  }
  return out;
}

}  // namespace

Expected<std::vector<GpuSpec>> load_gpu_catalogue() {
  const auto path = data_dir() / "gpus.json";
  log_debug("GPU catalogue: " + path.string());
  BW_ASSIGN_OR_RETURN(std::string text, read_file(path));
  const auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.contains("gpus") || !doc["gpus"].is_array()) {
    return make_error(ErrorCode::kCorrupt, path.string() + ": expected an object with a `gpus` array");
  }
  std::vector<GpuSpec> out;
  for (const auto& g : doc["gpus"]) {
    if (!g.is_object() || !g.contains("name")) return make_error(ErrorCode::kCorrupt, path.string() + ": a GPU without a name");
    GpuSpec s;
    s.name = g.value("name", "");
    if (g.contains("aliases") && g["aliases"].is_array()) {
      for (const auto& a : g["aliases"]) {
        if (a.is_string()) s.aliases.push_back(a.get<std::string>());
      }
    }
    s.vendor = g.value("vendor", "nvidia");
    s.memory_bytes = static_cast<int64_t>(g.value("memory_gib", 0.0) * 1073741824.0);
    s.bandwidth_bytes_per_s = g.value("bandwidth_gb_s", 0.0) * 1e9;
    s.fp16_flops_per_s = g.value("fp16_tflops", 0.0) * 1e12;
    s.bf16_flops_per_s = g.value("bf16_tflops", s.fp16_flops_per_s / 1e12) * 1e12;
    s.int8_ops_per_s = g.value("int8_tops", s.fp16_flops_per_s / 1e12) * 1e12;
    s.compute_capability = g.value("compute_capability", "");
    s.unified_memory = g.value("unified_memory", false);
    if (s.memory_bytes <= 0 || s.bandwidth_bytes_per_s <= 0 || s.fp16_flops_per_s <= 0) {
      return make_error(ErrorCode::kCorrupt, path.string() + ": `" + s.name + "` needs positive memory, bandwidth and fp16_tflops");
    }
    out.push_back(std::move(s));
  }
  return out;
}

Expected<GpuSpec> find_gpu(const std::vector<GpuSpec>& catalogue, std::string_view name) {
  const std::string wanted = normalize(name);
  std::vector<std::string> names;
  for (const auto& g : catalogue) {
    names.push_back(g.name);
    if (normalize(g.name) == wanted) return g;
    for (const auto& a : g.aliases) {
      if (normalize(a) == wanted) return g;
    }
  }
  std::string message = "unknown GPU `" + std::string(name) + "`";
  const auto close = closest_names(name, names);
  message += close.empty() ? "; known:" : "; did you mean";
  const auto& list = close.empty() ? names : close;
  for (size_t i = 0; i < list.size(); ++i) message += (i ? ", " : " ") + list[i];
  message += close.empty() ? "" : "?";
  return make_error(ErrorCode::kNotFound, message);
}

std::optional<GpuSpec> match_probed_gpu(const std::vector<GpuSpec>& catalogue, std::string_view nvml_name) {
  const std::string probed = normalize(nvml_name);
  const GpuSpec* best = nullptr;
  size_t best_length = 0;
  for (const auto& g : catalogue) {
    if (g.vendor == "cpu") continue;
    std::vector<std::string> spellings = g.aliases;
    spellings.push_back(g.name);
    for (const auto& s : spellings) {
      const std::string n = normalize(s);
      if (n.size() >= 2 && probed.find(n) != std::string::npos && n.size() > best_length) {
        best = &g;
        best_length = n.size();
      }
    }
  }
  if (!best) return std::nullopt;
  return *best;
}

}  // namespace batchwise
