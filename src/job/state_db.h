// The SQLite pieces shared by the two users of a job's state database: JobStore, which writes it, and
// ResultReader, which reads it over a read-only connection of its own. RAII handles, errors that name
// the remedy, statement helpers, and the one mapping of a `results` row to a ResultRecord (so the
// writer and the readers cannot drift apart). Internal to src/job/: sqlite3.h stays in the .cpp files,
// its handle types are only declared here.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "job/job_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace batchwise::state_db {

struct DbCloser {
  void operator()(sqlite3* db) const;
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const;
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// The connection's last error as ours; `what` says what was being done ("reading results"). A full
// disk says so, with what to do about it.
Error db_error(sqlite3* db, const std::string& what);

// Runs SQL; `what` names it in the error ("committing results").
Status exec(sqlite3* db, const char* sql, const char* what);

Expected<StmtPtr> prepare(sqlite3* db, const char* sql);
void bind_text(sqlite3_stmt* s, int i, const std::string& v);
// A text column as bytes (it may hold NULs); NULL reads as "".
std::string column_text(sqlite3_stmt* s, int i);

// `SELECT <the columns read_result reads> FROM results `: a query adds its WHERE / ORDER BY.
extern const char* const kResultColumns;
// The current row of a statement that selects kResultColumns (or NULLs in their places).
ResultRecord read_result(sqlite3_stmt* s);

}  // namespace batchwise::state_db
