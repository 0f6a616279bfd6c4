#include "job/job_store.h"

#include <sqlite3.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "core/thread.h"
#include "job/state_db.h"

namespace batchwise {
namespace {

using state_db::bind_text;
using state_db::column_text;
using state_db::db_error;
using state_db::DbPtr;
using state_db::exec;
using state_db::kResultColumns;
using state_db::prepare;
using state_db::read_result;
using state_db::StmtPtr;

constexpr int kSchemaVersion = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
  line INTEGER PRIMARY KEY,
  custom_id TEXT NOT NULL,
  ok INTEGER NOT NULL,
  status_code INTEGER NOT NULL,
  body TEXT,
  error_code TEXT,
  error_message TEXT,
  attempts INTEGER NOT NULL,
  prompt_tokens INTEGER NOT NULL,
  cached_tokens INTEGER NOT NULL,
  completion_tokens INTEGER NOT NULL,
  queue_ms REAL NOT NULL,
  ttft_ms REAL NOT NULL,
  total_ms REAL NOT NULL,
  finished_at INTEGER NOT NULL
);
)sql";

}  // namespace

struct JobStore::Impl {
  DbPtr db;
  StoreOptions options;
  StmtPtr insert;

  std::mutex mu;
  std::condition_variable cv_work;
  std::condition_variable cv_done;
  std::condition_variable cv_space;  // append(): room in `pending`, or an error
  std::deque<ResultRecord> pending;
  size_t writing = 0;  // results taken by the writer, not yet committed
  std::atomic<int64_t> committed{0};
  std::atomic<int64_t> stored_ok{0};
  std::atomic<int64_t> stored_failed{0};
  std::atomic<int64_t> stored_completion_tokens{0};
  std::optional<Error> error;
  bool closing = false;
  std::thread writer;

  Status insert_one(const ResultRecord& r) {
    sqlite3_stmt* s = insert.get();
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, r.line);
    bind_text(s, 2, r.custom_id);
    sqlite3_bind_int(s, 3, r.ok ? 1 : 0);
    sqlite3_bind_int(s, 4, r.status_code);
    bind_text(s, 5, r.body);
    bind_text(s, 6, r.error_code);
    bind_text(s, 7, r.error_message);
    sqlite3_bind_int(s, 8, r.attempts);
    sqlite3_bind_int64(s, 9, r.prompt_tokens);
    sqlite3_bind_int64(s, 10, r.cached_tokens);
    sqlite3_bind_int64(s, 11, r.completion_tokens);
    sqlite3_bind_double(s, 12, r.queue_ms);
    sqlite3_bind_double(s, 13, r.ttft_ms);
    sqlite3_bind_double(s, 14, r.total_ms);
    sqlite3_bind_int64(s, 15, r.finished_at);
    if (sqlite3_step(s) != SQLITE_DONE) return std::unexpected(db_error(db.get(), "storing a result"));
    return {};
  }

  Status count_stored() {
    BW_ASSIGN_OR_RETURN(StmtPtr s, prepare(db.get(), "SELECT ok, COUNT(*), TOTAL(completion_tokens) FROM results GROUP BY ok"));
    stored_ok = 0;
    stored_failed = 0;
    stored_completion_tokens = 0;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      (sqlite3_column_int(s.get(), 0) ? stored_ok : stored_failed) = sqlite3_column_int64(s.get(), 1);
      stored_completion_tokens += static_cast<int64_t>(sqlite3_column_double(s.get(), 2));
    }
    if (rc != SQLITE_DONE) return std::unexpected(db_error(db.get(), "counting results"));
    return {};
  }

  // One transaction for the whole group: a crash keeps all of it or none. Returns the rows stored:
  // a line already there (INSERT OR IGNORE skipped it) is not counted as committed again.
  Expected<JobStore::Stored> commit_group(const std::vector<ResultRecord>& group) {
    BW_TRY(exec(db.get(), "BEGIN IMMEDIATE", "starting a transaction"));
    JobStore::Stored stored;
    for (const auto& r : group) {
      if (auto st = insert_one(r); !st) {
        (void)exec(db.get(), "ROLLBACK", "rolling back");
        return std::unexpected(st.error());
      }
      if (sqlite3_changes(db.get()) > 0) {
        (r.ok ? stored.ok : stored.failed)++;
        stored.completion_tokens += r.completion_tokens;
      }
    }
    if (auto st = exec(db.get(), "COMMIT", "committing results"); !st) {
      (void)exec(db.get(), "ROLLBACK", "rolling back");
      return std::unexpected(st.error());
    }
    return stored;
  }

  void writer_loop() {
    std::unique_lock lock(mu);
    while (true) {
      // Wait for a full group, or for the first result to have waited group_ms.
      // After a failed commit nothing more is taken: later results stay in `pending` (not committed,
      // not counted, run again on resume) instead of being dropped group by group.
      cv_work.wait(lock, [&] { return closing || (!pending.empty() && !error); });
      if (closing && (pending.empty() || error)) return;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.group_ms);
      cv_work.wait_until(lock, deadline,
                         [&] { return closing || pending.size() >= static_cast<size_t>(options.group_size); });
      std::vector<ResultRecord> group;
      while (!pending.empty() && group.size() < static_cast<size_t>(options.group_size)) {
        group.push_back(std::move(pending.front()));
        pending.pop_front();
      }
      writing = group.size();
      cv_space.notify_all();
      lock.unlock();
      Expected<JobStore::Stored> st = commit_group(group);
      lock.lock();
      if (!st) {
        error = st.error();  // the runner stops and reports it
        // The failed group goes back in front: it was never committed, and must not vanish.
        for (auto it = group.rbegin(); it != group.rend(); ++it) pending.push_front(std::move(*it));
        cv_space.notify_all();  // appenders waiting for room get the error instead
      } else {
        committed += st->ok + st->failed;
        stored_ok += st->ok;
        stored_failed += st->failed;
        stored_completion_tokens += st->completion_tokens;
      }
      writing = 0;
      cv_done.notify_all();
    }
  }
};

