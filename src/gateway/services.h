// The services every worker's gateway shares for the whole life of the process: unlike the
// Runtime, they outlive configuration snapshots (a reload keeps the cache's contents). Owned by
// the serve command; workers hold plain pointers.
//
// Thread safety: each service is itself safe to use from every worker.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "core/asio.h"

namespace sluice::cache {
class Coalescer;
class TieredCache;
}  // namespace sluice::cache
namespace sluice::core {
class Clock;
}
namespace sluice::limit {
class BudgetBook;
class SharedLimits;
}  // namespace sluice::limit
namespace sluice::store {
class ControlPlane;
}

namespace sluice::gateway {

class AccessLog;
class GatewayMetrics;
class TenantDirectory;
struct RequestContext;

// The routes under /admin/. They sit above the gateway (src/admin/), which only forwards to them.
class AdminRoutes {
 public:
  virtual ~AdminRoutes() = default;
  virtual asio::awaitable<void> handle(RequestContext& ctx) = 0;
};

struct Services {
  AccessLog* access_log = nullptr;        // null when the access log is off
  cache::TieredCache* cache = nullptr;    // null when the cache is off
  cache::Coalescer* coalescer = nullptr;  // null when coalescing is off
  AdminRoutes* admin = nullptr;           // null: /admin/ paths are 404
  const core::Clock* clock = nullptr;     // wall-clock time for expiry, budgets and the ledger
  limit::SharedLimits* limits = nullptr;  // the local rate limiter and its counters
  limit::BudgetBook* budgets = nullptr;
  TenantDirectory* tenants = nullptr;            // null when auth is off
  store::ControlPlane* control_plane = nullptr;  // null without a data_dir
  GatewayMetrics* metrics = nullptr;             // null: no /metrics, nothing recorded
  // Whether usage is counted (a ledger or a token limit needs it): streams are then asked for
  // their usage chunk.
  bool accounting = false;
};

}  // namespace sluice::gateway
