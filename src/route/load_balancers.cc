// least-requests, latency and p2c-ewma: the strategies that follow the live load of each member
// (requests in flight, peak-EWMA latency; route/load_stats.h), and the power of two choices on
// peak EWMA that consistent-hash, usage and cost fall back to.
//
// Power of two choices (Mitzenmacher, "The Power of Two Choices in Randomized Load Balancing",
// 2001): compare two members drawn at random and take the better. Unlike "the best of all", it
// does not send every worker's next request to the same member in the moment before the loads
// it read catch up (a herd), and it costs two loads' reads whatever the size of the group.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "route/balancer_strategies.h"

namespace sluice::route::detail {

namespace {

// The cost of a member with requests in flight but no answer yet, as in Finagle's PeakEwma: far
// above any measured cost, so a new member gets one request to learn its latency
// rather than all of them until the first answer comes back. Grows with what is in flight, so
// that among several unknown members the least loaded still wins.
constexpr double kUnknownLatencyPenalty = 1e9;  // milliseconds x requests

std::int64_t in_flight_of(const Member& m) {
  return std::max<std::int64_t>(m.load->in_flight(), 0);
}

// Power of two choices on in_flight / weight. When the two are equal (most often both idle, the
// usual state at low traffic) a coin weighted by their weights decides, so that the weights still
// count when nothing is in flight.
class LeastRequests final : public Balancer {
 public:
  LeastRequests(std::span<const Member> members, Rng& rng) : members_(members), rng_(rng) {}

  std::uint32_t pick(std::span<const std::uint32_t> eligible, const PickContext&) override {
    if (eligible.size() == 1) return eligible.front();
    const auto [x, y] = two_distinct(static_cast<std::uint32_t>(eligible.size()), rng_);
    const Member& a = members_[eligible[x]];
    const Member& b = members_[eligible[y]];
    const double wa = weight_of(a), wb = weight_of(b);
    // a / wa against b / wb without dividing; doubles, as the products can pass 2^63.
    const double lhs = static_cast<double>(in_flight_of(a)) * wb;
    const double rhs = static_cast<double>(in_flight_of(b)) * wa;
    if (lhs != rhs) return lhs < rhs ? eligible[x] : eligible[y];
    return rng_.uniform() * (wa + wb) < wa ? eligible[x] : eligible[y];
  }

 private:
  std::span<const Member> members_;
  Rng& rng_;
};

// The lowest peak-EWMA latency of all. A member with no sample reads 0 and so wins, which is how
// it gets explored; ties (several such members, or equal estimates) are broken at random so
// that exploration is spread rather than always the lowest index.
class LowestLatency final : public Balancer {
 public:
  LowestLatency(std::span<const Member> members, Rng& rng) : members_(members), rng_(rng) {}

  std::uint32_t pick(std::span<const std::uint32_t> eligible, const PickContext& ctx) override {
    std::uint32_t best = eligible.front();
    double best_ms = std::numeric_limits<double>::infinity();
    std::uint32_t ties = 0;
    for (std::uint32_t i : eligible) {
      const double ms = members_[i].load->latency_ms(ctx.now);
      if (ms < best_ms) {
        best = i;
        best_ms = ms;
        ties = 1;
      } else if (ms == best_ms && rng_.below(++ties) == 0) {
        best = i;  // reservoir sampling: each of the tied keeps a 1 / ties chance
      }
    }
    return best;
  }

 private:
  std::span<const Member> members_;
  Rng& rng_;
};

class P2cEwma final : public Balancer {
 public:
  P2cEwma(std::span<const Member> members, Rng& rng) : members_(members), rng_(rng) {}

  std::uint32_t pick(std::span<const std::uint32_t> eligible, const PickContext& ctx) override {
    return pick_p2c_ewma(members_, eligible, ctx.now, rng_);
  }

 private:
  std::span<const Member> members_;
  Rng& rng_;
};

}  // namespace

double peak_ewma_cost(const Member& member, core::Clock::time_point now) {
  const double latency = member.load->latency_ms(now);
  const auto in_flight = static_cast<double>(in_flight_of(member));
  if (latency <= 0) return in_flight > 0 ? kUnknownLatencyPenalty * in_flight : 0;
  return latency * (in_flight + 1);
}

std::uint32_t pick_p2c_ewma(std::span<const Member> members,
                            std::span<const std::uint32_t> candidates, core::Clock::time_point now,
                            Rng& rng) {
  if (candidates.size() == 1) return candidates.front();
  const auto [x, y] = two_distinct(static_cast<std::uint32_t>(candidates.size()), rng);
  const std::uint32_t a = candidates[x];
  const std::uint32_t b = candidates[y];
  return peak_ewma_cost(members[a], now) <= peak_ewma_cost(members[b], now) ? a : b;
}

std::unique_ptr<Balancer> make_least_requests(std::span<const Member> members, Rng& rng) {
  return std::make_unique<LeastRequests>(members, rng);
}

std::unique_ptr<Balancer> make_lowest_latency(std::span<const Member> members, Rng& rng) {
  return std::make_unique<LowestLatency>(members, rng);
}

std::unique_ptr<Balancer> make_p2c_ewma(std::span<const Member> members, Rng& rng) {
  return std::make_unique<P2cEwma>(members, rng);
}

}  // namespace sluice::route::detail
