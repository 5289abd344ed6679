// The Batch API's jobs (docs/batch.md, "Batch API on the server"): what a batch is
// (BatchRecord), its statuses, how OpenAI shows one (batch_json), and BatchStore, the batches
// table of the control-plane database (schema.cc, version 3).
//
// Statuses move as OpenAI's do: validating -> in_progress -> finalizing -> completed;
// validating -> failed (the input's lines do not check); validating or in_progress ->
// cancelling -> cancelled; and -> expired when the completion window passes first. Writers
// move them with update(), which writes only when the stored status is one the writer expects,
// so the API's cancel and the executor's progress can never undo each other.
//
// Like files, every read by the API is by owner and id (the key id of the tenant that created
// the batch; '' when auth is off).
//
// The free functions are pure; BatchStore follows Database's rule: one thread at a time.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/database.h"
#include "store/files_store.h"

namespace sluice::store {

enum class BatchStatus {
  kValidating,
  kFailed,
  kInProgress,
  kFinalizing,
  kCompleted,
  kExpired,
  kCancelling,
  kCancelled
};

// "validating", "in_progress", ... and back (nullopt for anything else).
std::string_view batch_status_name(BatchStatus status);
std::optional<BatchStatus> parse_batch_status(std::string_view name);
// completed, failed, expired and cancelled: nothing will change any more.
bool is_finished(BatchStatus status);

inline constexpr std::string_view kBatchPrefix = "batch_";

// One of a failed batch's errors: a line of the input that does not check.
struct BatchError {
  std::string code;  // "invalid_request", "empty_file", "duplicate_custom_id", ...
  std::string message;
  std::string param;      // empty: null
  std::int64_t line = 0;  // 1-based; 0: null
};

struct BatchRecord {
  std::string id;  // "batch_" + 24 hex characters (random)
  std::string owner;
  std::string endpoint;  // "/v1/chat/completions", ...
  std::string input_file_id;
  std::string completion_window = "24h";
  BatchStatus status = BatchStatus::kValidating;
  std::string output_file_id;  // empty until the batch finishes with successful results
  std::string error_file_id;   // empty until it finishes with failed ones
  std::vector<BatchError> errors;
  std::optional<boost::json::object> metadata;
  // Unix seconds; 0 until it happens.
  std::int64_t created_at = 0, in_progress_at = 0, expires_at = 0, finalizing_at = 0,
               completed_at = 0, failed_at = 0, expired_at = 0, cancelling_at = 0, cancelled_at = 0;
  std::int64_t total = 0, completed = 0, failed = 0;  // request_counts
};

// OpenAI's batch object: {"id","object":"batch","endpoint","errors","input_file_id",
// "completion_window","status","output_file_id","error_file_id","created_at","in_progress_at",
// "expires_at","finalizing_at","completed_at","failed_at","expired_at","cancelling_at",
// "cancelled_at","request_counts":{"total","completed","failed"},"metadata"}, with null for the
// times that have not come and the files that do not exist, and errors {"object":"list","data":
// [{"code","message","param","line"}]} or null.
boost::json::object batch_json(const BatchRecord& batch);

class BatchStore {
 public:
  explicit BatchStore(Database& db) : db_(db) {}

  core::Result<void> insert(const BatchRecord& batch);
  // Unknown, or another owner's -> Errc::kObjectNotFound.
  core::Result<BatchRecord> get(std::string_view owner, std::string_view id);
  // By id alone, for the executor.
  core::Result<BatchRecord> find(std::string_view id);
  // The owner's batches, newest first, after the batch `after` (an id; unknown ->
  // kObjectNotFound, param "after").
  core::Result<Page<BatchRecord>> list(std::string_view owner, std::string_view after,
                                       std::size_t limit);
  // Every batch not finished (validating, in_progress, finalizing, cancelling), oldest first:
  // what the executor resumes at startup.
  core::Result<std::vector<BatchRecord>> unfinished();
  // An unfinished batch of `owner`'s that reads `file_id`, if any (such a file may not be
  // deleted).
  core::Result<std::optional<BatchRecord>> reading(std::string_view owner,
                                                   std::string_view file_id);

  // Writes every column a batch's life changes (status, files, errors, times, counts) when the
  // stored status is one of `from`; false, and nothing written, when it is not (someone else
  // moved it first).
  core::Result<bool> update(const BatchRecord& batch, std::initializer_list<BatchStatus> from);
  // The API's cancel: validating or in_progress -> cancelling at `now_s`, touching nothing else
  // (the executor owns the counts). False when the batch was in neither status.
  core::Result<bool> request_cancel(std::string_view id, std::int64_t now_s);
  // The request counts alone, whatever the status (progress while it runs).
  core::Result<void> set_counts(std::string_view id, std::int64_t total, std::int64_t completed,
                                std::int64_t failed);

 private:
  core::Result<std::vector<BatchRecord>> select(std::string_view where, std::string_view a = {},
                                                std::string_view b = {});
  Database& db_;
};

}  // namespace sluice::store
