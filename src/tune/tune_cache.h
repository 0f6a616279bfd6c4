// The tune result cache: one JSON file per (kind, hardware, model, engine build, workload shape) under
// CACHE_DIR/tune/, named by a hash of those five, holding the key in full (checked on load: a hash
// collision reads as a miss), the settings the search ran with (knob range, memory limit: other
// settings are a miss) and the result. Written atomically, so a reader sees a whole file or none.
// `run` finds the entry for its model, hardware and workload through the same key. Not having an
// entry is a normal outcome (nullopt), not an error.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/status.h"

namespace batchwise {

struct TuneKey {
  std::string kind;          // "embedded", "endpoint", "command"
  std::string hardware;      // hardware_key(); endpoints: their URLs
  std::string model;         // GGUF identity (size, header hash, quant); endpoints: the body's model; command: ""
  std::string engine_build;  // batchwise and llama.cpp versions, backend; command: the command template
  std::string workload;      // WorkloadSketch::bucket(); command: ""
  nlohmann::json to_json() const;
  std::string file_name() const;  // "<16 hex digits>.json"
};

// "batchwise 0.1.0, llama.cpp v0.5.0 (cpu)"
std::string engine_build_id();

// The identity of a GGUF file for the key: its size, a hash of its first MiB (the header: shapes,
// types, tokenizer start) and its file type, without reading the weights.
Expected<std::string> model_identity(const std::filesystem::path& gguf);

struct CachedTune {
  nlohmann::json settings;
  nlohmann::json result;
  std::filesystem::path path;
};

// nullopt when there is no entry for the key (or it is unreadable: a cache is allowed to be lost).
std::optional<CachedTune> load_tune(const TuneKey& key);
Expected<std::filesystem::path> store_tune(const TuneKey& key, const nlohmann::json& settings, const nlohmann::json& result);

}  // namespace batchwise
