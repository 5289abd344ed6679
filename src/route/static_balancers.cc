// round-robin, weighted (smooth weighted round-robin) and random (weighted random): the
// strategies that ignore the live load and spread requests by configuration alone.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "route/balancer_strategies.h"

namespace sluice::route::detail {

namespace {

// The cursor is a member index, not a position in the eligible set: when a member drops out and
// comes back, the others keep their turn in the same order instead of shifting by one.
class RoundRobin final : public Balancer {
 public:
  std::uint32_t pick(std::span<const std::uint32_t> eligible, const PickContext&) override {
    auto it = std::lower_bound(eligible.begin(), eligible.end(), next_);
    if (it == eligible.end()) it = eligible.begin();
    next_ = *it + 1;
    return *it;
  }

 private:
  std::uint32_t next_ = 0;
};

// nginx's smooth weighted round-robin (ngx_http_upstream_get_peer): every pick, each eligible
// member's current weight grows by its weight, the largest wins and gives back the eligible
// total. Weights 5, 1, 1 give a a b a c a a rather than a a a a a b c: the heavy member's turns
// are spread out, so a light member is never starved for a long run. The current weights belong
// to the whole group; a member outside the eligible set keeps its own untouched, and the others
// carry on as they were.
class SmoothWeighted final : public Balancer {
 public:
  explicit SmoothWeighted(std::span<const Member> members)
      : members_(members), current_(members.size(), 0) {}

  std::uint32_t pick(std::span<const std::uint32_t> eligible, const PickContext&) override {
    std::int64_t total = 0;
    std::uint32_t best = eligible.front();
    std::int64_t best_weight = std::numeric_limits<std::int64_t>::min();
    for (std::uint32_t i : eligible) {
      const std::int64_t w = weight_of(members_[i]);
      current_[i] += w;
      total += w;
      if (current_[i] > best_weight) {  // strict: the first of equals wins, as in nginx
        best = i;
        best_weight = current_[i];
      }
    }
    current_[best] -= total;
    return best;
  }

 private:
  std::span<const Member> members_;
  std::vector<std::int64_t> current_;
};

class WeightedRandom final : public Balancer {
 public:
  WeightedRandom(std::span<const Member> members, Rng& rng) : members_(members), rng_(rng) {}

  std::uint32_t pick(std::span<const std::uint32_t> eligible, const PickContext&) override {
    std::uint64_t total = 0;
    for (std::uint32_t i : eligible) total += weight_of(members_[i]);
    // A double has 53 bits; weights sum to far less, so every slot is reachable.
    auto r = static_cast<std::uint64_t>(rng_.uniform() * static_cast<double>(total));
    for (std::uint32_t i : eligible) {
      const std::uint64_t w = weight_of(members_[i]);
      if (r < w) return i;
      r -= w;
    }
    return eligible.back();  // rounding at the very top of [0, total)
  }

 private:
  std::span<const Member> members_;
  Rng& rng_;
};

}  // namespace

std::unique_ptr<Balancer> make_round_robin(std::span<const Member>) {
  return std::make_unique<RoundRobin>();
}

std::unique_ptr<Balancer> make_smooth_weighted(std::span<const Member> members) {
  return std::make_unique<SmoothWeighted>(members);
}

std::unique_ptr<Balancer> make_weighted_random(std::span<const Member> members, Rng& rng) {
  return std::make_unique<WeightedRandom>(members, rng);
}

}  // namespace sluice::route::detail
