// FilesStore and the files' bytes on disk (files_store.h, schema.cc).
#include "store/files_store.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/asio.h"

namespace sluice::store {

namespace {

constexpr std::string_view kColumns = "id, owner, filename, purpose, bytes, created_at";
constexpr std::size_t kIdHexChars = 24;

core::Error not_found(std::string_view id) {
  return core::Error(core::Errc::kObjectNotFound, "No such File object: " + std::string(id),
                     "file_id");
}

core::Error io_error(std::string_view doing, const std::string& path, int err) {
  return core::Error(core::Errc::kInternal,
                     std::string(doing) + " " + path + ": " + std::strerror(err));
}

FileRecord read_file(const Statement& s) {
  FileRecord f;
  f.id = s.column_text(0);
  f.owner = s.column_text(1);
  f.filename = s.column_text(2);
  f.purpose = s.column_text(3);
  f.bytes = s.column_int(4);
  f.created_at = s.column_int(5);
  return f;
}

core::Result<void> sync_directory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open the directory", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return io_error("cannot sync the directory", dir, err);
  return core::ok();
}

std::string parent_of(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

}  // namespace

json::object file_json(const FileRecord& f) {
  return json::object{{"id", f.id},
                      {"object", "file"},
                      {"bytes", f.bytes},
                      {"created_at", f.created_at},
                      {"filename", f.filename},
                      {"purpose", f.purpose},
                      {"status", "processed"}};
}

std::optional<std::string> random_object_id(std::string_view prefix) {
  std::array<unsigned char, kIdHexChars / 2> bytes;
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return std::nullopt;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(prefix);
  for (unsigned char b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 15]);
  }
  return id;
}

bool well_formed_object_id(std::string_view id, std::string_view prefix) {
  if (id.size() != prefix.size() + kIdHexChars || !id.starts_with(prefix)) return false;
  for (char c : id.substr(prefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::string files_dir(std::string_view data_dir) {
  return (std::filesystem::path(std::string(data_dir)) / "files").string();
}

std::string file_path(std::string_view data_dir, std::string_view id) {
  return (std::filesystem::path(files_dir(data_dir)) / std::string(id)).string();
}

core::Result<void> write_durably(const std::string& path, std::string_view bytes) {
  const std::string dir = parent_of(path);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return io_error("cannot create the directory", dir, ec.value());
  const std::string temp = path + ".tmp";
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("cannot create", temp, errno);
  auto fail = [&](std::string_view doing, int err) {
    ::close(fd);
    ::unlink(temp.c_str());
    return io_error(doing, temp, err);
  };
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("cannot write", n < 0 ? errno : EIO);
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  if (::fsync(fd) != 0) return fail("cannot sync", errno);
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return io_error("cannot close", temp, err);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return io_error("cannot rename into place", temp, err);
  }
  return sync_directory(dir);
}

core::Result<void> rename_durably(const std::string& from, const std::string& to) {
  const std::string dir = parent_of(to);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return io_error("cannot create the directory", dir, ec.value());
  if (::rename(from.c_str(), to.c_str()) != 0) return io_error("cannot rename", from, errno);
  return sync_directory(dir);
}

core::Result<void> FilesStore::insert(const FileRecord& f, bool if_missing) {
  auto stmt =
      db_.prepare(std::string(if_missing ? "INSERT OR IGNORE" : "INSERT") + " INTO files (" +
                  std::string(kColumns) + ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!stmt) return stmt.error();
  stmt->bind_text(1, f.id)
      .bind_text(2, f.owner)
      .bind_text(3, f.filename)
      .bind_text(4, f.purpose)
      .bind_int(5, f.bytes)
      .bind_int(6, f.created_at);
  return stmt->run();
}

core::Result<FileRecord> FilesStore::get(std::string_view owner, std::string_view id) {
  auto stmt =
      db_.prepare("SELECT " + std::string(kColumns) + " FROM files WHERE id = ?1 AND owner = ?2");
  if (!stmt) return stmt.error();
  stmt->bind_text(1, id).bind_text(2, owner);
  auto row = stmt->step();
  if (!row) return row.error();
  if (!*row) return not_found(id);
  return read_file(*stmt);
}

core::Result<Page<FileRecord>> FilesStore::list(const FileQuery& q) {
  auto tx = Transaction::begin(db_, Transaction::Kind::kRead);
  if (!tx) return tx.error();
  std::int64_t after_seq = q.ascending ? 0 : INT64_MAX;
  if (!q.after.empty()) {
    auto seq = db_.prepare("SELECT seq FROM files WHERE id = ?1 AND owner = ?2");
    if (!seq) return seq.error();
    seq->bind_text(1, q.after).bind_text(2, q.owner);
    auto row = seq->step();
    if (!row) return row.error();
    if (!*row) {
      return core::Error(core::Errc::kObjectNotFound, "No such File object: " + q.after, "after");
    }
    after_seq = seq->column_int(0);
  }
  std::string sql = "SELECT " + std::string(kColumns) + " FROM files WHERE owner = ?1 AND seq " +
                    (q.ascending ? ">" : "<") + " ?2" +
                    (q.purpose.empty() ? "" : " AND purpose = ?4") + " ORDER BY seq " +
                    (q.ascending ? "ASC" : "DESC") + " LIMIT ?3";
  auto stmt = db_.prepare(sql);
  if (!stmt) return stmt.error();
  // One more than asked: whether it comes says whether more follow.
  stmt->bind_text(1, q.owner)
      .bind_int(2, after_seq)
      .bind_int(3, static_cast<std::int64_t>(q.limit) + 1);
  if (!q.purpose.empty()) stmt->bind_text(4, q.purpose);
  Page<FileRecord> page;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    if (page.items.size() == q.limit) {
      page.has_more = true;
      break;
    }
    page.items.push_back(read_file(*stmt));
  }
  return page;
}

core::Result<FileRecord> FilesStore::remove(std::string_view owner, std::string_view id) {
  auto file = get(owner, id);
  if (!file) return file.error();
  auto stmt = db_.prepare("DELETE FROM files WHERE id = ?1 AND owner = ?2");
  if (!stmt) return stmt.error();
  stmt->bind_text(1, id).bind_text(2, owner);
  if (auto r = stmt->run(); !r) return r.error();
  return file;
}

}  // namespace sluice::store
