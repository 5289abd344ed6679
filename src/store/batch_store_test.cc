#include "store/batch_store.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/asio.h"
#include "store/testing.h"

namespace sluice::store {
namespace {

using testing::TempDir;

constexpr std::int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z, in seconds

std::unique_ptr<Database> open_db(const TempDir& dir) {
  auto db = Database::open(testing::db_path(dir));
  EXPECT_TRUE(db) << db.error().message;
  return std::move(*db);
}

BatchRecord batch(std::string owner, std::string input = "file-in") {
  BatchRecord b;
  b.id = random_object_id(kBatchPrefix).value();
  b.owner = std::move(owner);
  b.endpoint = "/v1/chat/completions";
  b.input_file_id = std::move(input);
  b.created_at = kNow;
  b.expires_at = kNow + 86400;
  return b;
}

std::vector<std::string> ids(const std::vector<BatchRecord>& batches) {
  std::vector<std::string> out;
  for (const BatchRecord& b : batches) out.push_back(b.id);
  return out;
}

TEST(BatchStatusNames, RoundTrip) {
  for (BatchStatus s : {BatchStatus::kValidating, BatchStatus::kFailed, BatchStatus::kInProgress,
                        BatchStatus::kFinalizing, BatchStatus::kCompleted, BatchStatus::kExpired,
                        BatchStatus::kCancelling, BatchStatus::kCancelled}) {
    EXPECT_EQ(parse_batch_status(batch_status_name(s)), s);
  }
  EXPECT_EQ(batch_status_name(BatchStatus::kInProgress), "in_progress");
  EXPECT_FALSE(parse_batch_status("done"));
  EXPECT_TRUE(is_finished(BatchStatus::kCancelled));
  EXPECT_FALSE(is_finished(BatchStatus::kCancelling));
  EXPECT_FALSE(is_finished(BatchStatus::kFinalizing));
}

TEST(BatchJson, IsOpenAIsBatchObject) {
  BatchRecord b = batch("key_a");
  b.id = "batch_1";
  b.metadata = json::object{{"job", "nightly"}};
  EXPECT_EQ(json::value(batch_json(b)), json::parse(R"({
    "id": "batch_1", "object": "batch", "endpoint": "/v1/chat/completions", "errors": null,
    "input_file_id": "file-in", "completion_window": "24h", "status": "validating",
    "output_file_id": null, "error_file_id": null, "created_at": 1767225600,
    "in_progress_at": null, "expires_at": 1767312000, "finalizing_at": null,
    "completed_at": null, "failed_at": null, "expired_at": null, "cancelling_at": null,
    "cancelled_at": null, "request_counts": {"total": 0, "completed": 0, "failed": 0},
    "metadata": {"job": "nightly"}})"));

  b.status = BatchStatus::kFailed;
  b.failed_at = kNow + 1;
  b.metadata.reset();
  b.errors = {{"invalid_request", "custom_id must be a non-empty string", "custom_id", 3},
              {"empty_file", "The input file has no requests.", "", 0}};
  json::object o = batch_json(b);
  EXPECT_EQ(o.at("status"), "failed");
  EXPECT_EQ(o.at("failed_at"), kNow + 1);
  EXPECT_EQ(o.at("metadata"), nullptr);
  EXPECT_EQ(o.at("errors"), json::parse(R"({"object": "list", "data": [
    {"code": "invalid_request", "message": "custom_id must be a non-empty string",
     "param": "custom_id", "line": 3},
    {"code": "empty_file", "message": "The input file has no requests.", "param": null,
     "line": null}]})"));
}

TEST(BatchStoreTest, InsertGetByOwnerAndFind) {
  TempDir dir;
  auto db = open_db(dir);
  BatchStore batches(*db);
  BatchRecord b = batch("key_a");
  b.metadata = json::object{{"k", "v"}};
  ASSERT_TRUE(batches.insert(b));

  auto got = batches.get("key_a", b.id);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->endpoint, "/v1/chat/completions");
  EXPECT_EQ(got->status, BatchStatus::kValidating);
  EXPECT_EQ(got->expires_at, kNow + 86400);
  ASSERT_TRUE(got->metadata);
  EXPECT_EQ(got->metadata->at("k"), "v");

  auto theirs = batches.get("key_b", b.id);
  ASSERT_FALSE(theirs);
  EXPECT_EQ(theirs.error().code, core::Errc::kObjectNotFound);
  EXPECT_EQ(theirs.error().message, "No batch found with id '" + b.id + "'.");
  EXPECT_EQ(batches.find(b.id)->owner, "key_a");
  EXPECT_FALSE(batches.find("batch_nope"));
}

