// Per-worker state of the gateway: the upstream connection pools (one per HTTP provider, indexed
// by the provider's slot in the Runtime), the cache key memo, the worker's balancers, its view of
// the keys and its rate limiter (with its own Redis connection when limits are distributed).
// Nothing here is shared between workers, so nothing here is locked.
//
// Thread safety: used only on its worker's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "cache/cache_key.h"
#include "gateway/services.h"
#include "gateway/tenants.h"
#include "gateway/token_estimate.h"
#include "http/upstream.h"
#include "limit/limiter.h"
#include "metrics/metrics_registry.h"
#include "provider/provider.h"
#include "route/worker_balancers.h"

namespace sluice::gateway {

struct WorkerState {
  std::vector<std::unique_ptr<http::UpstreamPool>> pools;  // null for in-process providers
  Services services;
  cache::KeyMemo key_memo;  // cache keys of recently seen bodies
  // The routing state of the snapshot this worker serves. A configuration reload (not yet
  // supported) would rebuild it with the new Runtime.
  route::WorkerBalancers balancers;
  std::optional<TenantDirectory::Reader> tenants;  // when auth is on
  std::unique_ptr<limit::Limiter> limiter;
  PromptTokenMemo prompt_tokens;              // counts of recently seen prompts
  metrics::WorkerMetrics* metrics = nullptr;  // this worker's recorder, when metrics are on
  explicit WorkerState(std::uint64_t seed) : balancers(seed) {}

  provider::WorkerResources resources() { return provider::WorkerResources{&pools}; }
};

}  // namespace sluice::gateway
