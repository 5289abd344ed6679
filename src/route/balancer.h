// Balancers: the strategies that pick one deployment of a model for one attempt (DESIGN.md,
// "Life of a request", step 8; docs/routing.md, "Strategies"). Each strategy is a small class
// behind this interface; make_balancer() builds the one a model's `strategy:` names.
//
// The routing stage decides which deployments are eligible (healthy, below their concurrency
// and rate limits, in the best available priority tier, not yet tried by this request) and asks
// the balancer to choose among them. A balancer sees the whole group (`members`, fixed for its
// life) so that it can keep per-member state that survives members dropping in and out of the
// eligible set (smooth weighted round-robin's current weights, the consistent-hash ring).
//
// Thread safety: a Balancer belongs to one worker (each worker builds its own, with its own
// Rng), so it keeps its state without locks. Members' DeploymentLoad is shared and atomic.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "config/config.h"
#include "core/clock.h"
#include "route/load_stats.h"
#include "route/rng.h"

namespace sluice::route {

// What a balancer knows of one deployment of the group.
struct Member {
  // A stable identity (provider, upstream model and position among equal pairs), so that
  // consistent-hash places a deployment at the same ring points whatever else is configured.
  std::string_view id;
  std::uint32_t weight = 1;  // >= 1
  std::uint64_t rpm = 0;     // 0: no limit
  std::uint64_t tpm = 0;
  double input_cost_per_mtok = 0;
  double output_cost_per_mtok = 0;
  DeploymentLoad* load = nullptr;  // never null; outlives the balancer
};

struct PickContext {
  core::Clock::time_point now;
  // For consistent-hash: the hash of the request's affinity key (user, header or prompt
  // prefix). When the request has no such key, has_affinity is false and the balancer falls
  // back to power of two choices on peak EWMA.
  std::uint64_t affinity = 0;
  bool has_affinity = false;
};

class Balancer {
 public:
  virtual ~Balancer() = default;
  // `eligible` holds indexes into `members`, ascending, without repeats, never empty. Returns
  // one of them. Called once per attempt.
  virtual std::uint32_t pick(std::span<const std::uint32_t> eligible, const PickContext& ctx) = 0;
};

// `members` and `rng` must outlive the balancer. `hash_key` matters only for kConsistentHash.
std::unique_ptr<Balancer> make_balancer(config::Strategy strategy, const config::HashKey& hash_key,
                                        std::span<const Member> members, Rng& rng);

}  // namespace sluice::route
