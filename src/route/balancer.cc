#include "route/balancer.h"

#include "route/balancer_strategies.h"

namespace sluice::route {

using config::Strategy;

std::unique_ptr<Balancer> make_balancer(config::Strategy strategy, const config::HashKey& hash_key,
                                        std::span<const Member> members, Rng& rng) {
  switch (strategy) {
    case Strategy::kRoundRobin:
      return detail::make_round_robin(members);
    case Strategy::kWeighted:
      return detail::make_smooth_weighted(members);
    case Strategy::kRandom:
      return detail::make_weighted_random(members, rng);
    case Strategy::kLeastRequests:
      return detail::make_least_requests(members, rng);
    case Strategy::kLatency:
      return detail::make_lowest_latency(members, rng);
    case Strategy::kP2cEwma:
      return detail::make_p2c_ewma(members, rng);
    case Strategy::kConsistentHash:
      return detail::make_consistent_hash(members, hash_key.load_factor, rng);
    case Strategy::kUsage:
      return detail::make_most_headroom(members, rng);
    case Strategy::kCost:
      return detail::make_cheapest(members, rng);
  }
  // Not reached for a valid enumerator; the default strategy for anything else.
  return detail::make_p2c_ewma(members, rng);
}

}  // namespace sluice::route
