// Everything `sluice serve` runs, as one object: the runtime and its reloader, the cache tiers,
// the coalescer, keys and budgets, the control plane, metrics, the performance API and alerts,
// and the HTTP server on its workers. `sluice serve` runs one until a signal; `sluice batch`,
// `sluice run` and `sluice compare` with `-c` run one on a loopback port inside the command, so
// their requests meet exactly the server's cache, routing, retries and limits.
//
// With `batch_jobs` (sluice serve) and a data_dir, it also serves the Batch API (/v1/files,
// /v1/batches) and runs its jobs in the background through its own port (batch/batch_api.h,
// batch/batch_executor.h); the commands' in-process gateways run no one's jobs.
//
// Thread safety: start, wait and stop from one thread (the main one).
#pragma once

#include <functional>
#include <memory>

#include "config/config.h"
#include "core/error.h"

namespace sluice::cli {

class GatewayInstance {
 public:
  // What the command line and the environment change in the file, at startup and on reloads.
  using Overrides = std::function<void(config::Config&)>;

  // Builds everything and starts listening; an error says what could not be opened.
  static core::Result<std::unique_ptr<GatewayInstance>> start(config::Config config,
                                                              Overrides overrides,
                                                              bool batch_jobs = false);
  ~GatewayInstance();  // stop()s

  std::uint16_t port() const;
  const config::Config& config() const;

  // Serves until SIGINT or SIGTERM (SIGHUP reloads the file), then drains.
  void run_until_signal();
  // Drains and stops now (idempotent).
  void stop();

 private:
  struct Parts;
  explicit GatewayInstance(std::unique_ptr<Parts> parts);
  static void stop_batch_jobs(Parts& parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace sluice::cli