JobStore::JobStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  Impl* self = impl_.get();
  impl_->writer = run_thread("store writer", [self] { self->writer_loop(); }, [self](const std::string& what) {
    // Nothing after the last good commit counts: the job fails with this, as for a failed commit.
    std::lock_guard lock(self->mu);
    self->error = Error{ErrorCode::kInternal, "internal error in the state's writer: " + what};
    self->writing = 0;
    self->cv_done.notify_all();
    self->cv_space.notify_all();
  });
}

JobStore::~JobStore() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->closing = true;
  }
  impl_->cv_work.notify_all();
  if (impl_->writer.joinable()) impl_->writer.join();
}

Expected<std::unique_ptr<JobStore>> JobStore::open(const std::filesystem::path& path, StoreOptions options) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                 options.vfs.empty() ? nullptr : options.vfs.c_str());
  DbPtr db(raw);
  if (rc != SQLITE_OK) {
    return make_error(ErrorCode::kIo, "cannot open state " + path.string() + ": " +
                                          (raw ? sqlite3_errmsg(raw) : "out of memory"));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  // One connection, serialized (FULLMUTEX): the writer thread commits while the runner reads.
  // WAL: readers never block the writer; FULL: a commit survives power loss, not only a crash.
  // 16 KiB pages (a new state only; an existing one keeps its size): a group commit of a few hundred
  // answers is a few WAL frames, each one pwrite, instead of dozens of 4 KiB ones, and the checkpoint
  // and the output's read copy as many fewer. A 16 MiB page cache keeps a large job's B-tree interior
  // in memory, so a commit does not first evict (and re-read) pages. Measured: bench/README.md.
  if (auto st = exec(db.get(), "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                               "PRAGMA cache_size=-16384;", "setting up");
      !st) {
    return std::unexpected(st.error().with_context("state " + path.string() + " is not a batchwise state database"));
  }
  BW_TRY(exec(db.get(), kSchema, "creating the schema"));
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  BW_ASSIGN_OR_RETURN(impl->insert,
                      prepare(db.get(),
                              "INSERT OR IGNORE INTO results (line, custom_id, ok, status_code, body, error_code, "
                              "error_message, attempts, prompt_tokens, cached_tokens, completion_tokens, queue_ms, "
                              "ttft_ms, total_ms, finished_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"));
  impl->db = std::move(db);
  BW_TRY(impl->count_stored());
  return std::unique_ptr<JobStore>(new JobStore(std::move(impl)));
}

Expected<std::optional<JobMeta>> JobStore::job() {
  BW_ASSIGN_OR_RETURN(StmtPtr s, prepare(impl_->db.get(), "SELECT key, value FROM meta"));
  JobMeta meta;
  bool found = false;
  int version = 0;
  std::string bad_key;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    const std::string key = column_text(s.get(), 0);
    const std::string value = column_text(s.get(), 1);
    found = true;
    // Parsed without std::stoll, which throws on a damaged value: a bad state is an error, not an abort.
    auto number = [&](int64_t& out) {
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
      if (ec != std::errc() || end != value.data() + value.size()) bad_key = key;
    };
    int64_t v = 0;
    if (key == "schema_version") number(v), version = static_cast<int>(v);
    if (key == "input_path") meta.input_path = value;
    if (key == "input_hash") meta.input_hash = value;
    if (key == "requests") number(meta.requests);
    if (key == "invalid_lines") number(meta.invalid_lines);
    if (key == "created_at") number(meta.created_at);
    if (key == "shard_index") number(meta.shard.index);
    if (key == "shard_count") number(meta.shard.count);
    if (key == "input_lines") number(meta.input_lines);
    if (key == "run_ms") number(meta.run_ms);
  }
  if (rc != SQLITE_DONE) return std::unexpected(db_error(impl_->db.get(), "reading the job"));
  if (!bad_key.empty()) {
    return make_error(ErrorCode::kCorrupt, "the state's `" + bad_key + "` is not a number: the state is damaged; "
                                           "pass --restart to start over (or --state to use another)");
  }
  if (!found) return std::optional<JobMeta>();
  if (version != kSchemaVersion) {
    return make_error(ErrorCode::kUnsupported, "state schema version " + std::to_string(version) +
                                                   " is not this batchwise's " + std::to_string(kSchemaVersion));
  }
  return std::optional<JobMeta>(meta);
}

