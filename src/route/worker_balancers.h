// One worker's balancers, one per model, built on first use, and the worker's Rng. Balancers
// keep per-pick state (cursors, smooth weights), so each worker has its own and none is locked.
//
// Thread safety: belongs to one worker thread.
#pragma once

#include <memory>
#include <vector>

#include "route/balancer.h"
#include "route/model_registry.h"
#include "route/rng.h"

namespace sluice::route {

class WorkerBalancers {
 public:
  explicit WorkerBalancers(std::uint64_t seed) : rng_(seed) {}

  Balancer& of(const ModelRoute& route) {
    if (by_route_.size() <= route.index) by_route_.resize(route.index + 1);
    auto& b = by_route_[route.index];
    if (!b) b = make_balancer(route.config->strategy, route.config->hash_key, route.members, rng_);
    return *b;
  }
  Rng& rng() { return rng_; }

 private:
  Rng rng_;
  std::vector<std::unique_ptr<Balancer>> by_route_;  // by ModelRoute::index
};

}  // namespace sluice::route
