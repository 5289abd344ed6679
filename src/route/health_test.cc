#include "route/health.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "route/rng.h"

namespace sluice::route {
namespace {

using namespace std::chrono_literals;
using time_point = core::Clock::time_point;

const time_point t0 = time_point{} + 1000s;

// Outlier detection alone, with the defaults' numbers: the breaker is tested on its own
// (circuit_breaker_test.cc) and would otherwise open at the same time.
config::Health outlier_only() {
  config::Health h;
  h.outlier.consecutive_failures = 5;
  h.outlier.base_ejection = 30s;
  h.outlier.max_ejection = 300s;
  h.outlier.max_ejection_percent = 10;
  h.breaker.enabled = false;
  return h;
}

void fail(HealthGroup& g, std::size_t i, time_point now, int n) {
  for (int k = 0; k < n; ++k) g.on_failure(i, now);
}

bool ejected(const HealthGroup& g, std::size_t i, time_point now) {
  return g.state(i, now).ejected_until.has_value();
}

TEST(HealthGroup, StartsAvailable) {
  HealthGroup g(config::Health{}, 3);
  EXPECT_EQ(g.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(g.available(i, t0));
    auto s = g.state(i, t0);
    EXPECT_TRUE(s.available);
    EXPECT_EQ(s.breaker, BreakerState::kClosed);
    EXPECT_FALSE(s.ejected_until);
    EXPECT_FALSE(s.cooldown_until);
    EXPECT_FALSE(s.probe_down);
    EXPECT_EQ(s.consecutive_failures, 0);
    EXPECT_EQ(s.times_ejected, 0);
    EXPECT_EQ(s.failure_ratio, 0.0);
  }
}

TEST(HealthGroup, EjectsAfterConsecutiveFailuresNotBefore) {
  HealthGroup g(outlier_only(), 3);
  fail(g, 1, t0, 4);
  EXPECT_TRUE(g.available(1, t0));
  EXPECT_EQ(g.state(1, t0).consecutive_failures, 4);
  g.on_failure(1, t0);
  EXPECT_FALSE(g.available(1, t0));
  EXPECT_FALSE(g.admit(1, t0));
  auto s = g.state(1, t0);
  EXPECT_FALSE(s.available);
  EXPECT_EQ(s.ejected_until, t0 + 30s);
  EXPECT_EQ(s.times_ejected, 1);
  EXPECT_EQ(s.consecutive_failures, 0);
  EXPECT_TRUE(g.available(0, t0));
  EXPECT_TRUE(g.available(2, t0));
}

TEST(HealthGroup, SuccessResetsTheCount) {
  HealthGroup g(outlier_only(), 3);
  fail(g, 0, t0, 4);
  g.on_success(0, t0);
  EXPECT_EQ(g.state(0, t0).consecutive_failures, 0);
  fail(g, 0, t0, 4);
  EXPECT_TRUE(g.available(0, t0));
  g.on_failure(0, t0);
  EXPECT_FALSE(g.available(0, t0));
}

TEST(HealthGroup, ComesBackWhenTheEjectionExpires) {
  HealthGroup g(outlier_only(), 3);
  fail(g, 0, t0, 5);
  EXPECT_FALSE(g.available(0, t0 + 30s - 1ns));
  EXPECT_TRUE(g.available(0, t0 + 30s));
  EXPECT_TRUE(g.admit(0, t0 + 30s));
  EXPECT_FALSE(g.state(0, t0 + 30s).ejected_until);
}

TEST(HealthGroup, FailuresWhileEjectedAreNotCounted) {
  HealthGroup g(outlier_only(), 3);
  fail(g, 0, t0, 5);
  fail(g, 0, t0 + 1s, 10);  // attempts that were already out
  EXPECT_EQ(g.state(0, t0 + 1s).consecutive_failures, 0);
  EXPECT_EQ(g.state(0, t0 + 1s).times_ejected, 1);
  fail(g, 0, t0 + 30s, 4);
  EXPECT_TRUE(g.available(0, t0 + 30s));
}

TEST(HealthGroup, EjectionGrowsWithEachEjectionAndIsCapped) {
  auto c = outlier_only();
  c.outlier.max_ejection = 100s;
  HealthGroup g(c, 3);
  time_point t = t0;
  // 30, 60, 90, then capped at 100. Each comes back and fails again at once, before any decay.
  for (auto expected : {30s, 60s, 90s, 100s, 100s}) {
    fail(g, 0, t, 5);
    ASSERT_EQ(g.state(0, t).ejected_until, t + expected);
    t += expected;
    EXPECT_TRUE(g.available(0, t));
  }
  EXPECT_EQ(g.state(0, t).times_ejected, 5);
}

TEST(HealthGroup, EjectionCountDecaysWhileHealthy) {
  auto c = outlier_only();
  c.outlier.base_ejection = 10s;
  HealthGroup g(c, 3);
  fail(g, 0, t0, 5);        // 10 s, back at t0 + 10
  fail(g, 0, t0 + 10s, 5);  // 20 s, back at t0 + 30
  const time_point back = t0 + 30s;
  EXPECT_EQ(g.state(0, back).times_ejected, 2);
  // One step per base_ejection spent back, failures below the threshold included.
  fail(g, 0, back + 5s, 2);
  EXPECT_EQ(g.state(0, back + 10s - 1ms).times_ejected, 2);
  EXPECT_EQ(g.state(0, back + 10s).times_ejected, 1);
  EXPECT_EQ(g.state(0, back + 20s).times_ejected, 0);
  EXPECT_EQ(g.state(0, back + 500s).times_ejected, 0);
  // Ejected again after one step: 2 x base, not 3 x.
  g.on_success(0, back + 15s);
  fail(g, 0, back + 15s, 5);
  auto s = g.state(0, back + 15s);
  EXPECT_EQ(s.times_ejected, 2);
  EXPECT_EQ(s.ejected_until, back + 15s + 20s);
  // No decay while ejected: the clock restarts when it comes back.
  EXPECT_EQ(g.state(0, back + 35s - 1ms).times_ejected, 2);
  EXPECT_EQ(g.state(0, back + 45s).times_ejected, 1);
}

TEST(HealthGroup, AtLeastOneMayBeEjectedButNoMoreThanThePercent) {
  HealthGroup g(outlier_only(), 3);  // 10% of 3 rounds down to 0: one anyway
  fail(g, 0, t0, 5);
  EXPECT_FALSE(g.available(0, t0));
  fail(g, 1, t0 + 1s, 5);
  EXPECT_TRUE(g.available(1, t0 + 1s));
  EXPECT_FALSE(ejected(g, 1, t0 + 1s));
  EXPECT_EQ(g.state(1, t0 + 1s).consecutive_failures, 5);
  // Once the first is back, the second's next failure ejects it.
  g.on_failure(1, t0 + 30s);
  EXPECT_FALSE(g.available(1, t0 + 30s));
  EXPECT_TRUE(g.available(0, t0 + 30s));
}

TEST(HealthGroup, MaxEjectionPercentOfTen) {
  auto c = outlier_only();
  c.outlier.max_ejection_percent = 20;
  HealthGroup g(c, 10);
  fail(g, 3, t0, 5);
  fail(g, 7, t0, 5);
  fail(g, 8, t0, 5);
  EXPECT_TRUE(ejected(g, 3, t0));
  EXPECT_TRUE(ejected(g, 7, t0));
  EXPECT_FALSE(ejected(g, 8, t0));
  EXPECT_TRUE(g.available(8, t0));
}

TEST(HealthGroup, DisabledOutlierNeverEjects) {
  auto c = outlier_only();
  c.outlier.enabled = false;
  HealthGroup g(c, 3);
  fail(g, 0, t0, 100);
  EXPECT_TRUE(g.available(0, t0));
  EXPECT_TRUE(g.admit(0, t0));
  EXPECT_EQ(g.state(0, t0).times_ejected, 0);
}

TEST(HealthGroup, CooldownForRetryAfterOrTheDefaultCapped) {
  auto c = outlier_only();
  c.cooldown = 5s;
  c.max_cooldown = 60s;
  HealthGroup g(c, 3);
  g.on_rate_limited(0, t0, std::chrono::milliseconds(2000));
  EXPECT_FALSE(g.available(0, t0 + 2s - 1ms));
  EXPECT_FALSE(g.admit(0, t0 + 2s - 1ms));
  EXPECT_EQ(g.state(0, t0).cooldown_until, t0 + 2s);
  EXPECT_TRUE(g.available(0, t0 + 2s));

  g.on_rate_limited(1, t0, std::nullopt);
  EXPECT_EQ(g.state(1, t0).cooldown_until, t0 + 5s);
  EXPECT_TRUE(g.available(1, t0 + 5s));

  g.on_rate_limited(2, t0, std::chrono::milliseconds(3'600'000));
  EXPECT_EQ(g.state(2, t0).cooldown_until, t0 + 60s);
  EXPECT_FALSE(g.available(2, t0 + 60s - 1ms));
  EXPECT_TRUE(g.available(2, t0 + 60s));
}

TEST(HealthGroup, RateLimitIsNotAFailure) {
  auto c = outlier_only();
  c.breaker.enabled = true;
  c.breaker.min_requests = 1;
  HealthGroup g(c, 3);
  for (int k = 0; k < 20; ++k) g.on_rate_limited(0, t0, std::chrono::milliseconds(0));
  auto s = g.state(0, t0);
  EXPECT_TRUE(s.available);
  EXPECT_EQ(s.consecutive_failures, 0);
  EXPECT_EQ(s.breaker, BreakerState::kClosed);
  EXPECT_EQ(s.failure_ratio, 0.0);
}

TEST(HealthGroup, ProbesMarkDownAndUp) {
  auto c = outlier_only();
  c.probe.enabled = true;
  c.probe.unhealthy_after = 2;
  c.probe.healthy_after = 2;
  HealthGroup g(c, 2);
  g.on_probe(0, false, t0);
  EXPECT_TRUE(g.available(0, t0));
  g.on_probe(0, true, t0);  // breaks the streak
  g.on_probe(0, false, t0);
  EXPECT_TRUE(g.available(0, t0));
  g.on_probe(0, false, t0);
  EXPECT_FALSE(g.available(0, t0));
  EXPECT_FALSE(g.admit(0, t0));
  EXPECT_TRUE(g.state(0, t0).probe_down);
  g.on_probe(0, true, t0);
  EXPECT_FALSE(g.available(0, t0));
  g.on_probe(0, false, t0);  // breaks the good streak
  g.on_probe(0, true, t0);
  EXPECT_FALSE(g.available(0, t0));
  g.on_probe(0, true, t0);
  EXPECT_TRUE(g.available(0, t0));
  EXPECT_FALSE(g.state(0, t0).probe_down);
  EXPECT_TRUE(g.available(1, t0));
}

TEST(HealthGroup, ProbesIgnoredWhenDisabled) {
  auto c = outlier_only();
  c.probe.enabled = false;
  HealthGroup g(c, 1);
  for (int k = 0; k < 10; ++k) g.on_probe(0, false, t0);
  EXPECT_TRUE(g.available(0, t0));
}

TEST(HealthGroup, BreakerHoldsTheMemberBack) {
  config::Health c;
  c.outlier.enabled = false;
  c.breaker.min_requests = 4;
  c.breaker.failure_ratio = 0.5;
  c.breaker.open_for = 30s;
  c.breaker.half_open_probes = 2;
  HealthGroup g(c, 2);
  for (bool ok : {true, true, false, false}) {
    ASSERT_TRUE(g.admit(0, t0));
    ok ? g.on_success(0, t0) : g.on_failure(0, t0);
  }
  auto s = g.state(0, t0);
  EXPECT_EQ(s.breaker, BreakerState::kOpen);
  EXPECT_DOUBLE_EQ(s.failure_ratio, 0.5);
  EXPECT_FALSE(s.available);
  EXPECT_FALSE(g.admit(0, t0));
  EXPECT_TRUE(g.available(1, t0));

  const time_point t = t0 + 30s;
  EXPECT_EQ(g.state(0, t).breaker, BreakerState::kHalfOpen);
  EXPECT_TRUE(g.admit(0, t));
  EXPECT_TRUE(g.admit(0, t));
  EXPECT_FALSE(g.available(0, t));
  EXPECT_FALSE(g.admit(0, t));
  g.on_abandoned(0, t);
  EXPECT_TRUE(g.admit(0, t));
  g.on_success(0, t);
  g.on_success(0, t);
  EXPECT_EQ(g.state(0, t).breaker, BreakerState::kClosed);
  EXPECT_TRUE(g.available(0, t));
}

TEST(HealthGroup, RateLimitFreesAHalfOpenSlot) {
  config::Health c;
  c.outlier.enabled = false;
  c.breaker.min_requests = 1;
  c.breaker.half_open_probes = 1;
  HealthGroup g(c, 1);
  g.on_failure(0, t0);
  const time_point t = t0 + c.breaker.open_for;
  ASSERT_TRUE(g.admit(0, t));
  EXPECT_FALSE(g.admit(0, t));
  g.on_rate_limited(0, t, std::chrono::milliseconds(0));
  EXPECT_TRUE(g.admit(0, t));
}

TEST(HealthGroup, DisabledBreakerAndOutlierNeverHoldBack) {
  config::Health c;
  c.outlier.enabled = false;
  c.breaker.enabled = false;
  HealthGroup g(c, 1);
  for (int k = 0; k < 1000; ++k) {
    ASSERT_TRUE(g.admit(0, t0));
    g.on_failure(0, t0);
  }
  auto s = g.state(0, t0);
  EXPECT_TRUE(s.available);
  EXPECT_EQ(s.breaker, BreakerState::kClosed);
  EXPECT_FALSE(s.ejected_until);
}

// For the sanitizers: workers reporting outcomes while others pick. Checks only what must hold
// whatever the interleaving (the workers' clocks are not monotonic across threads, so not even
// the ejection limit is checked here).
TEST(HealthGroup, PanicIgnoresEjectionCooldownAndProbesButNotAnOpenBreaker) {
  config::Health h = outlier_only();
  h.probe.enabled = true;
  h.probe.unhealthy_after = 1;
  HealthGroup g(h, 4);
  fail(g, 0, t0, 5);                  // ejected
  g.on_rate_limited(1, t0, 10000ms);  // cooling down
  g.on_probe(2, false, t0);           // probed down
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(g.available(i, t0)) << i;
    EXPECT_FALSE(g.admit(i, t0)) << i;
    EXPECT_TRUE(g.available_in_panic(i, t0)) << i;
    EXPECT_TRUE(g.admit_in_panic(i, t0)) << i;
    g.on_success(i, t0);
  }

