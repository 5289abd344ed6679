#include "route/balancer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "support/balancer_group.h"

namespace sluice::route {
namespace {

using namespace std::chrono_literals;
using config::Strategy;
using testing::BalancerGroup;
using testing::count_picks;
using testing::kNow;

std::unique_ptr<Balancer> make(Strategy strategy, BalancerGroup& group, Rng& rng) {
  return make_balancer(strategy, config::HashKey{}, group.members(), rng);
}

// Picks in order, as letters ("aab"), member 0 being 'a'.
std::string sequence(Balancer& balancer, const std::vector<std::uint32_t>& eligible, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += static_cast<char>('a' + balancer.pick(eligible, PickContext{.now = kNow}));
  }
  return out;
}

const Strategy kAll[] = {Strategy::kRoundRobin,     Strategy::kWeighted, Strategy::kRandom,
                         Strategy::kLeastRequests,  Strategy::kLatency,  Strategy::kP2cEwma,
                         Strategy::kConsistentHash, Strategy::kUsage,    Strategy::kCost};

// ---- names and the factory

TEST(BalancerNames, RoundTrip) {
  for (Strategy s : kAll) {
    const auto parsed = config::parse_strategy(config::strategy_name(s));
    ASSERT_TRUE(parsed.has_value()) << config::strategy_name(s);
    EXPECT_EQ(*parsed, s);
  }
  EXPECT_EQ(config::strategy_name(Strategy::kP2cEwma), "p2c-ewma");
  EXPECT_EQ(config::strategy_name(Strategy::kRoundRobin), "round-robin");
  EXPECT_EQ(config::strategy_name(Strategy::kConsistentHash), "consistent-hash");
  EXPECT_EQ(config::strategy_name(Strategy::kLeastRequests), "least-requests");
}

TEST(BalancerNames, UnknownNameIsRefused) {
  EXPECT_FALSE(config::parse_strategy("").has_value());
  EXPECT_FALSE(config::parse_strategy("roundrobin").has_value());
  EXPECT_FALSE(config::parse_strategy("P2C-EWMA").has_value());
  EXPECT_FALSE(config::parse_strategy("p2c-ewma ").has_value());
}

// Whatever the strategy: a single eligible member is the answer, and a pick never leaves the
// eligible set, however the loads look.
TEST(BalancerAll, SingleEligibleMemberIsPicked) {
  for (Strategy s : kAll) {
    BalancerGroup g({1, 5, 2, 1});
    g.busy(2, 3);
    g.load(1).observe(kNow, 40ms);
    Rng rng(7);
    auto b = make(s, g, rng);
    for (std::uint32_t only = 0; only < g.size(); ++only) {
      const std::vector<std::uint32_t> eligible{only};
      for (int i = 0; i < 20; ++i) {
        EXPECT_EQ(
            b->pick(eligible, {.now = kNow, .affinity = testing::mix(i), .has_affinity = true}),
            only)
            << config::strategy_name(s);
      }
    }
  }
}

TEST(BalancerAll, PicksOnlyEligibleMembers) {
  for (Strategy s : kAll) {
    BalancerGroup g({1, 3, 1, 2, 1, 1});
    g.member(0).input_cost_per_mtok = 0.1;  // the cheapest, but never eligible below
    g.load(3).observe(kNow, 100ms);
    g.busy(4, 2);
    Rng rng(11);
    auto b = make(s, g, rng);
    const std::vector<std::uint32_t> eligible{1, 3, 4};
    for (int i = 0; i < 500; ++i) {
      const std::uint32_t m =
          b->pick(eligible, {.now = kNow, .affinity = testing::mix(i), .has_affinity = i % 2 == 0});
      EXPECT_TRUE(m == 1 || m == 3 || m == 4) << config::strategy_name(s) << " picked " << m;
    }
  }
}

// ---- round-robin

TEST(BalancerRoundRobin, ExactCycleIgnoringWeight) {
  BalancerGroup g({5, 1, 1});
  Rng rng;
  auto b = make(Strategy::kRoundRobin, g, rng);
  EXPECT_EQ(sequence(*b, g.all(), 9), "abcabcabc");
}

TEST(BalancerRoundRobin, MemberLeavingAndRejoiningKeepsTheOrder) {
  BalancerGroup g({1, 1, 1, 1});
  Rng rng;
  auto b = make(Strategy::kRoundRobin, g, rng);
  EXPECT_EQ(sequence(*b, g.all(), 2), "ab");
  EXPECT_EQ(sequence(*b, g.all_but(2), 6), "dabdab");
  EXPECT_EQ(sequence(*b, g.all(), 5), "cdabc");
}

// ---- weighted (smooth weighted round-robin)

TEST(BalancerWeighted, NginxSequenceForWeights511) {
  BalancerGroup g({5, 1, 1});
  Rng rng;
  auto b = make(Strategy::kWeighted, g, rng);
  // nginx's own example (ngx_http_upstream_round_robin.c), then the same cycle again.
  EXPECT_EQ(sequence(*b, g.all(), 14), "aabacaaaabacaa");
}

TEST(BalancerWeighted, ExactProportionsInEveryCycle) {
  BalancerGroup g({3, 2, 1});
  Rng rng;
  auto b = make(Strategy::kWeighted, g, rng);
  for (int cycle = 0; cycle < 100; ++cycle) {
    const auto picks = count_picks(*b, g.size(), g.all(), 6);
    ASSERT_EQ(picks, (std::vector<int>{3, 2, 1})) << "cycle " << cycle;
  }
}

TEST(BalancerWeighted, EqualWeightsRotate) {
  BalancerGroup g({2, 2, 2});
  Rng rng;
  auto b = make(Strategy::kWeighted, g, rng);
  EXPECT_EQ(sequence(*b, g.all(), 6), "abcabc");
}

TEST(BalancerWeighted, MemberLeavingAndRejoining) {
  BalancerGroup g({2, 1, 1});
  Rng rng;
  auto b = make(Strategy::kWeighted, g, rng);
  count_picks(*b, g.size(), g.all(), 5);  // part-way through a cycle
  // Without c, a and b split 2:1 in every cycle of three, c untouched.
  for (int cycle = 0; cycle < 50; ++cycle) {
    const auto picks = count_picks(*b, g.size(), g.all_but(2), 3);
    ASSERT_EQ(picks, (std::vector<int>{2, 1, 0})) << "cycle " << cycle;
  }
  // Back in, c gets its share again; over many cycles each count is off by at most one.
  const auto picks = count_picks(*b, g.size(), g.all(), 4000);
  EXPECT_NEAR(picks[0], 2000, 1);
  EXPECT_NEAR(picks[1], 1000, 1);
  EXPECT_NEAR(picks[2], 1000, 1);
}

// ---- random (weighted)

TEST(BalancerRandom, FollowsWeights) {
  BalancerGroup g({1, 2, 3, 4});
  Rng rng(42);
  auto b = make(Strategy::kRandom, g, rng);
  const int n = 100'000;
  const auto picks = count_picks(*b, g.size(), g.all(), n);
  for (std::size_t i = 0; i < g.size(); ++i) {
    const double expected = n * (i + 1) / 10.0;
    EXPECT_NEAR(picks[i], expected, 0.03 * expected) << "member " << i;
  }
}

TEST(BalancerRandom, SameSeedSameSequence) {
  BalancerGroup g({1, 1, 1, 1, 1});
  Rng r1(3), r2(3);
  auto b1 = make(Strategy::kRandom, g, r1);
  auto b2 = make(Strategy::kRandom, g, r2);
  EXPECT_EQ(sequence(*b1, g.all(), 50), sequence(*b2, g.all(), 50));
}

TEST(BalancerRandom, RemovedMemberSharesGoToTheOthersByWeight) {
  BalancerGroup g({1, 2, 3, 4});
  Rng rng(42);
  auto b = make(Strategy::kRandom, g, rng);
  count_picks(*b, g.size(), g.all(), 1000);
  const int n = 60'000;
  const auto picks = count_picks(*b, g.size(), g.all_but(3), n);
  EXPECT_EQ(picks[3], 0);
  for (std::size_t i = 0; i < 3; ++i) {
    const double expected = n * (i + 1) / 6.0;
    EXPECT_NEAR(picks[i], expected, 0.03 * expected) << "member " << i;
  }
}

// ---- least-requests

TEST(BalancerLeastRequests, AvoidsBusyMember) {
  BalancerGroup g({1, 1, 1, 1});
  g.busy(2, 20);
  g.busy(0, 1);
  Rng rng(5);
  auto b = make(Strategy::kLeastRequests, g, rng);
  const auto picks = count_picks(*b, g.size(), g.all(), 3000);
  EXPECT_EQ(picks[2], 0);         // loses every comparison it is drawn into
  EXPECT_LT(picks[0], picks[1]);  // one in flight loses to none
  EXPECT_LT(picks[0], picks[3]);
}

TEST(BalancerLeastRequests, AvoidsSlowMemberWhenPicksUpdateTheLoads) {
  BalancerGroup g({1, 1, 1, 1});
  Rng rng(5);
  auto b = make(Strategy::kLeastRequests, g, rng);
  // Member 3 takes ten times as long, so its requests pile up.
  const auto picks = g.simulate(*b, g.all(), {20ms, 20ms, 20ms, 200ms}, 20'000);
  EXPECT_LT(picks[3], 20'000 / 10);
  EXPECT_GT(picks[3], 0);
}

TEST(BalancerLeastRequests, WeightsDecideBetweenIdleMembers) {
  BalancerGroup g({3, 1});
  Rng rng(5);
  auto b = make(Strategy::kLeastRequests, g, rng);
  const auto picks = count_picks(*b, g.size(), g.all(), 40'000);
  EXPECT_NEAR(picks[0], 30'000, 600);
}

TEST(BalancerLeastRequests, InFlightCountsPerUnitOfWeight) {
  BalancerGroup g({4, 1});
  g.busy(0, 3);  // 3 / 4 beats 1 / 1
  g.busy(1, 1);
  Rng rng(5);
  auto b = make(Strategy::kLeastRequests, g, rng);
  const auto picks = count_picks(*b, g.size(), g.all(), 100);
  EXPECT_EQ(picks[0], 100);
}

TEST(BalancerLeastRequests, SpreadsEvenlyAmongEqualMembers) {
  BalancerGroup g({1, 1, 1, 1, 1});
  Rng rng(9);
  auto b = make(Strategy::kLeastRequests, g, rng);
  const auto picks = count_picks(*b, g.size(), g.all(), 50'000);
  for (int p : picks) EXPECT_NEAR(p, 10'000, 300);
}

// ---- latency

TEST(BalancerLatency, PicksLowestLatency) {
  BalancerGroup g({1, 1, 1});
  g.load(0).observe(kNow, 30ms);
  g.load(1).observe(kNow, 10ms);
  g.load(2).observe(kNow, 20ms);
  Rng rng;
  auto b = make(Strategy::kLatency, g, rng);
  EXPECT_EQ(count_picks(*b, g.size(), g.all(), 100), (std::vector<int>{0, 100, 0}));
  // Without member 1, the next fastest.
  EXPECT_EQ(count_picks(*b, g.size(), g.all_but(1), 100), (std::vector<int>{0, 0, 100}));
}

TEST(BalancerLatency, UnsampledMembersAreExploredAtRandom) {
  BalancerGroup g({1, 1, 1, 1});
  g.load(0).observe(kNow, 5ms);
  g.load(1).observe(kNow, 10ms);
  Rng rng(2);
  auto b = make(Strategy::kLatency, g, rng);
  const auto picks = count_picks(*b, g.size(), g.all(), 10'000);
  EXPECT_EQ(picks[0] + picks[1], 0);
  EXPECT_NEAR(picks[2], 5000, 250);
  EXPECT_NEAR(picks[3], 5000, 250);
}

TEST(BalancerLatency, TiesAreBrokenAtRandom) {
  BalancerGroup g({1, 1, 1});
  for (std::size_t i = 0; i < 3; ++i) g.load(i).observe(kNow, 25ms);
  Rng rng(2);
  auto b = make(Strategy::kLatency, g, rng);
  const auto picks = count_picks(*b, g.size(), g.all(), 30'000);
  for (int p : picks) EXPECT_NEAR(p, 10'000, 400);
}

TEST(BalancerLatency, AvoidsSlowMemberWhenPicksUpdateTheLoads) {
  BalancerGroup g({1, 1, 1, 1});
  Rng rng(5);
  auto b = make(Strategy::kLatency, g, rng);
  const auto picks = g.simulate(*b, g.all(), {20ms, 20ms, 20ms, 200ms}, 20'000);
  EXPECT_LT(picks[3], 20'000 / 10);
  EXPECT_GT(picks[3], 0);  // explored at first
}

// ---- p2c-ewma

TEST(BalancerP2cEwma, AvoidsSlowMemberWhenPicksUpdateTheLoads) {
  for (std::size_t n : {2u, 4u, 8u}) {
    BalancerGroup g(std::vector<std::uint32_t>(n, 1));
    std::vector<std::chrono::milliseconds> latency(n, 20ms);
    latency[0] = 200ms;
    Rng rng(5);
    auto b = make(Strategy::kP2cEwma, g, rng);
    const auto picks = g.simulate(*b, g.all(), latency, 20'000);
    EXPECT_LT(picks[0], 20'000 / 10) << n << " members";
    EXPECT_GT(picks[0], 0) << n << " members";  // still probed now and then
  }
}

TEST(BalancerP2cEwma, SpreadsAmongEqualMembersWhenPicksUpdateTheLoads) {
  BalancerGroup g({1, 1, 1, 1});
  Rng rng(5);
  auto b = make(Strategy::kP2cEwma, g, rng);
  const auto picks = g.simulate(*b, g.all(), {30ms, 30ms, 30ms, 30ms}, 20'000);
  for (int p : picks) EXPECT_NEAR(p, 5000, 500);
}

TEST(BalancerP2cEwma, PrefersLessLoadedAtEqualLatency) {
  BalancerGroup g({1, 1});
  g.load(0).observe(kNow, 50ms);
  g.load(1).observe(kNow, 50ms);
  g.busy(0, 2);
  g.busy(1, 1);
  Rng rng;
  auto b = make(Strategy::kP2cEwma, g, rng);
  EXPECT_EQ(count_picks(*b, g.size(), g.all(), 100), (std::vector<int>{0, 100}));
}

TEST(BalancerP2cEwma, UnsampledIdleMemberIsTriedFirst) {
  BalancerGroup g({1, 1});
  g.load(0).observe(kNow, 1ms);
  Rng rng;
  auto b = make(Strategy::kP2cEwma, g, rng);
  EXPECT_EQ(count_picks(*b, g.size(), g.all(), 100), (std::vector<int>{0, 100}));
}

TEST(BalancerP2cEwma, UnsampledMemberWithRequestsInFlightIsNotFlooded) {
  BalancerGroup g({1, 1});
  g.load(0).observe(kNow, 500ms);
  g.busy(0, 5);
  g.busy(1, 1);  // no answer yet: worse than any measured cost
  Rng rng;
  auto b = make(Strategy::kP2cEwma, g, rng);
  EXPECT_EQ(count_picks(*b, g.size(), g.all(), 100), (std::vector<int>{100, 0}));
}

TEST(BalancerP2cEwma, SlowMemberIsRetriedOnceItsEstimateDecays) {
  BalancerGroup g({1, 1});
  g.load(0).observe(kNow, 20ms);
  g.load(1).observe(kNow, 2000ms);
  Rng rng;
  auto b = make(Strategy::kP2cEwma, g, rng);
  EXPECT_EQ(count_picks(*b, g.size(), g.all(), 50)[1], 0);
  // A minute later with no new sample, 2 s has decayed below 20 ms read at its own age.
  g.load(0).observe(kNow + 60s, 20ms);
  EXPECT_EQ(count_picks(*b, g.size(), g.all(), 50, {.now = kNow + 60s})[1], 50);
}

TEST(BalancerP2cEwma, RemovedMemberIsNeverPicked) {
  BalancerGroup g({1, 1, 1});
  Rng rng(3);
  auto b = make(Strategy::kP2cEwma, g, rng);
  const auto before = g.simulate(*b, g.all(), {10ms, 10ms, 10ms}, 3000);
  EXPECT_GT(before[1], 0);
  const auto after = g.simulate(*b, g.all_but(1), {10ms, 10ms, 10ms}, 3000);
  EXPECT_EQ(after[1], 0);
  EXPECT_NEAR(after[0], 1500, 300);
}

// ---- usage

TEST(BalancerUsage, PrefersMostHeadroom) {
  BalancerGroup g({1, 1, 1});
  for (std::size_t i = 0; i < 3; ++i) g.member(i).rpm = 100;
  g.load(0).add_usage(kNow, 50, 0);
  g.load(1).add_usage(kNow, 10, 0);
  g.load(2).add_usage(kNow, 30, 0);
  Rng rng;
  auto b = make(Strategy::kUsage, g, rng);
  EXPECT_EQ(count_picks(*b, g.size(), g.all(), 100), (std::vector<int>{0, 100, 0}));
  EXPECT_EQ(count_picks(*b, g.size(), g.all_but(1), 100), (std::vector<int>{0, 0, 100}));
}

TEST(BalancerUsage, TightestLimitCounts) {
  BalancerGroup g({1, 1});
  g.member(0).rpm = 1000;
  g.member(0).tpm = 100'000;
  g.member(1).rpm = 1000;
  g.member(1).tpm = 100'000;
  g.load(0).add_usage(kNow, 10, 90'000);  // few requests, but 90% of its tokens
  g.load(1).add_usage(kNow, 500, 10'000);
  Rng rng;
  auto b = make(Strategy::kUsage, g, rng);
  EXPECT_EQ(count_picks(*b, g.size(), g.all(), 100), (std::vector<int>{0, 100}));
}

TEST(BalancerUsage, MemberWithoutLimitsHasFullHeadroom) {
  BalancerGroup g({1, 1});
  g.member(0).tpm = 1'000'000;
  g.load(0).add_usage(kNow, 1, 100'000);
  g.load(1).add_usage(kNow, 1000, 10'000'000);  // no limits: counts for nothing
  Rng rng;
  auto b = make(Strategy::kUsage, g, rng);
  EXPECT_EQ(count_picks(*b, g.size(), g.all(), 100), (std::vector<int>{0, 100}));
}

TEST(BalancerUsage, EqualHeadroomSpreadsByP2cEwma) {
  BalancerGroup g({1, 1, 1});
  for (std::size_t i = 0; i < 3; ++i) g.member(i).rpm = 600;
  Rng rng(4);
  auto b = make(Strategy::kUsage, g, rng);
  const auto even = count_picks(*b, g.size(), g.all(), 30'000);
  for (int p : even) EXPECT_NEAR(p, 10'000, 400);
  // Same headroom, but member 2 is slow and busy: p2c-ewma keeps it out.
  for (std::size_t i = 0; i < 3; ++i) g.load(i).observe(kNow, i == 2 ? 900ms : 30ms);
  g.busy(2, 4);
  const auto picks = count_picks(*b, g.size(), g.all(), 30'000);
  EXPECT_EQ(picks[2], 0);
  EXPECT_NEAR(picks[0], 15'000, 500);
}

TEST(BalancerUsage, HeadroomOverUsageWindow) {
  BalancerGroup g({1, 1});
  g.member(0).rpm = 100;
  g.member(1).rpm = 100;
  g.load(0).add_usage(kNow, 90, 0);
  g.load(1).add_usage(kNow + 30s, 60, 0);
  Rng rng;
  auto b = make(Strategy::kUsage, g, rng);
  // Two minutes on, both windows are empty again: equal headroom, both picked.
  const auto later = count_picks(*b, g.size(), g.all(), 1000, {.now = kNow + 150s});
  EXPECT_GT(later[0], 300);
  EXPECT_GT(later[1], 300);
  // Within the minute, member 0 is nearly spent.
  EXPECT_EQ(count_picks(*b, g.size(), g.all(), 100, {.now = kNow + 40s}),
            (std::vector<int>{0, 100}));
}

// ---- cost

TEST(BalancerCost, PicksCheapest) {
  BalancerGroup g({1, 1, 1});
  g.member(0).input_cost_per_mtok = 3;
  g.member(0).output_cost_per_mtok = 15;
  g.member(1).input_cost_per_mtok = 0.5;
  g.member(1).output_cost_per_mtok = 1.5;
  g.member(2).input_cost_per_mtok = 1;
  g.member(2).output_cost_per_mtok = 4;
  g.busy(1, 10);  // busy, but cheapest wins anyway
  Rng rng;
  auto b = make(Strategy::kCost, g, rng);
  EXPECT_EQ(count_picks(*b, g.size(), g.all(), 100), (std::vector<int>{0, 100, 0}));
  // Unavailable: the next cheapest.
  EXPECT_EQ(count_picks(*b, g.size(), g.all_but(1), 100), (std::vector<int>{0, 0, 100}));
}

TEST(BalancerCost, SpreadsAmongEqualCheapest) {
  BalancerGroup g({1, 1, 1, 1});
  for (std::size_t i = 0; i < 4; ++i) {
    g.member(i).input_cost_per_mtok = i == 3 ? 2.0 : 0.15;
    g.member(i).output_cost_per_mtok = i == 3 ? 8.0 : 0.6;
  }
  Rng rng(8);
  auto b = make(Strategy::kCost, g, rng);
  const auto picks = g.simulate(*b, g.all(), {40ms, 40ms, 400ms, 10ms}, 20'000);
  EXPECT_EQ(picks[3], 0);            // fast, but dear
  EXPECT_LT(picks[2], 20'000 / 10);  // cheap, but slow: p2c-ewma among the cheapest
  EXPECT_NEAR(picks[0], picks[1], 1000);
}

}  // namespace
}  // namespace sluice::route
