// Runs the Batch API's batches in the background (docs/batch.md, "Batch API on the server"):
// started by `sluice serve` when it has a data_dir, it sends each batch's lines through the
// server's own listen address with batch::Runner, as the batch's owner, and moves the batch
// through OpenAI's statuses in the control-plane database.
//
// - One batch at a time, oldest first, with `concurrency` requests in flight (batch.concurrency):
//   that is all batch work ever has, so interactive requests always have the rest.
// - Validating reads the input once (Runner::check, and each line's url against the batch's
//   endpoint); a problem fails the batch with OpenAI's errors list, naming the lines.
// - In progress, the runner appends results to <data_dir>/batches/<id>/output.jsonl (successes)
//   and errors.jsonl (failures); request_counts go to the database at most once a second and at
//   the end. A restart resumes every batch that was validating, in progress, finalizing or
//   cancelling; the runner skips the custom_ids its files already hold, so a line is never sent
//   again once its result is written, and a torn last line (kill -9) is cut off.
// - Finishing (completed, cancelled, expired): each non-empty results file is moved to
//   <data_dir>/files/<id> and registered as a `batch_output` file of the owner, in one
//   transaction with the batch's final status. The file ids are derived from the batch id, so a
//   finish interrupted by a crash is finished again with the same ids.
// - Cancelling stops sending; lines in flight finish and are written, and what was done is the
//   output. A batch cancelled while another runs is finished at once, on this thread.
// - Identity: requests carry `x-sluice-batch-secret` (random per process, 32 bytes in hex, never
//   logged) and `x-sluice-batch-owner` (the owner's key id), which the auth stage turns into the
//   owner's tenant (gateway/auth_stage.h).
//
// One process per data_dir runs its batches: the executor holds an exclusive lock on
// <data_dir>/batches.lock (flock, released by the kernel however the process ends). A second
// gateway on the same data_dir serves the API and waits for the lock, taking over when the first
// one goes.
//
// Threads: one of its own that decides (claims batches, writes progress, finishes them, with its
// own SQLite connection); while a batch runs, Runner::run blocks a second one, and the runner's
// GatewayClient has its own. Every Database use stays on the first.
//
// Thread safety: start() and stop() from one thread (serve's); wake() and cancel_requested()
// from any.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "core/clock.h"
#include "core/error.h"
#include "store/batch_store.h"

namespace sluice::store {
class Database;
}

namespace sluice::batch {

struct Progress;

class BatchExecutor {
 public:
  struct Options {
    std::string data_dir;
    int concurrency = 4;
    int retries = 3;  // per line, for retryable answers (429, 5xx, no answer)
    // How often the decision thread looks at the database when nothing wakes it (other
    // processes' changes), and at most how often progress is written.
    std::chrono::milliseconds poll_interval{1000};
  };

  // A new random secret: 32 random bytes in hex. Throws std::runtime_error when OpenSSL has no
  // randomness (startup only).
  static std::string make_secret();

  BatchExecutor(Options options, std::string secret, const core::Clock& clock);
  ~BatchExecutor();  // stop() and join
  BatchExecutor(const BatchExecutor&) = delete;
  BatchExecutor& operator=(const BatchExecutor&) = delete;

  const std::string& secret() const { return secret_; }

  // Opens the executor's database connection and starts its thread, which sends to
  // `gateway_url` (the server's own address, http://127.0.0.1:PORT). Errors name the database.
  core::Result<void> start(std::string gateway_url);
  // Stops sending new lines and returns at once; the batch in progress keeps its status and
  // resumes at the next start. Call it while the server still answers (before it drains): lines
  // in flight then finish and are written.
  void request_stop();
  // request_stop(), then waits at most `limit` for the lines in flight to finish; false when
  // some were still in flight.
  bool stop_within(std::chrono::milliseconds limit);
  // request_stop(), then waits for the threads to end.
  void stop();

  // A batch was created: look for work.
  void wake();
  // The API moved batch `id` to cancelling: stop it if it runs, finish it if it waits.
  void cancel_requested(const std::string& id);

 private:
  enum class Halt { kNone, kStop, kCancel, kExpire };

  void run();
  // Takes <data_dir>/batches.lock, waiting (and logging once) while another process holds it.
  bool take_lock();
  // Takes the oldest unfinished batch to its end (or until stop). False when none waits or the
  // database is in trouble: the thread then waits before it looks again.
  bool step();
  bool process(store::BatchRecord batch);
  // The steps of a batch's life. Each moves it on in the database, or finds that someone else
  // moved it first; false only when the database or the disk failed (nothing changed).
  bool validate(store::BatchRecord& batch);
  bool execute(store::BatchRecord& batch);
  // Moves the results into files, registers them, and gives the batch the status `to`, moving
  // it from `from`, all in one transaction.
  bool finish(store::BatchRecord& batch, store::BatchStatus to, store::BatchStatus from);
  bool fail(store::BatchRecord& batch, std::string code, std::string message);
  // The cancelling batches that do not run now, finished as cancelled.
  void finish_waiting_cancellations();
  void write_progress(store::BatchRecord& batch, const Progress& progress, std::int64_t done_before,
                      std::int64_t failed_before);
  bool expired(const store::BatchRecord& batch) const;
  std::int64_t now_s() const;

  Options options_;
  std::string secret_;
  const core::Clock& clock_;
  std::string gateway_url_;
  std::unique_ptr<store::Database> db_;  // the decision thread's
  std::thread thread_;
  int lock_fd_ = -1;

  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool exited_ = false;     // run() has returned
  std::string running_id_;  // under mu_: the batch the runner works on, if any
  std::atomic<bool> stopping_{false};
  std::atomic<bool> runner_cancel_{false};  // what Runner::run watches
  std::atomic<Halt> halt_{Halt::kNone};     // why runner_cancel_ was set
};

}  // namespace sluice::batch
