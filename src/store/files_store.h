// The Batch API's files (docs/batch.md, "Batch API on the server"): what a file is (FileRecord)
// and how OpenAI shows one (file_json), where its bytes live on disk, and FilesStore, the files
// table of the control-plane database (schema.cc, version 3).
//
// A file's bytes are <data_dir>/files/<id>, written under a temporary name, made durable
// (fsync) and renamed into place (write_durably), so a file that is listed is whole. Its row
// says whose it is: `owner` is the key id of the tenant that uploaded it or whose batch wrote
// it ('' when auth is off), and every read and delete is by owner and id, so a tenant never
// sees, nor learns of, another's files.
//
// The free functions are pure or touch only the file system; FilesStore follows Database's rule:
// one thread at a time.
#pragma once

#include <boost/json/object.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/database.h"

namespace sluice::store {

struct FileRecord {
  std::string id;        // "file-" + 24 hex characters (random)
  std::string owner;     // key id; '' when auth is off
  std::string filename;  // as uploaded, or the batch output's name
  std::string purpose;   // "batch" (uploads), "batch_output" (a batch's output and error files)
  std::int64_t bytes = 0;
  std::int64_t created_at = 0;  // unix seconds
};

// OpenAI's file object: {"id","object":"file","bytes","created_at","filename","purpose",
// "status":"processed"}.
boost::json::object file_json(const FileRecord& file);

// `prefix` and 24 random hex characters (96 bits, from OpenSSL's RAND_bytes): "file-…",
// "batch_…". nullopt in the unheard-of case that RAND_bytes fails.
std::optional<std::string> random_object_id(std::string_view prefix);
// Whether `id` is `prefix` and 24 lower-case hex characters, as random_object_id makes them:
// what may name a file on disk.
bool well_formed_object_id(std::string_view id, std::string_view prefix);

inline constexpr std::string_view kFilePrefix = "file-";

// <data_dir>/files, and the path of one file's bytes in it.
std::string files_dir(std::string_view data_dir);
std::string file_path(std::string_view data_dir, std::string_view id);

// Writes `bytes` to `path` durably: a temporary file beside it, fsync, rename over `path`, fsync
// of the directory; the directory is made when missing. On failure nothing is left at `path` or
// under the temporary name, and the error says what failed (Errc::kInternal).
core::Result<void> write_durably(const std::string& path, std::string_view bytes);
// Renames `from` to `to` and makes the rename durable (fsync of `to`'s directory).
core::Result<void> rename_durably(const std::string& from, const std::string& to);

// A page of a list: the records, and whether more follow.
template <class T>
struct Page {
  std::vector<T> items;
  bool has_more = false;
};

// GET /v1/files's query.
struct FileQuery {
  std::string owner;
  std::string purpose;  // empty: any
  std::string after;    // a file id: only the files that come after it in this order
  std::size_t limit = 10000;
  bool ascending = false;  // OpenAI lists newest first unless order=asc
};

class FilesStore {
 public:
  explicit FilesStore(Database& db) : db_(db) {}

  // A duplicate id is an error (ids are random: it means a bug) unless `if_missing`, when it
  // changes nothing (a batch's finishing step, run again after a crash).
  core::Result<void> insert(const FileRecord& file, bool if_missing = false);
  // Unknown, or another owner's -> Errc::kObjectNotFound, saying "No such File object: <id>" as
  // OpenAI does.
  core::Result<FileRecord> get(std::string_view owner, std::string_view id);
  // An `after` that names no file of the owner -> Errc::kObjectNotFound, param "after".
  core::Result<Page<FileRecord>> list(const FileQuery& query);
  // Deletes the row (the caller removes the bytes), in the caller's transaction if it has one
  // (the API checks, in the same one, that no batch reads the file). Unknown or another owner's
  // -> kObjectNotFound.
  core::Result<FileRecord> remove(std::string_view owner, std::string_view id);

 private:
  Database& db_;
};

}  // namespace sluice::store