Status JobStore::create_job(const JobMeta& meta, const std::vector<LineError>& invalid_lines) {
  BW_TRY(flush());
  sqlite3* db = impl_->db.get();
  BW_TRY(exec(db, "BEGIN IMMEDIATE; DELETE FROM results; DELETE FROM meta;", "clearing the state"));
  auto fail = [&](Status st) {
    (void)exec(db, "ROLLBACK", "rolling back");
    return st;
  };
  BW_ASSIGN_OR_RETURN(StmtPtr put, prepare(db, "INSERT INTO meta (key, value) VALUES (?, ?)"));
  const std::pair<const char*, std::string> rows[] = {
      {"schema_version", std::to_string(kSchemaVersion)},
      {"input_path", meta.input_path},
      {"input_hash", meta.input_hash},
      {"requests", std::to_string(meta.requests)},
      {"invalid_lines", std::to_string(meta.invalid_lines)},
      {"created_at", std::to_string(meta.created_at)},
      {"shard_index", std::to_string(meta.shard.index)},
      {"shard_count", std::to_string(meta.shard.count)},
      {"input_lines", std::to_string(meta.input_lines)},
  };
  for (const auto& [key, value] : rows) {
    sqlite3_reset(put.get());
    bind_text(put.get(), 1, key);
    bind_text(put.get(), 2, value);
    if (sqlite3_step(put.get()) != SQLITE_DONE) return fail(std::unexpected(db_error(db, "storing the job")));
  }
  for (const auto& e : invalid_lines) {
    ResultRecord r;
    r.line = e.line;
    r.custom_id = e.custom_id;
    r.status_code = 400;
    r.error_code = "invalid_request";
    r.error_message = e.message;
    r.finished_at = meta.created_at;
    if (auto st = impl_->insert_one(r); !st) return fail(st);
  }
  if (auto st = exec(db, "COMMIT", "storing the job"); !st) return fail(st);
  return impl_->count_stored();
}

Expected<std::unordered_set<int64_t>> JobStore::finished_lines() {
  BW_ASSIGN_OR_RETURN(StmtPtr s, prepare(impl_->db.get(), "SELECT line FROM results"));
  std::unordered_set<int64_t> lines;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) lines.insert(sqlite3_column_int64(s.get(), 0));
  if (rc != SQLITE_DONE) return std::unexpected(db_error(impl_->db.get(), "reading finished lines"));
  return lines;
}

