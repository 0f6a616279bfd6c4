// ServerStore: what `serve` keeps in its state folder besides each batch's own job state: the uploaded
// files and the batch objects, each an OpenAI-shaped JSON document in one SQLite database
// (STATE/server.db, WAL, synchronous=FULL), and the files' bytes under STATE/files/ named by id. A
// document is written before the client is told of it, so a restart finds every file and batch a
// client was given. Each batch's results live in its own job state (STATE/batches/ID/state.db).
//
// Threads: every method may be called from any thread (one serialized SQLite connection).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace batchwise {

class ServerStore {
 public:
  static Expected<std::unique_ptr<ServerStore>> open(const std::filesystem::path& state_dir);
  ~ServerStore();

  const std::filesystem::path& dir() const { return dir_; }
  // Where a file's bytes are: STATE/files/ID. `id` must have passed is_file_id().
  std::filesystem::path file_path(const std::string& id) const;
  // A batch's folder: STATE/batches/ID (its job state and output files).
  std::filesystem::path batch_dir(const std::string& id) const;

  // kind: "file" or "batch". put() inserts or replaces the document with this id.
  Status put(const std::string& kind, const std::string& id, const nlohmann::json& doc);
  Expected<std::optional<nlohmann::json>> get(const std::string& kind, const std::string& id);
  Status remove(const std::string& kind, const std::string& id);
  // Newest first; `after`: only those created before that id (pagination, as OpenAI's `after`).
  Expected<std::vector<nlohmann::json>> list(const std::string& kind, size_t limit, const std::string& after = "");
  // How many documents of `kind` have each value of their top-level string `field` ("" where it is missing),
  // counted by SQLite without handing the documents over (what /metrics asks at every scrape).
  Expected<std::map<std::string, int64_t>> count_by(const std::string& kind, const std::string& field);

  struct Impl;

 private:
  ServerStore(std::filesystem::path dir, std::unique_ptr<Impl> impl);
  std::filesystem::path dir_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace batchwise
