// The control-plane database: one SQLite connection to <data_dir>/sluice.db, opened in WAL mode
// so that readers (the gateway polling for key changes, `sluice usage`) never wait for a writer
// and a writer in another process (`sluice keys revoke`) never waits for them. open() creates the
// file and its directory when missing and brings the schema up to date (schema.h); a database
// written by a newer Sluice is refused rather than misread.
//
// Statement and Transaction are the small RAII helpers the stores build on: a prepared statement
// finalized when it dies, and a transaction rolled back unless committed. SQLite's failures come
// back as core::Error: a locked or busy database is Errc::kServiceUnavailable (worth retrying),
// anything else Errc::kInternal, with SQLite's own message.
//
// Thread safety: none. A Database and everything prepared on it are used from one thread at a
// time (the connection is opened without SQLite's own mutex). In the gateway that thread is
// ControlPlane's; the CLI commands use their own connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sluice::store {

class Database;

// The database's file name in Config::data_dir, and the path both the gateway and the CLI open.
inline constexpr std::string_view kDatabaseFile = "sluice.db";
std::string database_path(std::string_view data_dir);

// One prepared statement. Bind indexes are 1-based and column indexes 0-based, as in SQLite. A
// failed bind is remembered and reported by the next step().
class Statement {
 public:
  Statement() = default;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& bind_int(int index, std::int64_t value);
  Statement& bind_real(int index, double value);
  Statement& bind_text(int index, std::string_view text);
  // Without copying: `text` must stay alive and unchanged until the statement is reset.
  Statement& bind_text_static(int index, std::string_view text);
  Statement& bind_blob(int index, std::string_view bytes);

  // true: a row is ready to read; false: the statement is done.
  core::Result<bool> step();
  // Steps to the end, for statements that return no rows.
  core::Result<void> run();
  // Makes the statement ready to run again; bindings are kept until rebound.
  void reset();

  std::int64_t column_int(int column) const;
  double column_real(int column) const;
  std::string column_text(int column) const;
  std::string column_blob(int column) const;
  bool column_is_null(int column) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  void check_bind(int rc);

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
  int bind_error_ = 0;  // the first failed bind's SQLite code, 0 when none failed
};

class Database {
 public:
  // The gateway's busy timeout: a locked database may hold up the store thread this long per
  // attempt, never longer (a failed usage batch is retried later).
  static constexpr std::chrono::milliseconds kBusyTimeout{100};

  // Opens or creates the file: WAL journal, synchronous=NORMAL, foreign keys on, a busy timeout
  // of kBusyTimeout, then runs the schema migrations. While migrating, the timeout is a few
  // seconds so that two processes starting at once both succeed.
  static core::Result<std::unique_ptr<Database>> open(const std::string& path);
  // The same with another busy timeout (the CLI waits longer than the gateway's store thread).
  static core::Result<std::unique_ptr<Database>> open(const std::string& path,
                                                      std::chrono::milliseconds busy_timeout);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  int schema_version() const { return schema_version_; }
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

  core::Result<Statement> prepare(std::string_view sql);
  // Runs one or more statements that take no parameters.
  core::Result<void> exec(const char* sql);
  // The error for SQLite result code `rc` on this connection, saying what was being done.
  core::Error error(int rc, std::string_view doing) const;

 private:
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  core::Result<void> configure(std::chrono::milliseconds busy_timeout);
  core::Result<void> migrate();

  sqlite3* db_;
  std::string path_;
  int schema_version_ = 0;
};

// A transaction: BEGIN IMMEDIATE for writers (the write lock is taken at once, so a busy
// database fails here, before any work is done), BEGIN DEFERRED for a consistent read. Rolled
// back when destroyed uncommitted.
class Transaction {
 public:
  enum class Kind { kRead, kWrite };
  static core::Result<Transaction> begin(Database& db, Kind kind);
  Transaction(Transaction&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();

  core::Result<void> commit();

 private:
  explicit Transaction(Database& db) : db_(&db) {}
  Database* db_;  // null once committed or rolled back
};

}  // namespace sluice::store
