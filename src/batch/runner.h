// The batch runner: sends every line of an OpenAI batch input file (JSONL) through a gateway and
// writes OpenAI batch output lines, as fast as the gateway's limits allow. Used by `sluice batch`
// and by the server's Batch API executor.
//
// - check() reads the whole input once before anything is sent: every malformed line, duplicate
//   custom_id and unknown url is reported with its line number, and the custom_ids already in
//   the output file (an earlier run that stopped) are found, so run() sends only the rest.
// - run() streams the input again (memory stays flat for any size: a custom_id is remembered as
//   a 16-byte digest) and appends each finished result as one line; results are made durable
//   (fdatasync) in groups at least every 200 ms and always before run() returns. A torn last line
//   left by a crash is cut off by the next check(), so every custom_id appears exactly once.
// - Concurrency is fixed, or `auto`: grows while latency holds and no 429 comes back, halves on a
//   429 (waiting out Retry-After), and stays under the rpm/tpm ceilings given.
// - A line that fails with a retryable answer (429, 5xx, no answer) is tried again up to
//   `retries` times with backoff; then its error is written.
//
// Thread safety: a Runner is used by one thread; on_progress is called on the client's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "batch/gateway_client.h"
#include "core/error.h"

namespace sluice::batch {

struct LineProblem {
  std::size_t line = 0;  // 1-based
  std::string message;
};

// What check() found.
struct BatchPlan {
  std::uint64_t total = 0;            // requests in the input
  std::uint64_t already_done = 0;     // of them, already in the output file
  std::vector<LineProblem> problems;  // non-empty: run() must not start
};

struct RunOptions {
  std::string input_path;
  std::string output_path;  // every result (CLI), or only the successful ones (server)
  std::string error_path;   // when set, failed results go here instead (OpenAI's error file)
  int concurrency = 0;      // 0: auto
  int max_concurrency = 256;
  double rpm = 0;  // auto's ceilings; 0: none
  double tpm = 0;
  int retries = 3;
  // What an answer cost in USD, from the model the line asked for and the one the answer names;
  // unset: the list price of the answered model (config/prices.h), 0 when unknown.
  std::function<double(std::string_view requested, std::string_view answered,
                       std::int64_t prompt_tokens, std::int64_t completion_tokens)>
      cost;
  // How often on_progress is called.
  std::chrono::milliseconds progress_every{250};
};

struct Progress {
  std::uint64_t total = 0;
  std::uint64_t resumed = 0;  // already done before this run
  std::uint64_t done = 0;     // finished in this run, successful or not
  std::uint64_t failed = 0;
  std::uint64_t cache_hits = 0;  // x-sluice-cache hit or coalesced
  std::uint64_t retries = 0;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double cost_usd = 0;
  double saved_usd = 0;  // what the cache hits would have cost
  double elapsed_s = 0;
  int concurrency = 0;  // now
};

class Runner {
 public:
  // `input_path` and `output_path` as in RunOptions; a missing output file is an empty one.
  static core::Result<BatchPlan> check(const RunOptions& options);

  // Sends what check() found missing. Returns the final progress; an I/O error on the output
  // is an error (what was written stays valid). `cancel` (may be null) stops sending new lines;
  // answers in flight are written, and a line waiting to be retried is left for the next run.
  static core::Result<Progress> run(GatewayClient& client, const RunOptions& options,
                                    const std::function<void(const Progress&)>& on_progress,
                                    const std::atomic<bool>* cancel);
};

}  // namespace sluice::batch
