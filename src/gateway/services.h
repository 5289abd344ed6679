// The services every worker's gateway shares for the whole life of the process: unlike the
// Runtime, they outlive configuration snapshots (a reload keeps the cache's contents). Owned by
// the serve command; workers hold plain pointers.
//
// Thread safety: each service is itself safe to use from every worker.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <string_view>

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

// The Batch API's routes, /v1/files... and /v1/batches...: like the admin routes they sit above
// the gateway (src/batch/), which forwards to them after authentication, so ctx.tenant is the
// caller whose files and batches they are.
class BatchRoutes {
 public:
  virtual ~BatchRoutes() = default;
  virtual asio::awaitable<void> handle(RequestContext& ctx) = 0;
  // The largest body a POST /v1/files may send (batch.max_file_bytes).
  virtual std::uint64_t max_upload_bytes() const = 0;
};

struct Services {
  AccessLog* access_log = nullptr;        // null when the access log is off
  cache::TieredCache* cache = nullptr;    // null when the cache is off
  cache::Coalescer* coalescer = nullptr;  // null when coalescing is off
  AdminRoutes* admin = nullptr;           // null: /admin/ paths are 404
  BatchRoutes* batch = nullptr;           // null (no data_dir): /v1/files and /v1/batches say so
  const core::Clock* clock = nullptr;     // wall-clock time for expiry, budgets and the ledger
  limit::SharedLimits* limits = nullptr;  // the local rate limiter and its counters
  limit::BudgetBook* budgets = nullptr;
  TenantDirectory* tenants = nullptr;            // null when auth is off
  store::ControlPlane* control_plane = nullptr;  // null without a data_dir
  GatewayMetrics* metrics = nullptr;             // null: no /metrics, nothing recorded
  // Whether usage is counted (a ledger or a token limit needs it): streams are then asked for
  // their usage chunk.
  bool accounting = false;
  // The secret the server's batch executor sends (x-sluice-batch-secret) with the key id of the
  // batch's owner (x-sluice-batch-owner), so its requests are the owner's; random per process,
  // never logged. Empty: no executor, and no request may claim to be one.
  std::string_view batch_secret;
};

}  // namespace sluice::gateway
