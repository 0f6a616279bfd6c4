#include "state_db_reader.h"

#include <sqlite3.h>

#include <memory>

namespace batchwise::test {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Read-only, with a busy timeout: the run commits while we look.
DbPtr open_read_only(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return nullptr;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) return nullptr;
  sqlite3_busy_timeout(raw, 2000);
  return db;
}

StmtPtr prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) return nullptr;
  return StmtPtr(raw);
}

std::string text_column(sqlite3_stmt* s, int i) {
  const auto* p = sqlite3_column_text(s, i);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(s, i))) : "";
}

}  // namespace

std::map<int64_t, DurableResult> read_durable_results(const std::filesystem::path& state_db) {
  std::map<int64_t, DurableResult> rows;
  DbPtr db = open_read_only(state_db);
  if (!db) return rows;
  StmtPtr s = prepare(db.get(), "SELECT line, custom_id, body, prompt_tokens, attempts, ok FROM results");
  if (!s) return rows;
  while (sqlite3_step(s.get()) == SQLITE_ROW) {
    DurableResult r;
    r.custom_id = text_column(s.get(), 1);
    r.body = text_column(s.get(), 2);
    r.prompt_tokens = sqlite3_column_int64(s.get(), 3);
    r.attempts = sqlite3_column_int64(s.get(), 4);
    r.ok = sqlite3_column_int64(s.get(), 5) != 0;
    rows[sqlite3_column_int64(s.get(), 0)] = std::move(r);
  }
  return rows;
}

int64_t count_durable_results(const std::filesystem::path& state_db) {
  DbPtr db = open_read_only(state_db);
  if (!db) return 0;
  StmtPtr s = prepare(db.get(), "SELECT count(*) FROM results");
  if (!s || sqlite3_step(s.get()) != SQLITE_ROW) return 0;
  return sqlite3_column_int64(s.get(), 0);
}

}  // namespace batchwise::test
