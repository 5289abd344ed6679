// The admin API under /admin/: the cache's and the coalescer's figures and clearing the cache
// (docs/caching.md, "Admin"), and the deployments' live routing state (docs/routing.md).
//
// Until keys exist it answers only clients on a loopback address (127.0.0.0/8, ::1); others get
// a 403. The keys issue puts it behind the admin key.
//
// Thread safety: one instance shared by every worker; it holds only pointers to thread-safe
// services.
#pragma once

#include "gateway/services.h"

namespace sluice::admin {

class AdminApi final : public gateway::AdminRoutes {
 public:
  AdminApi(cache::TieredCache* cache, cache::Coalescer* coalescer)
      : cache_(cache), coalescer_(coalescer) {}

  asio::awaitable<void> handle(gateway::RequestContext& ctx) override;

 private:
  asio::awaitable<void> cache(gateway::RequestContext& ctx);
  asio::awaitable<void> deployments(gateway::RequestContext& ctx);

  cache::TieredCache* cache_;    // null when the cache is off
  cache::Coalescer* coalescer_;  // null when coalescing is off
};

}  // namespace sluice::admin
