#include "limit/gcra.h"

#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace sluice::limit {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// An arbitrary instant; every test builds its time points from it by hand.
const core::Clock::time_point kT0 = core::Clock::time_point{} + 1h;
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

// How many of `attempts` acquires of `cost` at `now` are allowed.
int allowed(GcraLimiter& limiter, std::string_view key, const Rate& rate, int attempts,
            core::Clock::time_point now, std::uint64_t cost = 1) {
  int n = 0;
  for (int i = 0; i < attempts; ++i) n += limiter.acquire(key, rate, cost, now).allowed;
  return n;
}

TEST(Gcra, DefaultBurstAllowsAWholeMinuteAtOnceThenOneIntervalApart) {
  GcraLimiter limiter;
  const Rate rate{.per_minute = 60};
  for (int i = 0; i < 60; ++i) {
    const Decision d = limiter.acquire("k", rate, 1, kT0);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, 59 - i);
    EXPECT_EQ(d.retry_after, 0ms);
  }
  const Decision refused = limiter.acquire("k", rate, 1, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.retry_after, 1000ms);
  // Just before the interval has passed, still refused; at it, allowed.
  EXPECT_FALSE(limiter.acquire("k", rate, 1, kT0 + 999ms).allowed);
  EXPECT_TRUE(limiter.acquire("k", rate, 1, kT0 + 1000ms).allowed);
  EXPECT_FALSE(limiter.acquire("k", rate, 1, kT0 + 1000ms).allowed);
}

