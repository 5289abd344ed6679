#include "store/database.h"

#include <sqlite3.h>

#include <filesystem>
#include <system_error>
#include <utility>

#include "store/schema.h"

namespace sluice::store {

namespace {

// While the schema is checked and migrated: long enough for another process that is migrating
// the same file at the same moment to finish. Startup only, never on the store thread's loop.
constexpr std::chrono::milliseconds kOpenBusyTimeout{5000};

core::Error sqlite_error(sqlite3* db, int rc, std::string_view doing) {
  int primary = rc & 0xff;
  std::string detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string message = "control-plane database: " + std::string(doing) + ": " + detail;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
    return core::Error(core::Errc::kServiceUnavailable,
                       message + " (another process holds the database; try again)");
  }
  if (primary == SQLITE_FULL) return core::Error(core::Errc::kServiceUnavailable, message);
  return core::Error(core::Errc::kInternal, message);
}

}  // namespace

std::string database_path(std::string_view data_dir) {
  return (std::filesystem::path(data_dir) / kDatabaseFile).string();
}

// --- Statement

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      bind_error_(other.bind_error_) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_error_ = other.bind_error_;
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::check_bind(int rc) {
  if (rc != SQLITE_OK && bind_error_ == 0) bind_error_ = rc;
}

Statement& Statement::bind_int(int index, std::int64_t value) {
  check_bind(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::bind_real(int index, double value) {
  check_bind(sqlite3_bind_double(stmt_, index, value));
  return *this;
}

Statement& Statement::bind_text(int index, std::string_view text) {
  check_bind(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind_text_static(int index, std::string_view text) {
  check_bind(
      sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_STATIC, SQLITE_UTF8));
  return *this;
}

Statement& Statement::bind_blob(int index, std::string_view bytes) {
  // A zero-length blob from a null pointer would bind NULL; the column wants a value.
  static const char kEmpty = 0;
  check_bind(sqlite3_bind_blob64(stmt_, index, bytes.empty() ? &kEmpty : bytes.data(), bytes.size(),
                                 SQLITE_TRANSIENT));
  return *this;
}

core::Result<bool> Statement::step() {
  if (bind_error_ != 0) return sqlite_error(db_, bind_error_, "binding a parameter");
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  auto e = sqlite_error(db_, rc, "query");
  sqlite3_reset(stmt_);
  return e;
}

core::Result<void> Statement::run() {
  for (;;) {
    auto row = step();
    if (!row) return row.error();
    if (!*row) return core::ok();
  }
}

void Statement::reset() { sqlite3_reset(stmt_); }

std::int64_t Statement::column_int(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::column_real(int column) const { return sqlite3_column_double(stmt_, column); }

std::string Statement::column_text(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  int bytes = sqlite3_column_bytes(stmt_, column);
  return text != nullptr ? std::string(reinterpret_cast<const char*>(text), bytes) : std::string();
}

std::string Statement::column_blob(int column) const {
  const void* blob = sqlite3_column_blob(stmt_, column);
  int bytes = sqlite3_column_bytes(stmt_, column);
  return blob != nullptr ? std::string(static_cast<const char*>(blob), bytes) : std::string();
}

bool Statement::column_is_null(int column) const {
  return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

// --- Database

core::Result<std::unique_ptr<Database>> Database::open(const std::string& path) {
  return open(path, kBusyTimeout);
}

core::Result<std::unique_ptr<Database>> Database::open(const std::string& path,
                                                       std::chrono::milliseconds busy_timeout) {
  // SQLite takes "" for a private temporary database, which would lose every key on exit.
  if (path.empty()) return core::Error(core::Errc::kInternal, "no control-plane database path");
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return core::Error(core::Errc::kInternal, "cannot create the data directory " +
                                                    parent.string() + ": " + ec.message());
    }
  }
  sqlite3* raw = nullptr;
  // NOMUTEX: the connection is never shared between threads at once (see the header), so
  // SQLite's per-connection mutex would only cost.
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<Database> db(new Database(raw, path));
  if (rc != SQLITE_OK) {
    std::string detail = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    return core::Error(core::Errc::kInternal, "cannot open " + path + ": " + detail);
  }
  if (auto r = db->configure(busy_timeout); !r) {
    return core::Error(r.error().code, path + ": " + r.error().message);
  }
  return db;
}

Database::~Database() { sqlite3_close_v2(db_); }

core::Result<void> Database::configure(std::chrono::milliseconds busy_timeout) {
  sqlite3_busy_timeout(db_, static_cast<int>(kOpenBusyTimeout.count()));
  // WAL: readers and one writer at a time never wait for each other, and a commit is one append
  // to the log. The mode is stored in the file, so this is a no-op after the first open.
  std::string mode;
  {
    // Scoped: a statement that is not finished keeps a transaction open and blocks the commits
    // of the migrations below.
    auto stmt = prepare("PRAGMA journal_mode=WAL");
    if (!stmt) return stmt.error();
    auto row = stmt->step();
    if (!row) return row.error();
    if (*row) mode = stmt->column_text(0);
  }
  if (mode != "wal") {
    return core::Error(core::Errc::kInternal, "cannot use a write-ahead log (journal_mode is " +
                                                  mode +
                                                  "); the data directory must be on a local file "
                                                  "system");
  }
  // NORMAL in WAL mode: a commit is durable once the log is synced at a checkpoint; a power
  // loss may lose the last commits but never corrupts the file.
  if (auto r = exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON"); !r) return r.error();
  if (auto r = migrate(); !r) return r.error();
  sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
  return core::ok();
}

core::Result<void> Database::migrate() {
  auto read_version = [this]() -> core::Result<int> {
    auto stmt = prepare("PRAGMA user_version");
    if (!stmt) return stmt.error();
    auto row = stmt->step();
    if (!row) return row.error();
    return *row ? static_cast<int>(stmt->column_int(0)) : 0;
  };
  const int latest = latest_schema_version();
  auto version = read_version();
  if (!version) return version.error();
  if (*version > latest) {
    return core::Error(core::Errc::kInternal,
                       "the database has schema version " + std::to_string(*version) +
                           ", newer than this Sluice understands (" + std::to_string(latest) +
                           "); it was written by a newer Sluice, so use that version (or a "
                           "fresh data_dir)");
  }
  auto steps = migrations();
  for (int target = *version + 1; target <= latest; ++target) {
    auto tx = Transaction::begin(*this, Transaction::Kind::kWrite);
    if (!tx) return tx.error();
    // Another process may have migrated while this one waited for the lock.
    auto now = read_version();
    if (!now) return now.error();
    if (*now >= target) continue;
    std::string sql(steps[target - 1]);
    sql += "\nPRAGMA user_version = " + std::to_string(target) + ";";
    if (auto r = exec(sql.c_str()); !r) {
      return core::Error(r.error().code, "schema migration to version " + std::to_string(target) +
                                             " failed: " + r.error().message);
    }
    if (auto r = tx->commit(); !r) return r.error();
  }
  auto final_version = read_version();
  if (!final_version) return final_version.error();
  schema_version_ = *final_version;
  return core::ok();
}

core::Result<Statement> Database::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return error(rc, "preparing a statement");
  }
  return Statement(db_, stmt);
}

core::Result<void> Database::exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return error(rc, "executing");
  return core::ok();
}

core::Error Database::error(int rc, std::string_view doing) const {
  return sqlite_error(db_, rc, doing);
}

// --- Transaction

core::Result<Transaction> Transaction::begin(Database& db, Kind kind) {
  auto r = db.exec(kind == Kind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN DEFERRED");
  if (!r) return r.error();
  return Transaction(db);
}

Transaction::~Transaction() {
  if (db_ != nullptr) db_->exec("ROLLBACK");
}

core::Result<void> Transaction::commit() {
  if (db_ == nullptr) return core::Error(core::Errc::kInternal, "transaction already ended");
  auto r = db_->exec("COMMIT");
  if (!r) return r.error();  // still open: the destructor rolls it back
  db_ = nullptr;
  return core::ok();
}

}  // namespace sluice::store
