// The strategies behind route::Balancer, one factory each, and the power of two choices on peak
// EWMA that several of them fall back to. Private to src/route: everything else builds a
// balancer through make_balancer() (balancer.h), which maps a config::Strategy to one of these.
//
// Families, one file each:
//   static_balancers.cc     round-robin, weighted (smooth WRR), random: ignore the live load
//   load_balancers.cc       least-requests, latency, p2c-ewma: follow in-flight and latency
//   consistent_hash.cc      consistent-hash: affinity with bounded load
//   preference_balancers.cc usage, cost: the best by headroom or price, then p2c-ewma
//
// Thread safety: as Balancer; the free functions keep no state of their own.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "core/clock.h"
#include "route/balancer.h"
#include "route/rng.h"

namespace sluice::route::detail {

std::unique_ptr<Balancer> make_round_robin(std::span<const Member> members);
std::unique_ptr<Balancer> make_smooth_weighted(std::span<const Member> members);
std::unique_ptr<Balancer> make_weighted_random(std::span<const Member> members, Rng& rng);

std::unique_ptr<Balancer> make_least_requests(std::span<const Member> members, Rng& rng);
std::unique_ptr<Balancer> make_lowest_latency(std::span<const Member> members, Rng& rng);
std::unique_ptr<Balancer> make_p2c_ewma(std::span<const Member> members, Rng& rng);

std::unique_ptr<Balancer> make_consistent_hash(std::span<const Member> members, double load_factor,
                                               Rng& rng);

std::unique_ptr<Balancer> make_most_headroom(std::span<const Member> members, Rng& rng);
std::unique_ptr<Balancer> make_cheapest(std::span<const Member> members, Rng& rng);

// Member::weight is documented >= 1; a 0 that slipped through counts as 1 rather than making the
// member unreachable (or dividing by zero).
inline std::uint32_t weight_of(const Member& member) {
  return member.weight > 0 ? member.weight : 1;
}

// Two distinct positions in [0, n), n >= 2, uniformly; the first is uniform on its own too, so
// "keep the first on a tie" breaks ties at random.
struct Pair {
  std::uint32_t first, second;
};
inline Pair two_distinct(std::uint32_t n, Rng& rng) {
  const std::uint32_t a = rng.below(n);
  std::uint32_t b = rng.below(n - 1);
  if (b >= a) ++b;
  return {a, b};
}

// Peak EWMA latency x (in flight + 1), as Finagle's and Linkerd's p2c balancers weigh a member.
double peak_ewma_cost(const Member& member, core::Clock::time_point now);

// Power of two choices on peak_ewma_cost among `candidates` (indexes into `members`, not empty).
std::uint32_t pick_p2c_ewma(std::span<const Member> members,
                            std::span<const std::uint32_t> candidates, core::Clock::time_point now,
                            Rng& rng);

}  // namespace sluice::route::detail
