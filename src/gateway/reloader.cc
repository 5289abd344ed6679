#include "gateway/reloader.h"

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string_view>

#include "config/loader.h"
#include "gateway/runtime.h"
#include "gateway/runtime_source.h"

namespace sluice::gateway {

namespace {

template <class T>
void keep(std::string_view path, const T& running, T& next, std::vector<std::string>& changed) {
  if (running == next) return;
  changed.emplace_back(path);
  next = running;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

}  // namespace

std::vector<std::string> keep_restart_only(const config::Config& running, config::Config& next) {
  std::vector<std::string> changed;
  keep("listen", running.listen, next.listen, changed);
  keep("workers", running.workers, next.workers, changed);
  keep("limits (connection and message limits)", running.limits, next.limits, changed);
  keep("limits.backend", running.rate_limits.backend, next.rate_limits.backend, changed);
  keep("limits.redis", running.rate_limits.redis, next.rate_limits.redis, changed);
  keep("limits.failure_mode", running.rate_limits.fail_open, next.rate_limits.fail_open, changed);
  keep("drain_timeout", running.drain_timeout, next.drain_timeout, changed);
  keep("data_dir", running.data_dir, next.data_dir, changed);
  keep("auth.mode", running.auth.mode, next.auth.mode, changed);
  keep("access_log", running.access_log, next.access_log, changed);
  keep("cache.memory", running.cache.memory, next.cache.memory, changed);
  keep("cache.disk", running.cache.disk, next.cache.disk, changed);
  keep("cache.redis", running.cache.redis, next.cache.redis, changed);
  keep("coalesce", running.coalesce, next.coalesce, changed);
  keep("metrics", running.metrics, next.metrics, changed);
  keep("alerts", running.alerts, next.alerts, changed);  // the sampler reads them at startup
  keep("batch", running.batch, next.batch, changed);     // the executor and the routes' limits
  return changed;
}

Reloader::Reloader(RuntimeSource& runtimes, limit::GcraLimiter* limiter, Overrides overrides)
    : runtimes_(runtimes), limiter_(limiter), overrides_(std::move(overrides)) {}

std::shared_ptr<const config::Config> Reloader::config() const {
  return runtimes_.current()->config_ptr();
}

core::Result<Reloader::Outcome> Reloader::reload_file() {
  std::lock_guard lock(mutex_);
  const std::string source = runtimes_.current()->config().source;
  config::Config next;
  try {
    next = source == config::kDefaultSource ? config::default_config() : config::load_file(source);
  } catch (const config::ConfigError& e) {
    return core::fail(core::Errc::kInvalidRequest,
                      "The configuration was not reloaded: " + source +
                          " has problems (the running configuration is unchanged):\n" + e.what());
  }
  if (overrides_) overrides_(next);
  return apply_locked(std::move(next), false);
}

core::Result<Reloader::Outcome> Reloader::apply(config::Config next, bool strict) {
  std::lock_guard lock(mutex_);
  return apply_locked(std::move(next), strict);
}

core::Result<Reloader::Outcome> Reloader::apply_locked(config::Config next, bool strict) {
  std::shared_ptr<const Runtime> running = runtimes_.current();
  const config::Config& now = running->config();
  Outcome outcome;
  outcome.restart_required = keep_restart_only(now, next);
  if (strict && !outcome.restart_required.empty()) {
    return core::fail(core::Errc::kInvalidRequest, "Changing " + joined(outcome.restart_required) +
                                                       " needs a restart; nothing was changed.");
  }
  std::shared_ptr<const Runtime> built;
  try {
    built = Runtime::build(std::make_shared<const config::Config>(std::move(next)), limiter_,
                           running.get());
  } catch (const std::exception& e) {
    return core::fail(core::Errc::kInvalidRequest,
                      std::string("The configuration was not applied: ") + e.what());
  }
  if (built->config().log_level != now.log_level) {
    spdlog::set_level(spdlog::level::from_str(built->config().log_level));
  }
  runtimes_.publish(built);
  outcome.version = runtimes_.version();
  if (outcome.restart_required.empty()) {
    spdlog::info("configuration {} applied (version {}, {} models)", built->config().source,
                 outcome.version, built->config().models.size());
  } else {
    spdlog::warn(
        "configuration {} applied (version {}, {} models); kept the running {} until a restart",
        built->config().source, outcome.version, built->config().models.size(),
        joined(outcome.restart_required));
  }
  return outcome;
}

}  // namespace sluice::gateway
