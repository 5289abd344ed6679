#include "route/adaptive_limit.h"

#include <gtest/gtest.h>

#include "route/rng.h"

namespace sluice::route {
namespace {

using namespace std::chrono_literals;

config::AdaptiveConcurrency make_config(int initial, int min, int max) {
  config::AdaptiveConcurrency c;
  c.enabled = true;
  c.initial_limit = initial;
  c.min_limit = min;
  c.max_limit = max;
  return c;
}

// `n` samples of latency `rtt`, each taken with the deployment full (in flight = the limit).
void at_the_limit(AdaptiveLimit& limit, std::chrono::nanoseconds rtt, int n) {
  for (int i = 0; i < n; ++i) limit.on_sample(rtt, limit.limit());
}

TEST(AdaptiveLimit, StartsAtTheInitialLimit) {
  EXPECT_EQ(AdaptiveLimit(make_config(20, 1, 1000)).limit(), 20);
  EXPECT_EQ(AdaptiveLimit(make_config(7, 1, 1000)).limit(), 7);
}

TEST(AdaptiveLimit, AnInitialLimitOutsideTheBoundsIsClamped) {
  EXPECT_EQ(AdaptiveLimit(make_config(5, 10, 100)).limit(), 10);
  EXPECT_EQ(AdaptiveLimit(make_config(500, 10, 100)).limit(), 100);
  EXPECT_EQ(AdaptiveLimit(make_config(5, 10, 3)).limit(), 10);  // max below min: min wins
}

TEST(AdaptiveLimit, GrowsTowardTheMaxWhileLatencyStaysFlat) {
  AdaptiveLimit limit(make_config(20, 1, 1000));
  at_the_limit(limit, 10ms, 50);
  const int after_50 = limit.limit();
  EXPECT_GT(after_50, 20);
  at_the_limit(limit, 10ms, 50);
  EXPECT_GT(limit.limit(), after_50);  // still climbing
  at_the_limit(limit, 10ms, 2000);
  EXPECT_EQ(limit.limit(), 1000);
}

TEST(AdaptiveLimit, ShrinksWhenLatencyClimbsUnderLoad) {
  AdaptiveLimit limit(make_config(100, 1, 100));
  at_the_limit(limit, 10ms, 600);  // settled at the max, both averages at 10ms
  ASSERT_EQ(limit.limit(), 100);
  at_the_limit(limit, 80ms, 10);
  const int after_10 = limit.limit();
  EXPECT_LT(after_10, 90);
  at_the_limit(limit, 80ms, 20);
  EXPECT_LT(limit.limit(), after_10);
  EXPECT_LT(limit.limit(), 50);
}

TEST(AdaptiveLimit, GrowsAgainOnceTheOverloadPasses) {
  AdaptiveLimit limit(make_config(100, 1, 100));
  at_the_limit(limit, 10ms, 600);
  at_the_limit(limit, 100ms, 60);
  const int overloaded = limit.limit();
  ASSERT_LT(overloaded, 40);
  // The long-run average still remembers the overload; it is pulled down toward the recent one,
  // and the limit recovers instead of staying pinned low.
  at_the_limit(limit, 10ms, 200);
  EXPECT_GT(limit.limit(), overloaded * 2);
}

TEST(AdaptiveLimit, SamplesFarBelowTheLimitDoNotMoveIt) {
  AdaptiveLimit limit(make_config(20, 1, 1000));
  for (int i = 0; i < 1000; ++i) limit.on_sample(10ms, 9);  // under half of 20
  EXPECT_EQ(limit.limit(), 20);
  for (int i = 0; i < 1000; ++i) limit.on_sample(200ms, 1);  // nor shrink it
  EXPECT_EQ(limit.limit(), 20);
  limit.on_sample(10ms, 10);  // half is near enough to count
  EXPECT_GT(limit.limit(), 20);
}

TEST(AdaptiveLimit, NeverLeavesItsBounds) {
  AdaptiveLimit limit(make_config(20, 5, 60));
  Rng rng(11);
  for (int i = 0; i < 20'000; ++i) {
    // Latencies from 0 to 1s with bursts, in flight anywhere up to twice the limit.
    const auto rtt = std::chrono::nanoseconds(rng.below(1'000'000'000u) >> (rng.below(4) * 6));
    limit.on_sample(rtt, static_cast<int>(rng.below(2 * limit.limit() + 1)));
    ASSERT_GE(limit.limit(), 5);
    ASSERT_LE(limit.limit(), 60);
  }
  // A zero latency (a coarse clock) must not poison the averages.
  at_the_limit(limit, 0ns, 100);
  at_the_limit(limit, 10ms, 1000);
  EXPECT_EQ(limit.limit(), 60);
}

TEST(AdaptiveLimit, HeavyOverloadBottomsOutAtTheMin) {
  // The formula alone settles at 4 under the steepest gradient (limit / 2 = sqrt(limit)); a
  // min above that is where the limit stops.
  AdaptiveLimit limit(make_config(50, 8, 100));
  at_the_limit(limit, 1ms, 100);
  // Latency climbing without end: the long-run average never catches up.
  for (int i = 1; i <= 300; ++i) limit.on_sample(std::chrono::milliseconds(i * i), 1000);
  EXPECT_EQ(limit.limit(), 8);
}

}  // namespace
}  // namespace sluice::route
