// The control plane as the running gateway sees it: one thread that owns the SQLite connection
// (DESIGN.md: no SQLite on a worker), and the only thing in the gateway that touches the
// database.
//
// - Keys: open() loads the active keys and hands them to on_keys before it returns; afterwards
//   the store thread reads KeyStore::version() every poll_interval and, when it moved (a write
//   by this gateway, another gateway or `sluice keys` in another process), hands on_keys the new
//   list. A run() that changed keys is noticed before its caller resumes, so an admin request
//   that created a key answers only once the key works.
// - Usage: record() queues a ledger row and returns at once; the store thread writes the queue
//   in batches (every flush_interval, or sooner when kEagerRows wait), each in one transaction.
//   A batch that fails (locked, disk full) stays queued and is retried at the next interval; at
//   most max_queued_rows wait, written or not, and beyond that rows are dropped and counted.
//   Failures and drops are logged at most every ten seconds.
// - Anything else (the admin API's key calls, reports, spend at startup): run(f) runs
//   f(Database&) on the store thread and resumes the caller on its own executor.
//
// A locked or full database therefore never blocks a worker and never fails a request: the
// store thread waits at most Database::kBusyTimeout per attempt, and workers only ever queue.
//
// Thread safety: record(), run(), flush() and the counters may be called from any thread.
// on_keys and every f given to run() are called on the store thread, one at a time; they must
// not throw. Destroy the ControlPlane after every caller is done with it.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/asio.h"
#include "core/error.h"
#include "core/run_on.h"
#include "store/database.h"
#include "store/keys.h"
#include "store/usage.h"

namespace sluice::store {

class ControlPlane {
 public:
  struct Options {
    std::string path;  // the database file
    std::size_t max_queued_rows = 100000;
    std::chrono::milliseconds flush_interval{200};
    std::chrono::milliseconds poll_interval{250};  // key changes are noticed within this
  };
  // Rows waiting that make the store thread write before its next interval.
  static constexpr std::size_t kEagerRows = 512;
  // Rows per transaction: a long backlog is written in several, so that other writers (`sluice
  // keys` in another process) get the lock in between.
  static constexpr std::size_t kMaxBatchRows = 4096;
  // How long the destructor keeps retrying to write what is queued.
  static constexpr std::chrono::milliseconds kShutdownWriteBudget{2000};

  using KeysListener = std::function<void(std::vector<KeyRecord>)>;  // called on the store thread

  // Opens the database on the store thread, loads the keys and calls on_keys once before
  // returning; afterwards calls it whenever KeyStore::version() changes.
  static core::Result<std::unique_ptr<ControlPlane>> open(Options options, KeysListener on_keys);
  // Writes what is queued (retrying for at most kShutdownWriteBudget), stops the thread.
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Runs f(Database&) (which must not throw) on the store thread and resumes the caller on its
  // own executor with the result. GCC 12: name the lambda before the co_await when it captures
  // a std::string (`auto f = [id = ...](Database& db) {...}; co_await cp.run<R>(std::move(f));`);
  // see docs/architecture.md, "Build".
  template <class R, class F>
  asio::awaitable<R> run(F f) {
    return core::run_on<R>(pool_.get_executor(), [this, f = std::move(f)]() mutable -> R {
      if constexpr (std::is_void_v<R>) {
        f(*db_);
        check_keys();
      } else {
        R result = f(*db_);
        check_keys();
        return result;
      }
    });
  }

  // Never blocks, never fails a request: queues the row for the next batch. False when
  // max_queued_rows are already waiting: the row is dropped and counted.
  bool record(UsageRow row);
  // For tests and shutdown: completes once what was queued before the call has been written, or
  // the attempt to write it failed (then it stays queued).
  asio::awaitable<void> flush();

  std::uint64_t rows_written() const { return written_.load(std::memory_order_relaxed); }
  std::uint64_t rows_dropped() const { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t rows_queued() const { return queued_.load(std::memory_order_relaxed); }
  std::uint64_t write_failures() const { return write_failures_.load(std::memory_order_relaxed); }

 private:
  // Rows are appended under one of several locks, picked per thread, so workers recording at
  // the same moment do not contend (DESIGN.md: no global mutex on the hot path).
  static constexpr std::size_t kShards = 16;
  struct alignas(64) Shard {
    std::mutex mu;
    std::vector<UsageRow> rows;
  };

  ControlPlane(Options options, KeysListener on_keys);
  // Store thread only, all of them.
  core::Result<void> start();
  void check_keys();
  void publish(std::vector<KeyRecord> keys);
  void take_recorded();
  bool write_pending();  // false when a batch failed
  void on_flush_timer();
  void on_eager();
  void arm_poll();
  void arm_flush();
  void shut_down();
  void warn_failure(const core::Error& e);
  void warn_drops();

  Options options_;
  KeysListener on_keys_;
  std::array<Shard, kShards> shards_;
  std::atomic<std::uint64_t> written_{0}, dropped_{0}, queued_{0}, write_failures_{0};
  std::atomic<std::size_t> recorded_{0};  // rows in the shards, not yet taken
  std::atomic<bool> eager_posted_{false};
  std::atomic<bool> stopping_{false};

  // Store thread only.
  std::unique_ptr<Database> db_;
  std::optional<UsageStore> usage_;  // with db_, keeping its prepared inserts
  std::int64_t keys_version_ = -1;
  std::vector<UsageRow> pending_;  // taken from the shards, not yet written
  std::size_t pending_done_ = 0;   // pending_'s first rows that are written
  bool failing_ = false;           // the last write failed; no eager writes until one works
  std::chrono::steady_clock::time_point last_failure_log_{}, last_drop_log_{}, last_poll_log_{};
  std::uint64_t failures_since_log_ = 0, drops_logged_ = 0;

  // One thread: everything that touches db_ runs there, one handler at a time. Declared before
  // the timers, which must be destroyed first.
  asio::thread_pool pool_{1};
  asio::steady_timer poll_timer_{pool_};
  asio::steady_timer flush_timer_{pool_};
};

}  // namespace sluice::store
