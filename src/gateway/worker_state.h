// Per-worker state of the gateway. Nothing here is shared between workers, so nothing here is
// locked.
//
// WorkerState lives as long as the worker: the services, the cache key memo, its view of the
// keys, its rate limiter (with its own Redis connection when limits are distributed), the prompt
// count memo, its metrics recorder, and every upstream connection pool it has opened.
//
// WorkerRoutes is what a worker keeps per configuration snapshot: the Runtime, the pool of each
// of its providers (by provider slot) and the worker's balancers for its routes. A request holds
// the WorkerRoutes it started with (RequestContext::routes), so a reload never changes the pools
// or the balancers under a request in flight; the next request gets the new ones.
//
// Thread safety: used only on its worker's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "cache/cache_key.h"
#include "gateway/gateway_metrics.h"
#include "gateway/services.h"
#include "gateway/tenants.h"
#include "gateway/token_estimate.h"
#include "http/upstream.h"
#include "limit/limiter.h"
#include "provider/provider.h"
#include "route/worker_balancers.h"

namespace sluice::gateway {

class Runtime;

struct WorkerRoutes {
  WorkerRoutes(std::shared_ptr<const Runtime> rt, std::uint64_t seed)
      : runtime(std::move(rt)), balancers(seed) {}

  std::shared_ptr<const Runtime> runtime;
  std::vector<http::UpstreamPool*> pools;  // by provider slot; null for in-process providers
  route::WorkerBalancers balancers;

  provider::WorkerResources resources() { return provider::WorkerResources{&pools}; }
};

struct WorkerState {
  Services services;
  cache::KeyMemo key_memo;                         // cache keys of recently seen bodies
  std::optional<TenantDirectory::Reader> tenants;  // when auth is on
  std::unique_ptr<limit::Limiter> limiter;
  PromptTokenMemo prompt_tokens;                // counts of recently seen prompts
  std::optional<GatewayWorkerMetrics> metrics;  // this worker's recorder, when metrics are on
  // Every pool this worker has opened, by the provider configuration it was made for. A reload
  // keeps the pool of a provider whose configuration did not change (and its warm connections);
  // the pool of one that changed or left is closed (retired) and kept while requests of the old
  // snapshot may still use it: a later reload frees it once no connection and no WorkerRoutes
  // refers to it (Gateway::adopt).
  struct Pool {
    config::Provider provider;
    std::unique_ptr<http::UpstreamPool> pool;
    bool retired = false;
  };
  std::vector<Pool> pools;
  std::shared_ptr<WorkerRoutes> routes;  // of the snapshot new requests get
};

}  // namespace sluice::gateway
