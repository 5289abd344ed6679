// The response cache's disk tier: answers kept in a RocksDB database under cache.disk.path, so
// they survive a restart, bounded by cache.disk.max_bytes.
//
// Values are entry_codec.h bytes (zstd, checksummed); RocksDB's own compression is off. The
// database uses FIFO compaction: every file stays in level 0 and the oldest files are dropped when
// the files exceed the bound or are older than the FIFO TTL (twice cache.ttl), so writes are
// written once and never rewritten. An entry read past its expires_ms is a miss and is deleted.
// Writes do not wait for fsync: a power loss may lose the last answers written, and a torn one is
// caught by the codec's checksum (and RocksDB's own) and treated as a miss, never served.
//
// Keys: an answer lives at 'd' + Key (17 bytes), which a lookup can find from the Key alone. Each
// store also writes an empty index key 'n' + XXH64(namespace) + Key (25 bytes) in the same write
// batch, so both land in the same files and FIFO drops them together; clear(ns) walks that
// namespace's index keys and deletes their answers, clear("") is one range deletion. (Lookups get
// no namespace, so the namespace cannot lead the answer's own key.) All integers big-endian.
//
// Threading: the blocking RocksDB calls run on a pool of two threads owned by the tier, never on
// a worker. lookup() posts the read there and the awaiting coroutine resumes on its own executor.
// Writes, the deletes a lookup asks for, and clears go through one strand on that pool, in the
// order they were asked for, so a clear removes every answer stored before it. store() returns at
// once; at most Options::max_pending_writes writes (and max_pending_bytes of bodies) wait, and
// beyond that they are dropped and counted.
//
// Faults: a value that fails to decode is a miss, is deleted and is counted (`corrupt`). A failed
// write (a full disk, any I/O error) stops this tier's writes for write_retry_after (logged once
// at warn); lookups go on. After the pause, if the disk has room again, the tier resumes the
// database (DB::Resume), or opens it again when RocksDB will not resume (lookups miss while it is
// closed), and writes go on; if not, it waits another pause. A clear that cannot be written is
// remembered: the entries it should have removed are misses until restart. Nothing on the request
// path throws.
//
// Thread safety: one instance shared by every worker; every member may be called concurrently
// from any thread. The constructor throws std::runtime_error when the database cannot be opened.
#pragma once

#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "cache/lower_tier.h"
#include "config/config.h"
#include "core/clock.h"

namespace rocksdb {
class Cache;
class DB;
class Env;
class Status;
}  // namespace rocksdb

namespace sluice::cache {

class DiskTier final : public LowerTier {
 public:
  struct Options {
    std::string path;                                 // the database directory, made if missing
    std::uint64_t max_bytes = 1024ull * 1024 * 1024;  // bound on the database's files
    // Entries' usual lifetime (cache.ttl). FIFO drops whole files; it drops a file once its
    // oldest entry is twice this old.
    std::chrono::milliseconds ttl = std::chrono::hours(1);
    // A stored body larger than this is treated as corrupt (decode_entry's guard).
    std::size_t max_body_bytes = 64u * 1024 * 1024;
    std::size_t max_pending_writes = 1024;
    std::size_t max_pending_bytes = 32u * 1024 * 1024;  // bodies waiting to be written
    core::Clock::duration write_retry_after = std::chrono::seconds(30);
    // Tests: a RocksDB Env whose file system injects faults. Null: the default Env.
    rocksdb::Env* env = nullptr;
  };

  DiskTier(Options options, const core::Clock& clock);
  // Waits for the writes already queued, then closes the database.
  ~DiskTier() override;

  Tier tier() const override { return Tier::kDisk; }
  asio::awaitable<EntryPtr> lookup(std::string_view ns, const Key& key) override;
  void store(const Key& key, EntryPtr entry) override;
  asio::awaitable<void> clear(std::string_view ns) override;
  json::object stats() const override;

  // Completes once every write, delete and clear asked for before it is done (or skipped).
  asio::awaitable<void> sync();

  // Tests: the database itself, to plant damaged values or force flushes.
  rocksdb::DB& db() { return *db_; }
  // The RocksDB key an answer is stored under.
  static std::string data_key(const Key& key);

 private:
  struct Counters {
    std::atomic<std::uint64_t> hits{0};
    std::atomic<std::uint64_t> misses{0};
    std::atomic<std::uint64_t> expired{0};
    std::atomic<std::uint64_t> corrupt{0};
    std::atomic<std::uint64_t> read_errors{0};
    std::atomic<std::uint64_t> writes{0};
    std::atomic<std::uint64_t> write_errors{0};
    std::atomic<std::uint64_t> dropped_writes{0};  // the queue was full
    std::atomic<std::uint64_t> skipped_writes{0};  // writes were stopped after an error
  };
  // A clear that could not be written: entries it should have removed are misses until restart.
  struct FailedClear {
    std::string ns;  // empty: every namespace
    std::int64_t at_ms = 0;
  };

  // Strand-only: opens the database; after a fault, resumes it or opens it again.
  enum class Recovery { kDone, kNoRoom, kFailed };
  rocksdb::Status open();
  Recovery recover(rocksdb::Status* error);
  void pause();
  EntryPtr read(const Key& key);
  bool cleared(const Entry& entry) const;
  bool reserve(std::size_t bytes);
  void release(std::size_t bytes);
  bool writes_paused() const;
  // Strand-only: a failed write or clear; a write or clear that may go ahead.
  void write_failed(const rocksdb::Status& status);
  bool ready_to_write();
  void write(const Key& key, const Entry& entry);
  void delete_if_dead(const Key& key);
  void clear_now(const std::string& ns);

  Options options_;
  const core::Clock& clock_;
  std::shared_ptr<rocksdb::Cache> block_cache_;
  // Replaced only on the strand, under an exclusive lock; lookups and stats() take it shared.
  // Null while the database could not be opened again after a fault.
  std::unique_ptr<rocksdb::DB> db_;
  mutable std::shared_mutex db_mu_;
  mutable std::atomic<std::uint64_t> last_keys_{0};
  mutable std::atomic<std::uint64_t> last_bytes_{0};
  Counters counters_;
  std::atomic<std::size_t> pending_writes_{0};
  std::atomic<std::size_t> pending_bytes_{0};
  // Writes are paused until this steady-clock time (in Clock::duration ticks); 0: not paused.
  std::atomic<core::Clock::duration::rep> paused_until_{0};
  std::atomic<bool> failing_{false};  // written on the strand: the last write failed
  bool needs_recovery_ = false;       // strand-only: the database may refuse writes
  std::atomic<bool> has_failed_clears_{false};
  mutable std::mutex failed_clears_mu_;
  std::vector<FailedClear> failed_clears_;
  asio::thread_pool pool_{2};
  asio::strand<asio::thread_pool::executor_type> writes_;
};

// The disk tier for `config` (cache.disk.path must be set). Throws std::runtime_error naming the
// path when the database cannot be opened.
std::unique_ptr<LowerTier> make_disk_tier(const config::Cache& config, const core::Clock& clock);

}  // namespace sluice::cache
