#include "store/database.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <fstream>

#include "store/schema.h"
#include "store/testing.h"

namespace sluice::store {
namespace {

using testing::TempDir;

std::string text_of(Database& db, const char* sql) {
  auto stmt = db.prepare(sql);
  EXPECT_TRUE(stmt) << stmt.error().message;
  auto row = stmt->step();
  EXPECT_TRUE(row && *row);
  return stmt->column_text(0);
}

std::int64_t int_of(Database& db, const char* sql) {
  auto stmt = db.prepare(sql);
  EXPECT_TRUE(stmt) << stmt.error().message;
  auto row = stmt->step();
  EXPECT_TRUE(row && *row);
  return stmt->column_int(0);
}

TEST(DatabaseTest, AFreshFileGetsTheWholeSchemaInWalMode) {
  TempDir dir;
  std::string path = (dir.path() / "nested" / "data" / "sluice.db").string();
  auto db = Database::open(path);
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ((*db)->schema_version(), latest_schema_version());
  EXPECT_GE(latest_schema_version(), 1);
  EXPECT_EQ(text_of(**db, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(int_of(**db, "PRAGMA synchronous"), 1);  // NORMAL
  EXPECT_EQ(int_of(**db, "PRAGMA foreign_keys"), 1);
  EXPECT_EQ(int_of(**db, "PRAGMA user_version"), latest_schema_version());
  EXPECT_EQ(int_of(**db,
                   "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('keys', 'usage', "
                   "'meta')"),
            3);
  EXPECT_EQ(int_of(**db, "SELECT value FROM meta WHERE name = 'keys_version'"), 0);
}

TEST(DatabaseTest, ReopeningMigratesNothingAndKeepsTheData) {
  TempDir dir;
  {
    auto db = Database::open(testing::db_path(dir));
    ASSERT_TRUE(db) << db.error().message;
    ASSERT_TRUE((*db)->exec("INSERT INTO meta (name, value) VALUES ('probe', 42)"));
  }
  for (int i = 0; i < 2; ++i) {
    auto db = Database::open(testing::db_path(dir));
    ASSERT_TRUE(db) << db.error().message;
    EXPECT_EQ((*db)->schema_version(), latest_schema_version());
    EXPECT_EQ(int_of(**db, "SELECT value FROM meta WHERE name = 'probe'"), 42);
    // The migration's own insert ran once: re-running it would have failed on the primary key.
    EXPECT_EQ(int_of(**db, "SELECT COUNT(*) FROM meta WHERE name = 'keys_version'"), 1);
  }
}

TEST(DatabaseTest, ADatabaseFromANewerSluiceIsRefused) {
  TempDir dir;
  {
    auto db = Database::open(testing::db_path(dir));
    ASSERT_TRUE(db);
    std::string sql = "PRAGMA user_version = " + std::to_string(latest_schema_version() + 1);
    ASSERT_TRUE((*db)->exec(sql.c_str()));
  }
  auto db = Database::open(testing::db_path(dir));
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().message.find("newer than this Sluice"), std::string::npos)
      << db.error().message;
  EXPECT_NE(db.error().message.find(testing::db_path(dir)), std::string::npos)
      << db.error().message;
}

TEST(DatabaseTest, AFileThatIsNotADatabaseIsReported) {
  TempDir dir;
  std::ofstream(testing::db_path(dir))
      << "this is not a database, it is a text file that is long enough\n";
  auto db = Database::open(testing::db_path(dir));
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().message.find("not a database"), std::string::npos) << db.error().message;
}

TEST(DatabaseTest, AnEmptyPathIsRefusedNotATemporaryDatabase) {
  auto db = Database::open("");
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().message.find("no control-plane database path"), std::string::npos);
}

TEST(DatabaseTest, TheFileIsSluiceDbInTheDataDirectory) {
  EXPECT_EQ(database_path("/var/lib/sluice"), "/var/lib/sluice/sluice.db");
  EXPECT_EQ(database_path("data/"), "data/sluice.db");
  EXPECT_EQ(database_path("./d"), "./d/sluice.db");
}

TEST(DatabaseTest, StatementsBindAndReadEveryType) {
  TempDir dir;
  auto db = Database::open(testing::db_path(dir));
  ASSERT_TRUE(db);
  ASSERT_TRUE((*db)->exec("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB)"));
  auto insert = (*db)->prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4)");
  ASSERT_TRUE(insert);
  std::string blob("\x00\x01\xff", 3);
  insert->bind_int(1, -7).bind_real(2, 2.5).bind_text(3, "h\xc3\xa9").bind_blob(4, blob);
  ASSERT_TRUE(insert->run());
  insert->reset();
  insert->bind_int(1, 1).bind_real(2, 0).bind_text(3, "").bind_blob(4, "");
  ASSERT_TRUE(insert->run());

