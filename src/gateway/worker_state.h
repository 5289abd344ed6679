// Per-worker state of the gateway: the upstream connection pools (one per HTTP provider, indexed
// by the provider's slot in the Runtime) and small counters. Nothing here is shared between
// workers, so nothing here is locked.
//
// Thread safety: used only on its worker's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "cache/cache_key.h"
#include "gateway/services.h"
#include "http/upstream.h"
#include "provider/provider.h"

namespace sluice::gateway {

struct WorkerState {
  std::vector<std::unique_ptr<http::UpstreamPool>> pools;  // null for in-process providers
  Services services;
  cache::KeyMemo key_memo;            // cache keys of recently seen bodies
  std::uint64_t next_deployment = 0;  // round-robin cursor until the routing issue's balancers

  provider::WorkerResources resources() { return provider::WorkerResources{&pools}; }
};

}  // namespace sluice::gateway