Status JobStore::append(ResultRecord record) {
  bool wake = false;
  {
    std::unique_lock lock(impl_->mu);
    impl_->cv_space.wait(lock, [&] { return impl_->pending.size() < impl_->options.max_pending || impl_->error || impl_->closing; });
    if (impl_->error) return std::unexpected(*impl_->error);
    impl_->pending.push_back(std::move(record));
    // The writer waits for a first result, then for a full group (or its time): woken for each result, it
    // went back to sleep each time, two futex calls per answer for nothing.
    const size_t n = impl_->pending.size();
    wake = n == 1 || n == static_cast<size_t>(impl_->options.group_size);
  }
  if (wake) impl_->cv_work.notify_one();
  return {};
}

int64_t JobStore::committed() const { return impl_->committed.load(); }

JobStore::Stored JobStore::stored() const {
  return {impl_->stored_ok.load(), impl_->stored_failed.load(), impl_->stored_completion_tokens.load()};
}

Expected<int64_t> JobStore::forget_failures() {
  BW_TRY(flush());
  sqlite3* db = impl_->db.get();
  // Invalid input lines are recorded with 0 attempts when the job is created; they would fail again.
  BW_TRY(exec(db, "DELETE FROM results WHERE ok = 0 AND attempts > 0", "forgetting failed results"));
  const int64_t forgotten = sqlite3_changes64(db);
  BW_TRY(impl_->count_stored());
  return forgotten;
}

Status JobStore::add_run_ms(int64_t ms) {
  BW_TRY(flush());
  sqlite3* db = impl_->db.get();
  BW_ASSIGN_OR_RETURN(StmtPtr s, prepare(db, "INSERT INTO meta (key, value) VALUES ('run_ms', ?) ON CONFLICT(key) "
                                             "DO UPDATE SET value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)"));
  bind_text(s.get(), 1, std::to_string(std::max<int64_t>(0, ms)));
  if (sqlite3_step(s.get()) != SQLITE_DONE) return std::unexpected(db_error(db, "storing the run's time"));
  return {};
}

Status JobStore::flush() {
  std::unique_lock lock(impl_->mu);
  impl_->cv_work.notify_one();
  // A group being written has left `pending` but is not committed until `writing` drops to 0.
  impl_->cv_done.wait(lock, [&] { return (impl_->pending.empty() && impl_->writing == 0) || impl_->error.has_value(); });
  if (impl_->error) return std::unexpected(*impl_->error);
  return {};
}

std::optional<Error> JobStore::write_error() const {
  std::lock_guard lock(impl_->mu);
  return impl_->error;
}

Status JobStore::for_each_result(const std::function<void(const ResultRecord&)>& fn) {
  const std::string sql = std::string(kResultColumns) + "ORDER BY line";
  BW_ASSIGN_OR_RETURN(StmtPtr s, prepare(impl_->db.get(), sql.c_str()));
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) fn(read_result(s.get()));
  if (rc != SQLITE_DONE) return std::unexpected(db_error(impl_->db.get(), "reading results"));
  return {};
}

Status JobStore::for_each_figures(const std::function<void(const ResultRecord&)>& fn) {
  // The same columns in the same places, the texts as NULL: SQLite then never reads a body's pages.
  BW_ASSIGN_OR_RETURN(StmtPtr s, prepare(impl_->db.get(),
                                         "SELECT line, NULL, ok, status_code, NULL, error_code, NULL, attempts, "
                                         "prompt_tokens, cached_tokens, completion_tokens, queue_ms, ttft_ms, total_ms, "
                                         "finished_at FROM results"));
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) fn(read_result(s.get()));
  if (rc != SQLITE_DONE) return std::unexpected(db_error(impl_->db.get(), "reading results"));
  return {};
}

Expected<std::vector<ResultRecord>> JobStore::results_after(int64_t after_line, int64_t limit) {
  const std::string sql = std::string(kResultColumns) + "WHERE line > ? ORDER BY line LIMIT ?";
  BW_ASSIGN_OR_RETURN(StmtPtr s, prepare(impl_->db.get(), sql.c_str()));
  sqlite3_bind_int64(s.get(), 1, after_line);
  sqlite3_bind_int64(s.get(), 2, limit);
  std::vector<ResultRecord> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(read_result(s.get()));
  if (rc != SQLITE_DONE) return std::unexpected(db_error(impl_->db.get(), "reading results"));
  return out;
}

}  // namespace batchwise
