#include "route/retry_policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <thread>
#include <vector>

namespace sluice::route {
namespace {

using namespace std::chrono_literals;

// "Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110's example date.
constexpr std::int64_t kExampleMs = 784'111'777'000;

TEST(RetryPolicy, RetriesOnlyStatusesAnotherAttemptMayChange) {
  for (int status : {429, 500, 502, 503, 504}) EXPECT_TRUE(retryable_status(status)) << status;
  for (int status : {200, 201, 301, 400, 401, 403, 404, 408, 413, 422, 501, 505}) {
    EXPECT_FALSE(retryable_status(status)) << status;
  }
}

TEST(Backoff, StaysUnderTheCeilingAndAveragesHalfOfIt) {
  config::Retries config;  // 50ms base, 2s max
  Rng rng(42);
  constexpr int kSamples = 20'000;
  for (int retry = 1; retry <= 5; ++retry) {
    const std::int64_t ceiling = 50 << (retry - 1);
    std::int64_t sum = 0, lowest = LLONG_MAX, highest = 0;
    for (int i = 0; i < kSamples; ++i) {
      const std::int64_t d = backoff_delay(config, retry, rng).count();
      ASSERT_GE(d, 0);
      ASSERT_LE(d, ceiling) << "retry " << retry;
      sum += d;
      lowest = std::min(lowest, d);
      highest = std::max(highest, d);
    }
    const double mean = static_cast<double>(sum) / kSamples;
    // The standard error of the mean is under 0.3% of the ceiling here; 3% is far outside it.
    EXPECT_NEAR(mean, ceiling / 2.0, ceiling * 0.03) << "retry " << retry;
    // Full jitter: the whole range is used, both ends included.
    EXPECT_EQ(lowest, 0) << "retry " << retry;
    EXPECT_EQ(highest, ceiling) << "retry " << retry;
  }
}

TEST(Backoff, CeilingStopsAtBackoffMax) {
  config::Retries config;
  config.backoff_base = 100ms;
  config.backoff_max = 300ms;
  Rng rng(7);
  std::int64_t highest = 0;
  for (int i = 0; i < 5'000; ++i) {
    const auto d = backoff_delay(config, 4, rng);  // 100ms x 2^3 = 800ms uncapped
    ASSERT_LE(d, 300ms);
    highest = std::max<std::int64_t>(highest, d.count());
  }
  EXPECT_GT(highest, 290);
}

TEST(Backoff, HugeRetryNumbersNeitherOverflowNorPassTheMax) {
  config::Retries config;
  Rng rng(1);
  for (int retry : {31, 32, 63, 64, 65, 1000, INT_MAX}) {
    for (int i = 0; i < 100; ++i) {
      const auto d = backoff_delay(config, retry, rng);
      ASSERT_GE(d, 0ms) << retry;
      ASSERT_LE(d, config.backoff_max) << retry;
    }
  }
  // With no practical max the ceiling is 2^62 base units, still a valid positive count.
  config.backoff_base = 1ms;
  config.backoff_max = Duration::max();
  for (int i = 0; i < 100; ++i) ASSERT_GE(backoff_delay(config, INT_MAX, rng), 0ms);
}

TEST(Backoff, ZeroOrNegativeRetryIsTheFirstAndZeroBaseNeverSleeps) {
  config::Retries config;
  Rng rng(3);
  for (int i = 0; i < 1'000; ++i) {
    ASSERT_LE(backoff_delay(config, 0, rng), 50ms);
    ASSERT_LE(backoff_delay(config, -5, rng), 50ms);
  }
  config.backoff_base = 0ms;
  for (int i = 0; i < 100; ++i) ASSERT_EQ(backoff_delay(config, 3, rng), 0ms);
}

TEST(Backoff, AFixedSeedGivesTheSameSequence) {
  config::Retries config;
  Rng a(99), b(99);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(backoff_delay(config, 1 + i % 5, a), backoff_delay(config, 1 + i % 5, b));
  }
}

TEST(RetryAfter, DeltaSeconds) {
  EXPECT_EQ(parse_retry_after("2", 0, 10s), 2000ms);
  EXPECT_EQ(parse_retry_after("0", 0, 10s), 0ms);
  EXPECT_EQ(parse_retry_after("  3 ", 0, 10s), 3000ms);  // header values arrive untrimmed
  EXPECT_EQ(parse_retry_after("007", 0, 10s), 7000ms);
}

TEST(RetryAfter, GarbageIsIgnored) {
  for (std::string_view v : {"", "   ", "-1", "+2", "abc", "2s", "1.5", "2 3", "0x10",
                             "Sun, 06 Nov 1994", "Sun, 06 Nov 1994 08:49:37 UTC",
                             "Sun,  06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 94 08:49:37 GMT"}) {
    EXPECT_EQ(parse_retry_after(v, kExampleMs, 10s), std::nullopt) << '"' << v << '"';
  }
}

TEST(RetryAfter, CappedAtTheCap) {
  EXPECT_EQ(parse_retry_after("60", 0, 10s), 10s);
  EXPECT_EQ(parse_retry_after("11", 0, 10s), 10s);
  EXPECT_EQ(parse_retry_after("10", 0, 10s), 10s);
  EXPECT_EQ(parse_retry_after("99999999999999999999999999", 0, 10s), 10s);  // past 64 bits
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", kExampleMs - 3'600'000, 10s), 10s);
}

TEST(RetryAfter, ImfFixdateRelativeToNow) {
  const std::string_view date = "Sun, 06 Nov 1994 08:49:37 GMT";
  EXPECT_EQ(parse_retry_after(date, kExampleMs - 5'000, 10s), 5000ms);
  EXPECT_EQ(parse_retry_after(date, kExampleMs - 4'250, 10s), 4250ms);
  EXPECT_EQ(parse_retry_after(date, kExampleMs, 10s), 0ms);
  // A date already past means "now", not "never".
  EXPECT_EQ(parse_retry_after(date, kExampleMs + 60'000, 10s), 0ms);
  EXPECT_EQ(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", kExampleMs, 10s), 0ms);
}

TEST(RetryAfter, LeapYearsAndMonthEnds) {
  // 2024-02-29 12:00:00 UTC is 1709208000.
  EXPECT_EQ(parse_retry_after("Thu, 29 Feb 2024 12:00:00 GMT", 1'709'207'998'000, 10s), 2s);
  EXPECT_EQ(parse_retry_after("Thu, 29 Feb 2023 12:00:00 GMT", 0, 10s), std::nullopt);
  EXPECT_EQ(parse_retry_after("Fri, 31 Apr 2024 12:00:00 GMT", 0, 10s), std::nullopt);
  EXPECT_EQ(parse_retry_after("Thu, 29 Feb 2024 24:00:00 GMT", 0, 10s), std::nullopt);
  EXPECT_EQ(parse_retry_after("Thu, 29 Feb 2024 12:60:00 GMT", 0, 10s), std::nullopt);
}

TEST(RetryAfter, ObsoleteDateFormsAreAccepted) {
  // RFC 9110 section 5.6.7: recipients must also read the RFC 850 and asctime forms.
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", kExampleMs - 5'000, 10s), 5s);
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", kExampleMs - 5'000, 10s), 5s);
  EXPECT_EQ(parse_retry_after("Sun Nov 16 08:49:37 1994", kExampleMs + 864'000'000 - 1'000, 10s),
            1s);
}

TEST(RetryBudget, MinConcurrencyIsAllowedWithNoRequests) {
  RetryBudget budget(0.2, 3);
  EXPECT_TRUE(budget.try_begin_retry(0));
  EXPECT_TRUE(budget.try_begin_retry(0));
  EXPECT_TRUE(budget.try_begin_retry(0));
  EXPECT_FALSE(budget.try_begin_retry(0));
  EXPECT_EQ(budget.retries(), 3);
}

TEST(RetryBudget, AShareOfTheRequestsInFlight) {
  RetryBudget budget(0.2, 3);
  int allowed = 0;
  while (budget.try_begin_retry(100)) ++allowed;
  EXPECT_EQ(allowed, 20);
  // Fewer requests in flight: no new retry until enough of the running ones end.
  EXPECT_FALSE(budget.try_begin_retry(50));
  for (int i = 0; i < 10; ++i) budget.end_retry();
  EXPECT_FALSE(budget.try_begin_retry(50));  // 10 of 10 in use
  budget.end_retry();
  EXPECT_TRUE(budget.try_begin_retry(50));
  EXPECT_EQ(budget.retries(), 10);
}

TEST(RetryBudget, ProductsJustUnderAWholeNumberDoNotLoseARetry) {
  RetryBudget budget(0.1, 0);
  int allowed = 0;  // 0.1 x 30 is 2.9999999999999996
  while (budget.try_begin_retry(30)) ++allowed;
  EXPECT_EQ(allowed, 3);
}

TEST(RetryBudget, EndRetryFreesASlot) {
  RetryBudget budget(0.0, 1);
  ASSERT_TRUE(budget.try_begin_retry(0));
  EXPECT_FALSE(budget.try_begin_retry(0));
  budget.end_retry();
  EXPECT_EQ(budget.retries(), 0);
  EXPECT_TRUE(budget.try_begin_retry(0));
}

TEST(RetryBudget, ConcurrentCallersNeverOvershoot) {
  RetryBudget budget(0.2, 3);
  // 100 requests in flight: room for 20.
  std::atomic<std::int64_t> peak{0};
  std::atomic<int> granted{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < 20'000; ++i) {
        if (!budget.try_begin_retry(100)) continue;
        granted.fetch_add(1);
        const std::int64_t now = budget.retries();
        std::int64_t seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        // Half the grants are held until the end, so the limit is reached and pressed on.
        if (i % 2 == 0) budget.end_retry();
      }
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), 20);
  EXPECT_GT(granted.load(), 20);
  EXPECT_EQ(budget.retries(), 20);  // the held half filled it exactly
  EXPECT_FALSE(budget.try_begin_retry(100));
}

}  // namespace
}  // namespace sluice::route
