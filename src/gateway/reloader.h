// Applying a new configuration to the running gateway without a restart (docs/observability.md,
// "Configuration at run time"): SIGHUP and POST /admin/reload read the file again, PATCH
// /admin/config changes what is running. Either way the new configuration is validated by the
// loader, a new Runtime is built from it and published on the RuntimeSource; each worker takes it
// at its next request, and requests in flight finish on the snapshot they started with.
//
// Some settings are bound to things built once at startup (the listening socket, the workers, the
// cache's tiers, the control plane, the limiter's backend, the access log) and change only with
// a restart. A reload from the file keeps their running values and names them (logged, and in
// the outcome); a PATCH that changes one is refused.
//
// Thread safety: every member may be called from any thread; reloads are serialized by a mutex.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/error.h"

namespace sluice::limit {
class GcraLimiter;
}

namespace sluice::gateway {

class RuntimeSource;

class Reloader {
 public:
  // What the command line and the environment change in a loaded file (--listen, --workers,
  // SLUICE_ADMIN_KEY); applied to every configuration read again, as at startup.
  using Overrides = std::function<void(config::Config&)>;

  // `runtimes` holds the running snapshot; `limiter` is the local limiter new snapshots take
  // their buckets from (Runtime::build). Both outlive the reloader.
  Reloader(RuntimeSource& runtimes, limit::GcraLimiter* limiter, Overrides overrides);

  struct Outcome {
    std::uint64_t version = 0;  // of the snapshot now running
    // Settings whose new value waits for a restart (their running value was kept), by their
    // YAML path: "listen", "cache.disk", ...
    std::vector<std::string> restart_required;
  };

  // Reads the running configuration's file again. A file that does not load leaves everything
  // as it was (kInvalidRequest with every problem).
  core::Result<Outcome> reload_file();
  // Runs `next` instead of the running configuration. With `strict`, a change to a setting that
  // needs a restart is refused (kInvalidRequest naming it) instead of kept.
  core::Result<Outcome> apply(config::Config next, bool strict);

  // The configuration running now.
  std::shared_ptr<const config::Config> config() const;

 private:
  core::Result<Outcome> apply_locked(config::Config next, bool strict);

  RuntimeSource& runtimes_;
  limit::GcraLimiter* limiter_;
  Overrides overrides_;
  mutable std::mutex mutex_;
};

// The settings that change only with a restart and differ between `running` and `next`, by
// their YAML paths; each is set back to its running value in `next`.
std::vector<std::string> keep_restart_only(const config::Config& running, config::Config& next);

}  // namespace sluice::gateway