  config::Health b;
  b.breaker.min_requests = 2;
  b.breaker.failure_ratio = 0.5;
  b.outlier.enabled = false;
  HealthGroup open(b, 1);
  open.on_failure(0, t0);
  open.on_failure(0, t0);
  EXPECT_EQ(open.state(0, t0).breaker, BreakerState::kOpen);
  EXPECT_FALSE(open.available_in_panic(0, t0));
  EXPECT_FALSE(open.admit_in_panic(0, t0));
}

TEST(HealthGroup, ConcurrentOutcomesAndPicks) {
  config::Health c;
  c.outlier.consecutive_failures = 3;
  c.outlier.base_ejection = 10ms;
  c.outlier.max_ejection = 50ms;
  c.outlier.max_ejection_percent = 25;
  c.breaker.min_requests = 5;
  c.breaker.window = 100ms;
  c.breaker.open_for = 20ms;
  c.probe.enabled = true;
  constexpr std::size_t kMembers = 8;
  HealthGroup g(c, kMembers);
  std::atomic<std::int64_t> clock_us{0};
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> picks{0};

  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      Rng rng(w + 1);
      for (int k = 0; k < 20000; ++k) {
        const time_point now = t0 + std::chrono::microseconds(clock_us.fetch_add(10));
        const std::size_t i = rng.next() % kMembers;
        if (!g.available(i, now) || !g.admit(i, now)) continue;
        switch (rng.next() % 8) {
          case 0:
          case 1:
          case 2:
            g.on_failure(i, now);
            break;
          case 3:
            g.on_rate_limited(i, now, std::chrono::milliseconds(rng.next() % 5));
            break;
          case 4:
            g.on_abandoned(i, now);
            break;
          default:
            g.on_success(i, now);
        }
        if (k % 64 == 0) g.on_probe(i, rng.next() % 4 != 0, now);
      }
    });
  }
  threads.emplace_back([&] {
    while (!stop.load()) {
      const time_point now = t0 + std::chrono::microseconds(clock_us.load());
      for (std::size_t i = 0; i < kMembers; ++i) {
        if (g.available(i, now)) picks.fetch_add(1, std::memory_order_relaxed);
        auto s = g.state(i, now);
        EXPECT_GE(s.times_ejected, 0);
        EXPECT_GE(s.failure_ratio, 0.0);
        EXPECT_LE(s.failure_ratio, 1.0);
      }
    }
  });
  for (std::size_t k = 0; k + 1 < threads.size(); ++k) threads[k].join();
  stop = true;
  threads.back().join();

  // Long after every ejection, cooldown and open period, probes aside, all are back.
  const time_point later = t0 + std::chrono::microseconds(clock_us.load()) + 1s;
  for (std::size_t i = 0; i < kMembers; ++i) {
    for (int k = 0; k < c.probe.healthy_after; ++k) g.on_probe(i, true, later);
    EXPECT_TRUE(g.available(i, later)) << i;
  }
}

}  // namespace
}  // namespace sluice::route
