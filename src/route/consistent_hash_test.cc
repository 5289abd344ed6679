// consistent-hash through make_balancer (src/route/consistent_hash.cc): affinity, how few keys
// move when a member goes, and the bounded load.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "route/balancer.h"
#include "support/balancer_group.h"

namespace sluice::route {
namespace {

using testing::BalancerGroup;
using testing::kNow;
using testing::mix;
using namespace std::chrono_literals;

constexpr int kKeys = 10'000;

std::unique_ptr<Balancer> ring(std::span<const Member> members, Rng& rng,
                               double load_factor = 1.25) {
  config::HashKey key;
  key.load_factor = load_factor;
  return make_balancer(config::Strategy::kConsistentHash, key, members, rng);
}

PickContext with_key(std::uint64_t affinity) {
  return PickContext{.now = kNow, .affinity = affinity, .has_affinity = true};
}

// The id of the member each of kKeys keys goes to.
std::vector<std::string_view> owners(Balancer& b, std::span<const Member> members,
                                     const std::vector<std::uint32_t>& eligible) {
  std::vector<std::string_view> out;
  for (int k = 0; k < kKeys; ++k) out.push_back(members[b.pick(eligible, with_key(mix(k)))].id);
  return out;
}

std::vector<std::uint32_t> indexes(std::size_t n) {
  std::vector<std::uint32_t> v(n);
  for (std::uint32_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

TEST(ConsistentHash, SameAffinitySameMember) {
  BalancerGroup g(std::vector<std::uint32_t>(10, 1));
  Rng rng;
  auto b = ring(g.members(), rng);
  const auto first = owners(*b, g.members(), g.all());
  EXPECT_EQ(owners(*b, g.members(), g.all()), first);
  // Another worker's balancer (its own Rng) agrees.
  Rng other(99);
  auto b2 = ring(g.members(), other);
  EXPECT_EQ(owners(*b2, g.members(), g.all()), first);
}

TEST(ConsistentHash, KeysSpreadByWeight) {
  BalancerGroup g({1, 1, 1, 1, 2, 4});  // shares 1/10 ... 2/10, 4/10
  Rng rng;
  auto b = ring(g.members(), rng);
  std::vector<int> per(g.size(), 0);
  for (int k = 0; k < 100'000; ++k) ++per[b->pick(g.all(), with_key(mix(k)))];
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double expected = 100'000.0 * g.member(i).weight / 10;
    EXPECT_NEAR(per[i], expected, 0.25 * expected) << "member " << i;
  }
}

TEST(ConsistentHash, LeavingTheEligibleSetMovesOnlyThatMembersKeys) {
  const std::size_t n = 10;
  BalancerGroup g(std::vector<std::uint32_t>(n, 1));
  Rng rng;
  auto b = ring(g.members(), rng);
  const auto before = owners(*b, g.members(), g.all());
  for (std::uint32_t removed : {0u, 3u, 9u}) {
    const auto after = owners(*b, g.members(), g.all_but(removed));
    int moved = 0;
    for (int k = 0; k < kKeys; ++k) {
      if (before[k] == after[k]) continue;
      ++moved;
      EXPECT_EQ(before[k], g.member(removed).id)
          << "key " << k << " moved off a member still there";
    }
    EXPECT_GT(moved, 0);
    EXPECT_LT(moved, 1.5 * kKeys / n) << "removing member " << removed;
    // Back in the set, every key is home again.
    EXPECT_EQ(owners(*b, g.members(), g.all()), before);
  }
}

TEST(ConsistentHash, BuildingWithoutAMemberMovesOnlyItsKeys) {
  const std::size_t n = 10;
  BalancerGroup g(std::vector<std::uint32_t>(n, 1));
  Rng rng;
  auto full = ring(g.members(), rng);
  const auto before = owners(*full, g.members(), g.all());

  std::vector<Member> fewer = g.members();
  fewer.erase(fewer.begin() + 4);  // the configuration without d4: every later index shifts
  auto smaller = ring(fewer, rng);
  const auto after = owners(*smaller, fewer, indexes(fewer.size()));
  int moved = 0;
  for (int k = 0; k < kKeys; ++k) {
    if (before[k] == after[k]) continue;
    ++moved;
    EXPECT_EQ(before[k], "d4") << "key " << k;
  }
  EXPECT_GT(moved, 0);
  EXPECT_LT(moved, 1.5 * kKeys / n);
}

TEST(ConsistentHash, RingDoesNotDependOnMemberOrder) {
  BalancerGroup g({1, 2, 1, 3});
  Rng rng;
  auto b = ring(g.members(), rng);
  std::vector<Member> reversed(g.members().rbegin(), g.members().rend());
  auto r = ring(reversed, rng);
  EXPECT_EQ(owners(*r, reversed, indexes(4)), owners(*b, g.members(), g.all()));
}

TEST(ConsistentHash, OverloadedMemberSpillsOver) {
  BalancerGroup g(std::vector<std::uint32_t>(10, 1));
  Rng rng;
  auto b = ring(g.members(), rng);
  const auto before = owners(*b, g.members(), g.all());
  // 10 in flight on d2 out of 10: the bound is ceil(1.25 x 11 / 10) = 2.
  g.busy(2, 10);
  const auto after = owners(*b, g.members(), g.all());
  int spilled = 0;
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_NE(after[k], "d2");
    if (before[k] == "d2") {
      ++spilled;
    } else {
      EXPECT_EQ(after[k], before[k]) << "key " << k << " moved though its member has room";
    }
  }
  EXPECT_GT(spilled, 0);
}

TEST(ConsistentHash, HotKeyStaysWithinTheBound) {
  BalancerGroup g(std::vector<std::uint32_t>(4, 1));
  Rng rng;
  auto b = ring(g.members(), rng);
  const std::uint32_t home = b->pick(g.all(), with_key(mix(7)));
  // 200 concurrent requests with the same key, none ending.
  std::vector<int> per(g.size(), 0);
  for (int r = 0; r < 200; ++r) {
    const std::uint32_t m = b->pick(g.all(), with_key(mix(7)));
    // The bound this pick was made against: ceil(1.25 x (in flight + 1) / 4).
    const double bound = std::ceil(1.25 * (r + 1) / 4.0);
    EXPECT_LT(g.load(m).in_flight(), bound) << "request " << r;
    // The key's own member whenever it has room; only then another.
    if (g.load(home).in_flight() < bound) {
      EXPECT_EQ(m, home) << "request " << r;
    }
    g.load(m).begin();
    ++per[m];
  }
  for (int p : per) EXPECT_LE(p, std::ceil(1.25 * 200 / 4.0));
  EXPECT_GT(std::count_if(per.begin(), per.end(), [](int p) { return p > 0; }), 1);
}

TEST(ConsistentHash, LoadFactorBelowOneStillAnswers) {
  BalancerGroup g(std::vector<std::uint32_t>(3, 1));
  for (std::size_t i = 0; i < 3; ++i) g.busy(i, 5);
  Rng rng;
  auto b = ring(g.members(), rng, 0.5);       // bound ceil(0.5 x 16 / 3) = 3: nobody is under it
  auto home = ring(g.members(), rng, 100.0);  // no bound in effect: the key's own member
  for (int k = 0; k < 100; ++k) {
    EXPECT_EQ(b->pick(g.all(), with_key(mix(k))), home->pick(g.all(), with_key(mix(k))));
  }
}

TEST(ConsistentHash, WithoutAffinityFallsBackToP2cEwma) {
  BalancerGroup g({1, 1, 1});
  g.load(0).observe(kNow, 50ms);
  g.load(1).observe(kNow, 50ms);
  g.load(2).observe(kNow, 50ms);
  g.busy(1, 20);
  Rng rng(6);
  auto b = ring(g.members(), rng);
  std::vector<int> per(g.size(), 0);
  for (int i = 0; i < 3000; ++i) ++per[b->pick(g.all(), PickContext{.now = kNow})];
  EXPECT_EQ(per[1], 0);  // loses every comparison, as in p2c-ewma
  EXPECT_NEAR(per[0], 1500, 150);
}

}  // namespace
}  // namespace sluice::route
