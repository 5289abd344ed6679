#include "store/files_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/asio.h"
#include "store/testing.h"

namespace sluice::store {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

std::unique_ptr<Database> open_db(const TempDir& dir) {
  auto db = Database::open(testing::db_path(dir));
  EXPECT_TRUE(db) << db.error().message;
  return std::move(*db);
}

FileRecord file(std::string owner, std::string name, std::string purpose = "batch") {
  FileRecord f;
  f.id = random_object_id(kFilePrefix).value();
  f.owner = std::move(owner);
  f.filename = std::move(name);
  f.purpose = std::move(purpose);
  f.bytes = 42;
  f.created_at = 1767225600;
  return f;
}

std::vector<std::string> names(const Page<FileRecord>& page) {
  std::vector<std::string> out;
  for (const FileRecord& f : page.items) out.push_back(f.filename);
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ObjectIds, RandomAndWellFormed) {
  std::string a = random_object_id("file-").value();
  std::string b = random_object_id("file-").value();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 29u);
  EXPECT_TRUE(well_formed_object_id(a, "file-"));
  EXPECT_FALSE(well_formed_object_id(a, "batch_"));
  EXPECT_FALSE(well_formed_object_id("file-../../etc/passwd", "file-"));
  EXPECT_FALSE(well_formed_object_id("file-0123456789ABCDEF01234567", "file-"));
  EXPECT_FALSE(well_formed_object_id(a + "0", "file-"));
}

TEST(FileJson, IsOpenAIsFileObject) {
  FileRecord f = file("key_1", "input.jsonl");
  EXPECT_EQ(json::value(file_json(f)),
            json::parse(R"({"id":")" + f.id +
                        R"(","object":"file","bytes":42,"created_at":1767225600,)"
                        R"("filename":"input.jsonl","purpose":"batch","status":"processed"})"));
}

TEST(FilesStoreTest, InsertGetRemoveByOwner) {
  TempDir dir;
  auto db = open_db(dir);
  FilesStore files(*db);
  FileRecord mine = file("key_a", "mine.jsonl");
  ASSERT_TRUE(files.insert(mine));

  auto got = files.get("key_a", mine.id);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->filename, "mine.jsonl");
  EXPECT_EQ(got->purpose, "batch");
  EXPECT_EQ(got->bytes, 42);
  EXPECT_EQ(got->created_at, 1767225600);

  // Another owner does not see it, and cannot delete it: the same answer as for no such file.
  auto other = files.get("key_b", mine.id);
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, core::Errc::kObjectNotFound);
  EXPECT_EQ(other.error().message, "No such File object: " + mine.id);
  EXPECT_FALSE(files.get("", mine.id));
  EXPECT_EQ(files.remove("key_b", mine.id).error().code, core::Errc::kObjectNotFound);

  auto removed = files.remove("key_a", mine.id);
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->id, mine.id);
  EXPECT_EQ(files.get("key_a", mine.id).error().code, core::Errc::kObjectNotFound);
  EXPECT_EQ(files.remove("key_a", mine.id).error().code, core::Errc::kObjectNotFound);
}

TEST(FilesStoreTest, DuplicateIdsFailUnlessIfMissing) {
  TempDir dir;
  auto db = open_db(dir);
  FilesStore files(*db);
  FileRecord f = file("", "a.jsonl");
  ASSERT_TRUE(files.insert(f));
  EXPECT_FALSE(files.insert(f));
  FileRecord changed = f;
  changed.filename = "b.jsonl";
  EXPECT_TRUE(files.insert(changed, /*if_missing=*/true));
  EXPECT_EQ(files.get("", f.id)->filename, "a.jsonl");
}

TEST(FilesStoreTest, ListsNewestFirstByPageAndPurpose) {
  TempDir dir;
  auto db = open_db(dir);
  FilesStore files(*db);
  std::vector<FileRecord> made;
  for (int i = 0; i < 5; ++i) {
    made.push_back(file("key_a", "f" + std::to_string(i), i == 2 ? "batch_output" : "batch"));
    ASSERT_TRUE(files.insert(made.back()));
  }
  ASSERT_TRUE(files.insert(file("key_b", "theirs")));

  FileQuery q;
  q.owner = "key_a";
  auto all = files.list(q);
  ASSERT_TRUE(all);
  EXPECT_EQ(names(*all), (std::vector<std::string>{"f4", "f3", "f2", "f1", "f0"}));
  EXPECT_FALSE(all->has_more);

  q.limit = 2;
  auto first = files.list(q);
  EXPECT_EQ(names(*first), (std::vector<std::string>{"f4", "f3"}));
  EXPECT_TRUE(first->has_more);
  q.after = first->items.back().id;
  auto second = files.list(q);
  EXPECT_EQ(names(*second), (std::vector<std::string>{"f2", "f1"}));
  EXPECT_TRUE(second->has_more);
  q.after = second->items.back().id;
  auto last = files.list(q);
  EXPECT_EQ(names(*last), (std::vector<std::string>{"f0"}));
  EXPECT_FALSE(last->has_more);

  q.after.clear();
  q.limit = 10;
  q.ascending = true;
  EXPECT_EQ(names(*files.list(q)), (std::vector<std::string>{"f0", "f1", "f2", "f3", "f4"}));
  q.purpose = "batch_output";
  EXPECT_EQ(names(*files.list(q)), (std::vector<std::string>{"f2"}));

  // `after` must be one of the owner's files.
  q.purpose.clear();
  q.after = "file-000000000000000000000000";
  auto unknown = files.list(q);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().param, "after");
  q.owner = "key_b";
  q.after = made[0].id;
  EXPECT_FALSE(files.list(q));
}

TEST(FileBytes, WrittenDurablyAndRenamed) {
  TempDir dir;
  std::string data_dir = dir.file("data").string();
  std::string path = file_path(data_dir, "file-0123");
  EXPECT_EQ(path, (dir.file("data") / "files" / "file-0123").string());
  ASSERT_TRUE(write_durably(path, "line 1\nline 2\n"));  // makes data/files
  EXPECT_EQ(read_all(path), "line 1\nline 2\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Over an existing file, whole.
  ASSERT_TRUE(write_durably(path, "new"));
  EXPECT_EQ(read_all(path), "new");

  std::string moved = file_path(data_dir, "file-4567");
  ASSERT_TRUE(rename_durably(path, moved));
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_EQ(read_all(moved), "new");
  auto missing = rename_durably(path, moved);
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("cannot rename"));
}

TEST(FileBytes, AFailedWriteLeavesNothing) {
  TempDir dir;
  // A directory where the file should be: the rename fails, and the temporary file goes.
  std::string path = dir.file("taken").string();
  std::filesystem::create_directories(path + "/inside");
  auto written = write_durably(path, "bytes");
  ASSERT_FALSE(written);
  EXPECT_THAT(written.error().message, HasSubstr("cannot rename into place"));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_TRUE(std::filesystem::is_directory(path));
}

}  // namespace
}  // namespace sluice::store
