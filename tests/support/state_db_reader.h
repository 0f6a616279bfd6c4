// Reads a job's state database (out.state.db) the way a user's `sqlite3` would: read-only, while the
// run that writes it is alive or after it was killed. Used by the kill -9 trials to see which
// results were durable at the moment of a kill. sqlite3.h stays inside state_db_reader.cpp.
//
// Threads: each call opens and closes its own connection; any thread may call.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace batchwise::test {

struct DurableResult {
  std::string custom_id;
  std::string body;            // the stored response body, byte for byte
  int64_t prompt_tokens = 0;
  int64_t attempts = 0;
  bool ok = false;
};

// Rows of the `results` table keyed by input line; empty when the file or table is not there yet.
std::map<int64_t, DurableResult> read_durable_results(const std::filesystem::path& state_db);

// How many results are committed; 0 when the file or table is not there yet (or is locked a moment).
int64_t count_durable_results(const std::filesystem::path& state_db);

}  // namespace batchwise::test
