#include "job/state_db.h"

#include <sqlite3.h>

namespace batchwise::state_db {

void DbCloser::operator()(sqlite3* db) const { sqlite3_close_v2(db); }
void StmtFinalizer::operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }

Error db_error(sqlite3* db, const std::string& what) {
  const int code = sqlite3_errcode(db);
  const bool full = code == SQLITE_FULL || sqlite3_extended_errcode(db) == SQLITE_IOERR_WRITE;
  std::string message = what + ": " + sqlite3_errmsg(db);
  if (full) message += " (is the disk full? free space, then run the same command again to resume)";
  return Error{full || code == SQLITE_IOERR ? ErrorCode::kIo : code == SQLITE_CORRUPT || code == SQLITE_NOTADB
                                                                  ? ErrorCode::kCorrupt
                                                                  : ErrorCode::kIo,
               message};
}

Status exec(sqlite3* db, const char* sql, const char* what) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return std::unexpected(db_error(db, what));
  return {};
}

Expected<StmtPtr> prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    return std::unexpected(db_error(db, "preparing a statement"));
  }
  return StmtPtr(stmt);
}

void bind_text(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

std::string column_text(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s, i))) : std::string();
}

const char* const kResultColumns =
    "SELECT line, custom_id, ok, status_code, body, error_code, error_message, attempts, prompt_tokens, "
    "cached_tokens, completion_tokens, queue_ms, ttft_ms, total_ms, finished_at FROM results ";

ResultRecord read_result(sqlite3_stmt* s) {
  ResultRecord r;
  r.line = sqlite3_column_int64(s, 0);
  r.custom_id = column_text(s, 1);
  r.ok = sqlite3_column_int(s, 2) != 0;
  r.status_code = sqlite3_column_int(s, 3);
  r.body = column_text(s, 4);
  r.error_code = column_text(s, 5);
  r.error_message = column_text(s, 6);
  r.attempts = sqlite3_column_int(s, 7);
  r.prompt_tokens = sqlite3_column_int64(s, 8);
  r.cached_tokens = sqlite3_column_int64(s, 9);
  r.completion_tokens = sqlite3_column_int64(s, 10);
  r.queue_ms = sqlite3_column_double(s, 11);
  r.ttft_ms = sqlite3_column_double(s, 12);
  r.total_ms = sqlite3_column_double(s, 13);
  r.finished_at = sqlite3_column_int64(s, 14);
  return r;
}

}  // namespace batchwise::state_db
