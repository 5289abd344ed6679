// The admin API under /admin/: the cache's and the coalescer's figures and clearing the cache
// (docs/caching.md, "Admin"), the deployments' live routing state (docs/routing.md), the
// configuration at run time: POST /admin/reload, GET and PATCH /admin/config
// (docs/observability.md), the performance API (stats_api.h), and CPU profiles of the running
// process (docs/observability.md, "CPU profiles").
//
// With an admin key configured (auth.admin_key or SLUICE_ADMIN_KEY) every route needs it as a
// bearer key (401 otherwise), from any address; without one it answers only clients on a
// loopback address (127.0.0.0/8, ::1), and others get a 403. Keys and usage are in keys_api.h.
//
// Thread safety: one instance shared by every worker; it holds only pointers to thread-safe
// services.
#pragma once

#include "gateway/services.h"

namespace sluice::gateway {
class Reloader;
}

namespace sluice::admin {

class Alerts;
class StatsHistory;
class CpuProfiler;

class AdminApi final : public gateway::AdminRoutes {
 public:
  AdminApi(cache::TieredCache* cache, cache::Coalescer* coalescer,
           store::ControlPlane* control_plane, gateway::Reloader* reloader, CpuProfiler* profiler)
      : cache_(cache),
        coalescer_(coalescer),
        control_plane_(control_plane),
        reloader_(reloader),
        profiler_(profiler) {}

  asio::awaitable<void> handle(gateway::RequestContext& ctx) override;

  // The performance API's history and the alerts (null: metrics are off). Set before the
  // workers start.
  void set_stats(const StatsHistory* stats, const Alerts* alerts) {
    stats_ = stats;
    alerts_ = alerts;
  }

 private:
  asio::awaitable<void> cache(gateway::RequestContext& ctx);
  asio::awaitable<void> deployments(gateway::RequestContext& ctx);
  asio::awaitable<void> reload(gateway::RequestContext& ctx);
  asio::awaitable<void> cpu_profile(gateway::RequestContext& ctx);

  cache::TieredCache* cache_;           // null when the cache is off
  cache::Coalescer* coalescer_;         // null when coalescing is off
  store::ControlPlane* control_plane_;  // null without a data_dir
  gateway::Reloader* reloader_;         // null: no /admin/reload nor /admin/config
  const StatsHistory* stats_ = nullptr;
  const Alerts* alerts_ = nullptr;
  CpuProfiler* profiler_;
};

}  // namespace sluice::admin