  auto select = (*db)->prepare("SELECT i, r, s, b FROM t ORDER BY rowid");
  ASSERT_TRUE(select);
  auto row = select->step();
  ASSERT_TRUE(row && *row);
  EXPECT_EQ(select->column_int(0), -7);
  EXPECT_EQ(select->column_real(1), 2.5);
  EXPECT_EQ(select->column_text(2), "h\xc3\xa9");
  EXPECT_EQ(select->column_blob(3), blob);
  row = select->step();
  ASSERT_TRUE(row && *row);
  EXPECT_FALSE(select->column_is_null(3));  // an empty blob is a value, not NULL
  EXPECT_EQ(select->column_blob(3), "");
  row = select->step();
  ASSERT_TRUE(row);
  EXPECT_FALSE(*row);
}

TEST(DatabaseTest, ABadBindIsReportedByStep) {
  TempDir dir;
  auto db = Database::open(testing::db_path(dir));
  ASSERT_TRUE(db);
  auto stmt = (*db)->prepare("SELECT ?1");
  ASSERT_TRUE(stmt);
  stmt->bind_int(5, 1);  // out of range
  auto row = stmt->step();
  ASSERT_FALSE(row);
  EXPECT_EQ(row.error().code, core::Errc::kInternal);
}

TEST(DatabaseTest, ATransactionRollsBackUnlessCommitted) {
  TempDir dir;
  auto db = Database::open(testing::db_path(dir));
  ASSERT_TRUE(db);
  {
    auto tx = Transaction::begin(**db, Transaction::Kind::kWrite);
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*db)->exec("INSERT INTO meta (name, value) VALUES ('gone', 1)"));
  }
  EXPECT_EQ(int_of(**db, "SELECT COUNT(*) FROM meta WHERE name = 'gone'"), 0);
  {
    auto tx = Transaction::begin(**db, Transaction::Kind::kWrite);
    ASSERT_TRUE(tx);
    ASSERT_TRUE((*db)->exec("INSERT INTO meta (name, value) VALUES ('kept', 1)"));
    ASSERT_TRUE(tx->commit());
  }
  EXPECT_EQ(int_of(**db, "SELECT COUNT(*) FROM meta WHERE name = 'kept'"), 1);
}

TEST(DatabaseTest, ALockedDatabaseFailsFastAsUnavailableAndReadsGoOn) {
  TempDir dir;
  auto mine = Database::open(testing::db_path(dir));
  auto other = Database::open(testing::db_path(dir));
  ASSERT_TRUE(mine && other);
  ASSERT_TRUE((*other)->exec("BEGIN EXCLUSIVE"));
  auto began = std::chrono::steady_clock::now();
  auto tx = Transaction::begin(**mine, Transaction::Kind::kWrite);
  auto waited = std::chrono::steady_clock::now() - began;
  ASSERT_FALSE(tx);
  EXPECT_EQ(tx.error().code, core::Errc::kServiceUnavailable) << tx.error().message;
  EXPECT_GE(waited, Database::kBusyTimeout / 2);
  EXPECT_LT(waited, std::chrono::seconds(2));
  // WAL: the writer holding its lock does not stop readers.
  EXPECT_EQ(int_of(**mine, "SELECT COUNT(*) FROM meta"), 1);
  ASSERT_TRUE((*other)->exec("COMMIT"));
  auto again = Transaction::begin(**mine, Transaction::Kind::kWrite);
  EXPECT_TRUE(again);
}

}  // namespace
}  // namespace sluice::store