TEST(BatchStoreTest, UpdateOnlyFromTheExpectedStatus) {
  TempDir dir;
  auto db = open_db(dir);
  BatchStore batches(*db);
  BatchRecord b = batch("");
  ASSERT_TRUE(batches.insert(b));

  b.status = BatchStatus::kInProgress;
  b.in_progress_at = kNow + 1;
  b.total = 10;
  auto moved = batches.update(b, {BatchStatus::kValidating});
  ASSERT_TRUE(moved);
  EXPECT_TRUE(*moved);

  // The API cancels: the executor's next step, which expected in_progress, then changes nothing.
  BatchRecord cancel = *batches.get("", b.id);
  cancel.status = BatchStatus::kCancelling;
  cancel.cancelling_at = kNow + 2;
  EXPECT_TRUE(*batches.update(cancel, {BatchStatus::kValidating, BatchStatus::kInProgress}));
  b.status = BatchStatus::kFinalizing;
  b.finalizing_at = kNow + 3;
  EXPECT_FALSE(*batches.update(b, {BatchStatus::kInProgress}));
  BatchRecord now = *batches.get("", b.id);
  EXPECT_EQ(now.status, BatchStatus::kCancelling);
  EXPECT_EQ(now.finalizing_at, 0);
  EXPECT_EQ(now.in_progress_at, kNow + 1);

  ASSERT_TRUE(batches.set_counts(b.id, 10, 7, 1));
  now = *batches.get("", b.id);
  EXPECT_EQ(now.total, 10);
  EXPECT_EQ(now.completed, 7);
  EXPECT_EQ(now.failed, 1);
  EXPECT_EQ(now.status, BatchStatus::kCancelling);

  now.status = BatchStatus::kCancelled;
  now.cancelled_at = kNow + 4;
  now.output_file_id = "file-out";
  now.errors = {{"code", "message", "param", 2}};
  EXPECT_TRUE(*batches.update(now, {BatchStatus::kCancelling}));
  BatchRecord done = *batches.get("", b.id);
  EXPECT_EQ(done.status, BatchStatus::kCancelled);
  EXPECT_EQ(done.output_file_id, "file-out");
  EXPECT_EQ(done.error_file_id, "");
  ASSERT_EQ(done.errors.size(), 1u);
  EXPECT_EQ(done.errors[0].line, 2);
  EXPECT_EQ(done.errors[0].param, "param");
}

TEST(BatchStoreTest, UnfinishedOldestFirstAndTheFilesTheyRead) {
  TempDir dir;
  auto db = open_db(dir);
  BatchStore batches(*db);
  std::vector<BatchRecord> made;
  const BatchStatus statuses[] = {BatchStatus::kCompleted,  BatchStatus::kInProgress,
                                  BatchStatus::kFailed,     BatchStatus::kValidating,
                                  BatchStatus::kCancelling, BatchStatus::kFinalizing,
                                  BatchStatus::kCancelled,  BatchStatus::kExpired};
  for (BatchStatus s : statuses) {
    made.push_back(batch("key_a", "file-" + std::string(batch_status_name(s))));
    made.back().status = s;
    ASSERT_TRUE(batches.insert(made.back()));
  }
  auto open = batches.unfinished();
  ASSERT_TRUE(open);
  EXPECT_EQ(ids(*open), (std::vector<std::string>{made[1].id, made[3].id, made[4].id, made[5].id}));

  EXPECT_EQ((*batches.reading("key_a", "file-in_progress"))->id, made[1].id);
  EXPECT_FALSE(*batches.reading("key_a", "file-completed"));
  EXPECT_FALSE(*batches.reading("key_b", "file-in_progress"));
}

TEST(BatchStoreTest, ListsNewestFirstByPage) {
  TempDir dir;
  auto db = open_db(dir);
  BatchStore batches(*db);
  std::vector<std::string> made;
  for (int i = 0; i < 5; ++i) {
    BatchRecord b = batch("key_a");
    made.push_back(b.id);
    ASSERT_TRUE(batches.insert(b));
  }
  ASSERT_TRUE(batches.insert(batch("key_b")));

  auto first = batches.list("key_a", "", 3);
  ASSERT_TRUE(first);
  EXPECT_EQ(ids(first->items), (std::vector<std::string>{made[4], made[3], made[2]}));
  EXPECT_TRUE(first->has_more);
  auto rest = batches.list("key_a", first->items.back().id, 3);
  EXPECT_EQ(ids(rest->items), (std::vector<std::string>{made[1], made[0]}));
  EXPECT_FALSE(rest->has_more);
  EXPECT_EQ(batches.list("key_b", "", 20)->items.size(), 1u);
  auto unknown = batches.list("key_b", made[0], 20);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().param, "after");
}

}  // namespace
}  // namespace sluice::store
