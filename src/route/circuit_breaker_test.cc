#include "route/circuit_breaker.h"

#include <gtest/gtest.h>

#include <chrono>

namespace sluice::route {
namespace {

using namespace std::chrono_literals;
using time_point = core::Clock::time_point;

const time_point t0 = time_point{} + 1000s;

config::CircuitBreaker breaker_config() {
  config::CircuitBreaker c;
  c.failure_ratio = 0.5;
  c.min_requests = 10;
  c.window = 10s;
  c.open_for = 30s;
  c.half_open_probes = 3;
  return c;
}

void record(CircuitBreaker& b, time_point now, int successes, int failures) {
  for (int i = 0; i < successes; ++i) {
    ASSERT_TRUE(b.admit(now));
    b.on_success(now);
  }
  for (int i = 0; i < failures; ++i) {
    ASSERT_TRUE(b.admit(now));
    b.on_failure(now);
  }
}

TEST(CircuitBreaker, OpensWhenTheRatioIsReachedWithMinRequests) {
  CircuitBreaker b(breaker_config());
  record(b, t0, 5, 4);  // 9 requests: below min_requests
  EXPECT_EQ(b.state(t0), BreakerState::kClosed);
  EXPECT_NEAR(b.failure_ratio(t0), 4.0 / 9, 1e-9);
  record(b, t0, 0, 1);  // 10 requests, 5 failures: exactly the ratio
  EXPECT_EQ(b.state(t0), BreakerState::kOpen);
  EXPECT_FALSE(b.available(t0));
  EXPECT_FALSE(b.admit(t0));
}

TEST(CircuitBreaker, StaysClosedBelowTheRatio) {
  CircuitBreaker b(breaker_config());
  record(b, t0, 6, 4);
  record(b, t0, 2, 1);  // 13 requests, 5 failures
  EXPECT_EQ(b.state(t0), BreakerState::kClosed);
  EXPECT_TRUE(b.available(t0));
}

TEST(CircuitBreaker, StaysClosedBelowMinRequests) {
  auto c = breaker_config();
  c.min_requests = 20;
  CircuitBreaker b(c);
  record(b, t0, 0, 19);  // every one failed, but too few to judge
  EXPECT_EQ(b.state(t0), BreakerState::kClosed);
  EXPECT_DOUBLE_EQ(b.failure_ratio(t0), 1.0);
  record(b, t0, 0, 1);
  EXPECT_EQ(b.state(t0), BreakerState::kOpen);
}

TEST(CircuitBreaker, ASuccessCanCompleteMinRequests) {
  CircuitBreaker b(breaker_config());
  record(b, t0, 4, 5);
  EXPECT_EQ(b.state(t0), BreakerState::kClosed);
  record(b, t0, 1, 0);  // 10 requests, 5 failures
  EXPECT_EQ(b.state(t0), BreakerState::kOpen);
}

TEST(CircuitBreaker, TheWindowForgetsOldOutcomes) {
  CircuitBreaker b(breaker_config());
  record(b, t0, 0, 9);
  // One window later those nine are out of it: one more failure is one request.
  const time_point later = t0 + 10s;
  EXPECT_DOUBLE_EQ(b.failure_ratio(later), 0.0);
  record(b, later, 0, 1);
  EXPECT_EQ(b.state(later), BreakerState::kClosed);
  // Within the window they add up: buckets are window / 10 = 1 s wide.
  record(b, later + 5s, 0, 9);
  EXPECT_EQ(b.state(later + 5s), BreakerState::kOpen);
}

TEST(CircuitBreaker, HalfOpenAfterOpenFor) {
  CircuitBreaker b(breaker_config());
  record(b, t0, 0, 10);
  ASSERT_EQ(b.state(t0), BreakerState::kOpen);
  EXPECT_FALSE(b.available(t0 + 30s - 1ms));
  EXPECT_FALSE(b.admit(t0 + 30s - 1ms));
  EXPECT_EQ(b.state(t0 + 30s), BreakerState::kHalfOpen);
  EXPECT_TRUE(b.available(t0 + 30s));
}

TEST(CircuitBreaker, HalfOpenAdmitsExactlyTheProbes) {
  CircuitBreaker b(breaker_config());
  record(b, t0, 0, 10);
  const time_point t = t0 + 30s;
  EXPECT_TRUE(b.admit(t));
  EXPECT_TRUE(b.admit(t));
  EXPECT_TRUE(b.available(t));
  EXPECT_TRUE(b.admit(t));
  EXPECT_FALSE(b.available(t));
  EXPECT_FALSE(b.admit(t));
  EXPECT_EQ(b.state(t), BreakerState::kHalfOpen);
}

TEST(CircuitBreaker, ClosesAfterTheProbesSucceed) {
  CircuitBreaker b(breaker_config());
  record(b, t0, 0, 10);
  const time_point t = t0 + 30s;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(b.admit(t));
  b.on_success(t);
  b.on_success(t);
  EXPECT_EQ(b.state(t), BreakerState::kHalfOpen);
  // A freed slot may be used again while the last probe is out.
  EXPECT_TRUE(b.admit(t));
  b.on_success(t);
  EXPECT_EQ(b.state(t), BreakerState::kClosed);
  EXPECT_DOUBLE_EQ(b.failure_ratio(t), 0.0);  // the window starts empty
  EXPECT_TRUE(b.available(t));
  b.on_success(t);  // the fourth admitted attempt, now in a closed breaker
  EXPECT_EQ(b.state(t), BreakerState::kClosed);
}

TEST(CircuitBreaker, ReopensOnAProbeFailure) {
  CircuitBreaker b(breaker_config());
  record(b, t0, 0, 10);
  const time_point t = t0 + 40s;
  ASSERT_TRUE(b.admit(t));
  ASSERT_TRUE(b.admit(t));
  b.on_success(t);
  b.on_failure(t);
  EXPECT_EQ(b.state(t), BreakerState::kOpen);
  EXPECT_FALSE(b.admit(t));
  // open_for counts again from the failure.
  EXPECT_FALSE(b.available(t + 30s - 1ms));
  EXPECT_EQ(b.state(t + 30s), BreakerState::kHalfOpen);
  // The new half-open period starts with every slot free and no success counted.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.admit(t + 30s));
  EXPECT_FALSE(b.admit(t + 30s));
}

TEST(CircuitBreaker, AbandonedFreesASlotWithoutAVerdict) {
  CircuitBreaker b(breaker_config());
  record(b, t0, 0, 10);
  const time_point t = t0 + 30s;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(b.admit(t));
  EXPECT_FALSE(b.admit(t));
  b.on_abandoned(t);
  EXPECT_EQ(b.state(t), BreakerState::kHalfOpen);
  EXPECT_TRUE(b.available(t));
  EXPECT_TRUE(b.admit(t));
  EXPECT_FALSE(b.admit(t));
  // Three successes are still needed.
  b.on_success(t);
  b.on_success(t);
  EXPECT_EQ(b.state(t), BreakerState::kHalfOpen);
  b.on_success(t);
  EXPECT_EQ(b.state(t), BreakerState::kClosed);
}

TEST(CircuitBreaker, LateOutcomesWhileOpenAreIgnored) {
  CircuitBreaker b(breaker_config());
  record(b, t0, 0, 10);
  b.on_success(t0 + 1s);
  b.on_failure(t0 + 29s);  // does not push open_for back
  EXPECT_EQ(b.state(t0 + 30s), BreakerState::kHalfOpen);
}

TEST(CircuitBreaker, DisabledNeverHoldsBack) {
  auto c = breaker_config();
  c.enabled = false;
  CircuitBreaker b(c);
  record(b, t0, 0, 100);
  EXPECT_EQ(b.state(t0), BreakerState::kClosed);
  EXPECT_TRUE(b.available(t0));
  EXPECT_TRUE(b.admit(t0));
}

TEST(CircuitBreaker, StateNames) {
  EXPECT_EQ(breaker_state_name(BreakerState::kClosed), "closed");
  EXPECT_EQ(breaker_state_name(BreakerState::kOpen), "open");
  EXPECT_EQ(breaker_state_name(BreakerState::kHalfOpen), "half-open");
}

}  // namespace
}  // namespace sluice::route
