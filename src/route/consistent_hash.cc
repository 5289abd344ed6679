// consistent-hash: requests with the same affinity key (user, header or prompt prefix) go to the
// same member, so a provider's prompt cache (or a self-hosted server's KV cache) keeps serving
// them, while no member takes more than load_factor x the mean load.
//
// The ring: each member owns kPointsPerWeight x weight points, at XXH3 hashes of its stable id
// seeded by the replica number, so a member's points depend on nothing else in the group. A key
// belongs to the first point at or after its hash (clockwise). Taking a member away therefore
// moves only the keys on its own points, about 1/N of them, to the next members around the
// ring; whether it leaves the eligible set for a moment or is missing from the configuration.
//
// Bounded load (Mirrokni, Thorup, Zadimoghaddam, "Consistent Hashing with Bounded Loads", 2018;
// HAProxy's hash-balance-factor, Envoy's hash_balance_factor): walking clockwise from the key,
// skip a member whose in-flight count has reached ceil(load_factor x (total + 1) / eligible),
// total counting the eligible members. A hot key spills over to the next members on the ring,
// always the same ones, rather than anywhere; and as the mean is an average, some member is
// always below the bound when load_factor >= 1.
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "route/balancer_strategies.h"

namespace sluice::route::detail {

namespace {

// 100 points per unit of weight keep the share of each member within a few percent of its
// weight (the spread of a member's share falls as 1 / sqrt(points)).
constexpr std::uint64_t kPointsPerWeight = 100;
// 12 bytes a point: at most 1.5 MiB a balancer however large the weights. Above it every member's
// count is scaled down alike; as a member's points are its replicas 0, 1, 2 ..., scaling keeps a
// prefix of them and moves only the keys of the points dropped.
constexpr std::uint64_t kMaxPoints = 1 << 17;

class ConsistentHash final : public Balancer {
 public:
  ConsistentHash(std::span<const Member> members, double load_factor, Rng& rng)
      : members_(members), load_factor_(load_factor), rng_(rng), stamp_(members.size(), 0) {
    build_ring();
  }

  std::uint32_t pick(std::span<const std::uint32_t> eligible, const PickContext& ctx) override {
    if (!ctx.has_affinity || hashes_.empty()) {
      return pick_p2c_ewma(members_, eligible, ctx.now, rng_);
    }
    if (eligible.size() == 1) return eligible.front();

    // Mark the eligible members for this pick (a generation stamp: no clearing, no allocation)
    // and add up their load.
    if (++generation_ == 0) {
      std::fill(stamp_.begin(), stamp_.end(), 0);
      generation_ = 1;
    }
    std::int64_t total = 0;
    for (std::uint32_t i : eligible) {
      stamp_[i] = generation_;
      total += std::max<std::int64_t>(members_[i].load->in_flight(), 0);
    }
    const double bound = std::ceil(load_factor_ * static_cast<double>(total + 1) /
                                   static_cast<double>(eligible.size()));

    const std::size_t start =
        std::lower_bound(hashes_.begin(), hashes_.end(), ctx.affinity) - hashes_.begin();
    const std::size_t n = hashes_.size();
    std::uint32_t owner = eligible.front();
    bool owner_found = false;
    for (std::size_t step = 0; step < n; ++step) {
      const std::uint32_t m = owners_[(start + step) % n];
      if (stamp_[m] != generation_) continue;
      if (static_cast<double>(members_[m].load->in_flight()) < bound) return m;
      if (!owner_found) {
        owner = m;
        owner_found = true;
      }
    }
    // Every eligible member is at the bound, which only a load_factor below 1 allows: the key's
    // own member, as plain consistent hashing would.
    return owner;
  }

 private:
  void build_ring() {
    std::uint64_t wanted = 0;
    for (const Member& m : members_) wanted += kPointsPerWeight * weight_of(m);
    const double scale =
        wanted > kMaxPoints ? static_cast<double>(kMaxPoints) / static_cast<double>(wanted) : 1.0;

    struct Point {
      std::uint64_t hash;
      std::uint32_t owner;
    };
    std::vector<Point> points;
    points.reserve(std::min(wanted, kMaxPoints) + members_.size());
    for (std::uint32_t i = 0; i < members_.size(); ++i) {
      const std::string_view id = members_[i].id;
      const auto count = std::max<std::uint64_t>(
          1, static_cast<std::uint64_t>(std::llround(
                 static_cast<double>(kPointsPerWeight * weight_of(members_[i])) * scale)));
      for (std::uint64_t replica = 0; replica < count; ++replica) {
        points.push_back({XXH3_64bits_withSeed(id.data(), id.size(), replica), i});
      }
    }
    // Ties on the hash (vanishingly rare) go by id, not index, so the ring is the same whatever
    // order the configuration lists the members in.
    std::sort(points.begin(), points.end(), [this](const Point& a, const Point& b) {
      if (a.hash != b.hash) return a.hash < b.hash;
      return members_[a.owner].id < members_[b.owner].id;
    });
    // Apart, so the binary search runs over a dense array of hashes.
    hashes_.reserve(points.size());
    owners_.reserve(points.size());
    for (const Point& p : points) {
      hashes_.push_back(p.hash);
      owners_.push_back(p.owner);
    }
  }

  std::span<const Member> members_;
  const double load_factor_;
  Rng& rng_;
  std::vector<std::uint64_t> hashes_;  // ascending
  std::vector<std::uint32_t> owners_;  // owners_[k] owns hashes_[k]
  std::vector<std::uint32_t> stamp_;   // == generation_: eligible in the current pick
  std::uint32_t generation_ = 0;
};

}  // namespace

std::unique_ptr<Balancer> make_consistent_hash(std::span<const Member> members, double load_factor,
                                               Rng& rng) {
  return std::make_unique<ConsistentHash>(members, load_factor, rng);
}

}  // namespace sluice::route::detail
