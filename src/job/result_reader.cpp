#include "job/result_reader.h"

#include <sqlite3.h>

#include <algorithm>
#include <optional>
#include <string>

#include "job/state_db.h"

namespace batchwise {

struct ResultReader::Impl {
  state_db::DbPtr db;
  state_db::StmtPtr page;
  int which = -1;  // the `ok` value wanted, or -1 for both
  int64_t page_rows = 0;
  int64_t after_line = -1;  // lines start at 1; -1 also takes a line 0
};

ResultReader::ResultReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ResultReader::~ResultReader() = default;

Expected<std::unique_ptr<ResultReader>> ResultReader::open(const std::filesystem::path& path, Which which,
                                                           int64_t page_rows) {
  sqlite3* raw = nullptr;
  // Read-only: this connection can never write the job's state, whatever happens to the code around it.
  // SQLite still maps the WAL index (-shm) to see the writer's commits.
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
  state_db::DbPtr db(raw);
  if (rc != SQLITE_OK) {
    return make_error(ErrorCode::kIo, "cannot read state " + path.string() + ": " +
                                          (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  // A read waits out the moment a checkpoint or WAL recovery holds the lock, instead of failing.
  sqlite3_busy_timeout(db.get(), 5000);
  auto impl = std::make_unique<Impl>();
  const std::string sql = std::string(state_db::kResultColumns) +
                          "WHERE line > ?1 AND (?2 < 0 OR ok = ?2) ORDER BY line LIMIT ?3";
  auto page = state_db::prepare(db.get(), sql.c_str());
  if (!page) return std::unexpected(page.error().with_context("state " + path.string()));
  impl->page = std::move(*page);
  impl->db = std::move(db);
  impl->which = which == Which::kAll ? -1 : which == Which::kOk ? 1 : 0;
  impl->page_rows = std::max<int64_t>(1, page_rows);
  return std::unique_ptr<ResultReader>(new ResultReader(std::move(impl)));
}

Expected<std::vector<ResultRecord>> ResultReader::next_page() {
  sqlite3_stmt* s = impl_->page.get();
  sqlite3_bind_int64(s, 1, impl_->after_line);
  sqlite3_bind_int(s, 2, impl_->which);
  sqlite3_bind_int64(s, 3, impl_->page_rows);
  std::vector<ResultRecord> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) out.push_back(state_db::read_result(s));
  std::optional<Error> error;
  if (rc != SQLITE_DONE) error = state_db::db_error(impl_->db.get(), "reading results");
  // Reset ends the read transaction now: no snapshot is held between pages.
  sqlite3_reset(s);
  if (error) return std::unexpected(*error);
  if (!out.empty()) impl_->after_line = out.back().line;
  return out;
}

}  // namespace batchwise
