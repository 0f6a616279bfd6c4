#include "server/server_store.h"

#include <sqlite3.h>

#include <mutex>

namespace batchwise {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS objects (
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  doc TEXT NOT NULL,
  PRIMARY KEY (kind, id)
);
CREATE INDEX IF NOT EXISTS objects_by_seq ON objects (kind, seq);
)sql";

struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

}  // namespace

struct ServerStore::Impl {
  sqlite3* db = nullptr;
  std::mutex mu;  // one statement at a time on the connection; seq allocation

  ~Impl() {
    if (db) sqlite3_close_v2(db);
  }
  Error error(const std::string& what) const {
    return Error{ErrorCode::kIo, "server state: " + what + ": " + sqlite3_errmsg(db)};
  }
  Expected<StmtPtr> prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) != SQLITE_OK) return std::unexpected(error("preparing"));
    return StmtPtr(s);
  }
};

ServerStore::ServerStore(std::filesystem::path dir, std::unique_ptr<Impl> impl)
    : dir_(std::move(dir)), impl_(std::move(impl)) {}
ServerStore::~ServerStore() = default;

Expected<std::unique_ptr<ServerStore>> ServerStore::open(const std::filesystem::path& state_dir) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir / "files", ec);
  std::filesystem::create_directories(state_dir / "batches", ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create the state folder " + state_dir.string() + ": " + ec.message());
  auto impl = std::make_unique<Impl>();
  const auto path = state_dir / "server.db";
  if (sqlite3_open_v2(path.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    return make_error(ErrorCode::kIo, "cannot open " + path.string());
  }
  sqlite3_busy_timeout(impl->db, 5000);
  if (sqlite3_exec(impl->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", nullptr, nullptr, nullptr) !=
          SQLITE_OK ||
      sqlite3_exec(impl->db, kSchema, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return make_error(ErrorCode::kCorrupt, path.string() + " is not a batchwise server state: " +
                                               sqlite3_errmsg(impl->db));
  }
  return std::unique_ptr<ServerStore>(new ServerStore(state_dir, std::move(impl)));
}

std::filesystem::path ServerStore::file_path(const std::string& id) const { return dir_ / "files" / id; }
std::filesystem::path ServerStore::batch_dir(const std::string& id) const { return dir_ / "batches" / id; }

Status ServerStore::put(const std::string& kind, const std::string& id, const nlohmann::json& doc) {
  std::lock_guard lock(impl_->mu);
  // seq keeps the first insertion's order, so a replaced document keeps its place in listings.
  BW_ASSIGN_OR_RETURN(StmtPtr s, impl_->prepare(
                                     "INSERT INTO objects (kind, id, seq, doc) VALUES (?1, ?2, "
                                     "(SELECT COALESCE(MAX(seq), 0) + 1 FROM objects), ?3) "
                                     "ON CONFLICT (kind, id) DO UPDATE SET doc = excluded.doc"));
  const std::string text = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  sqlite3_bind_text(s.get(), 1, kind.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s.get(), 2, id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s.get(), 3, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return std::unexpected(impl_->error("storing " + id));
  return {};
}

Expected<std::optional<nlohmann::json>> ServerStore::get(const std::string& kind, const std::string& id) {
  std::lock_guard lock(impl_->mu);
  BW_ASSIGN_OR_RETURN(StmtPtr s, impl_->prepare("SELECT doc FROM objects WHERE kind = ?1 AND id = ?2"));
  sqlite3_bind_text(s.get(), 1, kind.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s.get(), 2, id.c_str(), -1, SQLITE_TRANSIENT);
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_DONE) return std::optional<nlohmann::json>();
  if (rc != SQLITE_ROW) return std::unexpected(impl_->error("reading " + id));
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0));
  auto doc = nlohmann::json::parse(text ? text : "", nullptr, false);
  if (doc.is_discarded()) return make_error(ErrorCode::kCorrupt, "server state: the document of " + id + " is damaged");
  return std::optional<nlohmann::json>(std::move(doc));
}

Status ServerStore::remove(const std::string& kind, const std::string& id) {
  std::lock_guard lock(impl_->mu);
  BW_ASSIGN_OR_RETURN(StmtPtr s, impl_->prepare("DELETE FROM objects WHERE kind = ?1 AND id = ?2"));
  sqlite3_bind_text(s.get(), 1, kind.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s.get(), 2, id.c_str(), -1, SQLITE_TRANSIENT);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return std::unexpected(impl_->error("deleting " + id));
  return {};
}

Expected<std::map<std::string, int64_t>> ServerStore::count_by(const std::string& kind, const std::string& field) {
  std::lock_guard lock(impl_->mu);
  BW_ASSIGN_OR_RETURN(StmtPtr s, impl_->prepare("SELECT COALESCE(json_extract(doc, ?2), ''), COUNT(*) FROM objects "
                                                "WHERE kind = ?1 GROUP BY 1"));
  const std::string path = "$." + field;
  sqlite3_bind_text(s.get(), 1, kind.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s.get(), 2, path.c_str(), -1, SQLITE_TRANSIENT);
  std::map<std::string, int64_t> counts;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    const auto* value = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0));
    counts[value ? value : ""] += sqlite3_column_int64(s.get(), 1);
  }
  if (rc != SQLITE_DONE) return std::unexpected(impl_->error("counting " + kind + " by " + field));
  return counts;
}

Expected<std::vector<nlohmann::json>> ServerStore::list(const std::string& kind, size_t limit,
                                                        const std::string& after) {
  std::lock_guard lock(impl_->mu);
  BW_ASSIGN_OR_RETURN(StmtPtr s, impl_->prepare(
                                     "SELECT doc FROM objects WHERE kind = ?1 AND seq < COALESCE("
                                     "(SELECT seq FROM objects WHERE kind = ?1 AND id = ?2), 9223372036854775807) "
                                     "ORDER BY seq DESC LIMIT ?3"));
  sqlite3_bind_text(s.get(), 1, kind.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s.get(), 2, after.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s.get(), 3, static_cast<sqlite3_int64>(limit));
  std::vector<nlohmann::json> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s.get(), 0));
    auto doc = nlohmann::json::parse(text ? text : "", nullptr, false);
    if (!doc.is_discarded()) out.push_back(std::move(doc));
  }
  if (rc != SQLITE_DONE) return std::unexpected(impl_->error("listing"));
  return out;
}

}  // namespace batchwise