TEST(Gcra, RetryAfterIsOneIntervalWhenTheMinuteDoesNotDivide) {
  GcraLimiter limiter;
  const Rate rate{.per_minute = 7};  // 8571.43 ms apart
  EXPECT_EQ(allowed(limiter, "k", rate, 10, kT0), 7);
  const Decision d = limiter.acquire("k", rate, 1, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_NEAR(static_cast<double>(d.retry_after.count()), 60'000.0 / 7, 1.0);
  // Rounded up: retrying after exactly retry_after succeeds.
  EXPECT_TRUE(limiter.acquire("k", rate, 1, kT0 + d.retry_after).allowed);
}

// peek() with cost 0 reads the bucket as it stands; with cost 1 it says what one more would leave.
TEST(Gcra, RefillsAtTheSteadyRate) {
  GcraLimiter limiter;
  const Rate rate{.per_minute = 60};
  EXPECT_EQ(allowed(limiter, "k", rate, 60, kT0), 60);
  // Half a minute later, half the allowance is back.
  EXPECT_EQ(limiter.peek("k", rate, 0, kT0 + 30s).remaining, 30);
  EXPECT_EQ(allowed(limiter, "k", rate, 40, kT0 + 30s), 30);
  // A full minute after the last take, the whole allowance.
  const Decision full = limiter.peek("k", rate, 0, kT0 + 90s);
  EXPECT_EQ(full.remaining, 60);
  EXPECT_EQ(full.reset_after, 0ms);
  EXPECT_EQ(allowed(limiter, "k", rate, 70, kT0 + 90s), 60);
}

TEST(Gcra, LowerBurstSmoothsTraffic) {
  GcraLimiter limiter;
  const Rate rate{.per_minute = 60, .burst = 10};
  const Decision first = limiter.acquire("k", rate, 1, kT0);
  EXPECT_EQ(first.remaining, 9);
  EXPECT_EQ(allowed(limiter, "k", rate, 20, kT0), 9);
  const Decision refused = limiter.acquire("k", rate, 1, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 1000ms);
  EXPECT_EQ(refused.reset_after, 10s);
  // The burst, not the minute, caps what builds up while idle.
  EXPECT_EQ(allowed(limiter, "k", rate, 5, kT0 + 5s), 5);
  EXPECT_EQ(allowed(limiter, "k", rate, 20, kT0 + 10min), 10);
}

TEST(Gcra, TokenReservationsCostTheirSize) {
  GcraLimiter limiter;
  const Rate tpm{.per_minute = 100'000};  // 0.6 ms per token
  const Decision d = limiter.acquire("k", tpm, 40'000, kT0);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 60'000);
  EXPECT_EQ(d.reset_after, 24s);
  // 70,000 do not fit in 60,000; 10,000 more come back in 6 s. A refusal takes nothing.
  const Decision refused = limiter.acquire("k", tpm, 70'000, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 60'000);
  EXPECT_EQ(refused.retry_after, 6s);
  EXPECT_TRUE(limiter.acquire("k", tpm, 60'000, kT0).allowed);
  EXPECT_FALSE(limiter.acquire("k", tpm, 1, kT0).allowed);
}

TEST(Gcra, CostAboveTheBurstIsNeverAllowed) {
  GcraLimiter limiter;
  const Rate rate{.per_minute = 100'000, .burst = 50'000};
  const Decision d = limiter.acquire("k", rate, 50'001, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, milliseconds::max());
  EXPECT_EQ(d.remaining, 50'000);
  EXPECT_FALSE(limiter.acquire("k", rate, 50'001, kT0 + 24h).allowed);
  EXPECT_EQ(limiter.size(), 0u);
  // Exactly the burst fits into a full bucket.
  EXPECT_TRUE(limiter.acquire("k", rate, 50'000, kT0).allowed);
}

TEST(Gcra, ReleaseGivesBackButNeverBeforeNow) {
  GcraLimiter limiter;
  const Rate tpm{.per_minute = 100'000};
  // A reservation of 40,000 tokens that used 10,000.
  ASSERT_TRUE(limiter.acquire("k", tpm, 40'000, kT0).allowed);
  limiter.release("k", tpm, 30'000, kT0);
  EXPECT_EQ(limiter.peek("k", tpm, 0, kT0).remaining, 90'000);
  // Giving back more than was taken only fills the bucket.
  limiter.release("k", tpm, 1'000'000, kT0);
  EXPECT_EQ(limiter.peek("k", tpm, 0, kT0).remaining, 100'000);
  EXPECT_EQ(limiter.peek("k", tpm, 0, kT0).reset_after, 0ms);
  EXPECT_TRUE(limiter.acquire("k", tpm, 100'000, kT0).allowed);
  EXPECT_FALSE(limiter.acquire("k", tpm, 1, kT0).allowed);

  // A release after the bucket refilled banks nothing for later.
  ASSERT_TRUE(limiter.acquire("late", tpm, 1'000, kT0).allowed);
  limiter.release("late", tpm, 1'000, kT0 + 1min);
  EXPECT_EQ(limiter.peek("late", tpm, 0, kT0 + 1min).remaining, 100'000);
  EXPECT_TRUE(limiter.acquire("late", tpm, 100'000, kT0 + 1min).allowed);
  EXPECT_FALSE(limiter.acquire("late", tpm, 1, kT0 + 1min).allowed);

  // Releasing on an unknown key creates nothing.
  limiter.release("nobody", tpm, 5, kT0);
  EXPECT_EQ(limiter.size(), 2u);
}

// A token reservation reconciled with the real usage, on a clock driven by hand: tokens per
// minute reserve an estimate before the call, then give back what was not used or take what
// was used beyond it.
class GcraReservation : public ::testing::Test {
 protected:
  Decision reserve(std::uint64_t tokens) {
    return limiter_.acquire("k", kTpm, tokens, clock_.now());
  }
  Decision state() const { return limiter_.peek("k", kTpm, 0, clock_.now()); }

  // 60,000 a minute: one token per millisecond, so spans read as token counts.
  static constexpr Rate kTpm{.per_minute = 60'000};
  core::ManualClock clock_{kT0};
  GcraLimiter limiter_;
};

TEST_F(GcraReservation, UnusedTokensComeBackForTheNextRequest) {
  const Decision reserved = reserve(1000);
  ASSERT_TRUE(reserved.allowed);
  EXPECT_EQ(reserved.remaining, 59'000);
  EXPECT_EQ(reserved.reset_after, 1000ms);
  // The call used 300: the other 700 go back at once.
  limiter_.release("k", kTpm, 700, clock_.now());
  EXPECT_EQ(state().remaining, 59'700);
  EXPECT_EQ(state().reset_after, 300ms);
  // The next request can have all of it, and not one token more.
  const Decision next = reserve(59'700);
  EXPECT_TRUE(next.allowed);
  EXPECT_EQ(next.remaining, 0);
  EXPECT_EQ(next.reset_after, 60s);
  const Decision over = reserve(1);
  EXPECT_FALSE(over.allowed);
  EXPECT_EQ(over.retry_after, 1ms);
}

TEST_F(GcraReservation, UsageAboveTheEstimateIsTakenAndRefusesUntilPaidOff) {
  ASSERT_TRUE(reserve(50'000).allowed);
  // The call used 70,000: 20,000 more than reserved are taken anyway, 10,000 beyond the burst.
  limiter_.consume("k", kTpm, 20'000, clock_.now());
  const Decision owed = state();
  EXPECT_EQ(owed.remaining, 0);
  EXPECT_EQ(owed.reset_after, 70s);
  // A reservation of 1,000 fits once 70 s of debt is down to 59 s: in 11 s, not before.
  const Decision refused = reserve(1000);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, 11s);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.reset_after, 70s);
  clock_.advance(11s - 1ms);
  EXPECT_FALSE(reserve(1000).allowed);
  clock_.advance(1ms);
  const Decision later = reserve(1000);
  EXPECT_TRUE(later.allowed);
  EXPECT_EQ(later.remaining, 0);
  EXPECT_EQ(later.reset_after, 60s);
  // Paid off completely a minute after that.
  clock_.advance(60s);
  EXPECT_EQ(state().remaining, 60'000);
  EXPECT_EQ(state().reset_after, 0ms);
}

TEST_F(GcraReservation, ConsumeStartsFromNowOnAFullOrUnknownBucket) {
  // No entry yet (usage known only afterwards, say for a request that reserved nothing).
  limiter_.consume("k", kTpm, 5000, clock_.now());
  EXPECT_EQ(state().remaining, 55'000);
  EXPECT_EQ(state().reset_after, 5s);
  // A debt long paid off does not add up with a new one.
  clock_.advance(1h);
  limiter_.consume("k", kTpm, 2000, clock_.now());
  EXPECT_EQ(state().remaining, 58'000);
  // Nothing for a cost of 0 or an unlimited rate.
  limiter_.consume("other", kTpm, 0, clock_.now());
  limiter_.consume("other", Rate{}, 1000, clock_.now());
  EXPECT_EQ(limiter_.size(), 1u);
}

TEST_F(GcraReservation, HugeConsumesSaturateInsteadOfOverflowing) {
  const std::uint64_t big = std::numeric_limits<std::uint64_t>::max();
  for (int i = 0; i < 10; ++i) limiter_.consume("k", kTpm, big, clock_.now());
  const Decision d = reserve(1);
  EXPECT_FALSE(d.allowed);
  EXPECT_GT(d.retry_after, 24h * 365 * 50);
  EXPECT_GT(d.reset_after, 24h * 365 * 50);
  EXPECT_EQ(d.remaining, 0);
}

TEST(Gcra, KeysAreIndependent) {
  GcraLimiter limiter;
  const Rate rate{.per_minute = 5};
  EXPECT_EQ(allowed(limiter, "a", rate, 10, kT0), 5);
  EXPECT_EQ(allowed(limiter, "b", rate, 10, kT0), 5);
  EXPECT_EQ(limiter.peek("c", rate, 0, kT0).remaining, 5);
  EXPECT_EQ(limiter.size(), 2u);
}

TEST(Gcra, PeekDoesNotConsume) {
  GcraLimiter limiter;
  const Rate rate{.per_minute = 3};
  for (int i = 0; i < 10; ++i) {
    const Decision d = limiter.peek("k", rate, 1, kT0);
    EXPECT_TRUE(d.allowed);
    EXPECT_EQ(d.remaining, 2);  // what acquire would leave
  }
  EXPECT_EQ(limiter.size(), 0u);
  EXPECT_EQ(allowed(limiter, "k", rate, 10, kT0), 3);
  // Refused, peek says exactly what acquire says.
  const Decision peeked = limiter.peek("k", rate, 1, kT0 + 5s);
  const Decision acquired = limiter.acquire("k", rate, 1, kT0 + 5s);
  EXPECT_FALSE(peeked.allowed);
  EXPECT_EQ(peeked.allowed, acquired.allowed);
  EXPECT_EQ(peeked.remaining, acquired.remaining);
  EXPECT_EQ(peeked.retry_after, acquired.retry_after);
  EXPECT_EQ(peeked.reset_after, acquired.reset_after);
  EXPECT_EQ(peeked.retry_after, 15s);
}

TEST(Gcra, RemainingAndResetAfterTrackTheBucket) {
  GcraLimiter limiter;
  const Rate rate{.per_minute = 60};
  const Decision one = limiter.acquire("k", rate, 1, kT0);
  EXPECT_EQ(one.remaining, 59);
  EXPECT_EQ(one.reset_after, 1s);
  const Decision ten = limiter.acquire("k", rate, 9, kT0);
  EXPECT_EQ(ten.remaining, 50);
  EXPECT_EQ(ten.reset_after, 10s);
  // 2.5 s later 7.5 s are still owed: 52.5 units free, of which 52 whole.
  const Decision later = limiter.peek("k", rate, 1, kT0 + 2500ms);
  EXPECT_EQ(later.remaining, 51);  // after taking the one peeked at
  const Decision none = limiter.peek("k", rate, 0, kT0 + 2500ms);
  EXPECT_EQ(none.remaining, 52);
  EXPECT_EQ(none.reset_after, 7500ms);
  // Rounded up: 1 ns owed is a 1 ms reset.
  EXPECT_EQ(limiter.peek("k", rate, 0, kT0 + 10s - 1ns).reset_after, 1ms);
}

TEST(Gcra, ZeroPerMinuteIsUnlimited) {
  GcraLimiter limiter;
  const Rate rate{.per_minute = 0};
  for (int i = 0; i < 100'000; ++i) {
    const Decision d = limiter.acquire("k", rate, 1'000'000, kT0);
    ASSERT_TRUE(d.allowed);
    ASSERT_EQ(d.remaining, kMax);
    ASSERT_EQ(d.reset_after, 0ms);
  }
  limiter.release("k", rate, 5, kT0);
  EXPECT_EQ(limiter.peek("k", rate, 1, kT0).remaining, kMax);
  EXPECT_EQ(limiter.size(), 0u);
}

TEST(Gcra, HugeRatesAndCostsDoNotOverflow) {
  GcraLimiter limiter;
  const std::uint64_t big = std::numeric_limits<std::uint64_t>::max();
  const Rate rate{.per_minute = big};
  EXPECT_TRUE(limiter.acquire("k", rate, big, kT0).allowed);
  const Decision d = limiter.acquire("k", rate, big, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_GT(d.retry_after, 24h * 365);
  EXPECT_EQ(limiter.acquire("k", Rate{.per_minute = 60}, big, kT0).retry_after,
            milliseconds::max());
}

TEST(Gcra, SweepRemovesOnlyExpiredEntries) {
  GcraLimiter limiter;
  const Rate rate{.per_minute = 60};
  ASSERT_TRUE(limiter.acquire("short", rate, 1, kT0).allowed);  // full again at kT0 + 1 s
  ASSERT_TRUE(limiter.acquire("long", rate, 30, kT0).allowed);  // full again at kT0 + 30 s
  EXPECT_EQ(limiter.size(), 2u);
  EXPECT_EQ(limiter.sweep(kT0 + 999ms), 0u);
  EXPECT_EQ(limiter.sweep(kT0 + 1s), 1u);
  EXPECT_EQ(limiter.size(), 1u);
  EXPECT_EQ(limiter.peek("long", rate, 0, kT0 + 1s).remaining, 31);
  EXPECT_EQ(limiter.sweep(kT0 + 29s), 0u);
  EXPECT_EQ(limiter.sweep(kT0 + 30s), 1u);
  EXPECT_EQ(limiter.size(), 0u);
  // A swept key starts from a full bucket, as it would have anyway.
  EXPECT_EQ(allowed(limiter, "short", rate, 100, kT0 + 30s), 60);
}

TEST(Gcra, ConcurrentAcquiresNeverExceedTheAllowance) {
  GcraLimiter limiter;
  const Rate rate{.per_minute = 1000};
  constexpr int kThreads = 4;
  constexpr int kAttempts = 2000;
  std::atomic<int> total{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      int n = 0;
      // Frozen time: the allowance for the whole run is the one burst.
      for (int i = 0; i < kAttempts; ++i) n += limiter.acquire("shared", rate, 1, kT0).allowed;
      total.fetch_add(n);
    });
  }
  go.store(true);
  for (auto& t : threads) t.join();
  EXPECT_EQ(total.load(), 1000);
  EXPECT_EQ(limiter.peek("shared", rate, 0, kT0).remaining, 0);
}

}  // namespace
}  // namespace sluice::limit
