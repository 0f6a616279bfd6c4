#include "tune/tune_cache.h"

#include <fstream>

#include "core/files.h"
#include "model/model_source.h"
#include "model/weight_types.h"

#ifndef BATCHWISE_LLAMA_CPP_BUILD
#define BATCHWISE_LLAMA_CPP_BUILD "unknown"
#endif

namespace batchwise {
namespace {

Expected<std::filesystem::path> tune_dir() {
  BW_ASSIGN_OR_RETURN(std::filesystem::path dir, cache_dir());
  dir /= "tune";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::kIo, dir.string() + ": " + ec.message());
  return dir;
}

}  // namespace

nlohmann::json TuneKey::to_json() const {
  return {{"kind", kind}, {"hardware", hardware}, {"model", model}, {"engine_build", engine_build}, {"workload", workload}};
}

std::string TuneKey::file_name() const { return hex64(fnv1a64(to_json().dump())) + ".json"; }

std::string engine_build_id() {
  return "batchwise " + std::string(batchwise_version()) + ", llama.cpp " BATCHWISE_LLAMA_CPP_BUILD;
}

Expected<std::string> model_identity(const std::filesystem::path& gguf) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(gguf, ec);
  if (ec) return make_error(ErrorCode::kNotFound, gguf.string() + ": " + ec.message());
  std::ifstream in(gguf, std::ios::binary);
  std::string head(static_cast<size_t>(std::min<uintmax_t>(size, 1 << 20)), '\0');
  if (!in.read(head.data(), static_cast<std::streamsize>(head.size()))) {
    return make_error(ErrorCode::kIo, gguf.string() + ": cannot read its header");
  }
  std::string quant = "unknown";
  if (auto info = load_model_info(gguf.string()); info && info->file_type) quant = std::string(file_type_name(*info->file_type));
  return std::to_string(size) + " bytes, header " + hex64(fnv1a64(head)) + ", " + quant;
}

std::optional<CachedTune> load_tune(const TuneKey& key) {
  auto dir = tune_dir();
  if (!dir) return std::nullopt;
  const auto path = *dir / key.file_name();
  auto text = read_file(path);
  if (!text) return std::nullopt;
  const auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("key") || j["key"] != key.to_json() || !j.contains("result") ||
      !j.contains("settings")) {
    return std::nullopt;
  }
  return CachedTune{j["settings"], j["result"], path};
}

Expected<std::filesystem::path> store_tune(const TuneKey& key, const nlohmann::json& settings, const nlohmann::json& result) {
  BW_ASSIGN_OR_RETURN(std::filesystem::path dir, tune_dir());
  const auto path = dir / key.file_name();
  const nlohmann::json j = {{"key", key.to_json()}, {"settings", settings}, {"result", result}};
  BW_TRY(write_file_atomic(path, j.dump(2) + "\n"));
  return path;
}

}  // namespace batchwise
