#include "limit/budget.h"

#include <gtest/gtest.h>

#include <chrono>

#include "core/clock.h"

namespace sluice::limit {
namespace {

using namespace std::chrono_literals;

// 2026-01-31T23:00:00Z: an hour before both the day and the month roll over.
constexpr std::int64_t kJan31Late = 1769900400000;
constexpr std::int64_t kFeb1 = 1769904000000;
constexpr std::int64_t kMar1 = 1772323200000;

TEST(BudgetBook, ExhaustedWhenTheSpendReachesTheBudget) {
  BudgetBook book;
  Budget budget{.daily = 1.0};
  EXPECT_FALSE(book.check("k", budget, kJan31Late));
  book.add("k", 0.6, kJan31Late);
  EXPECT_FALSE(book.check("k", budget, kJan31Late));
  book.add("k", 0.4, kJan31Late);
  auto over = book.check("k", budget, kJan31Late);
  ASSERT_TRUE(over);
  EXPECT_EQ(over->period, "daily");
  EXPECT_DOUBLE_EQ(over->spent, 1.0);
  EXPECT_EQ(over->resets_at_ms, kFeb1);
  EXPECT_FALSE(book.check("other", budget, kJan31Late));  // keys are separate
}

TEST(BudgetBook, TheDayAndTheMonthRollOverButTheTotalDoesNot) {
  core::ManualClock clock(core::Clock::time_point{}, kJan31Late);
  BudgetBook book;
  Budget budget{.daily = 1.0, .monthly = 1.5, .total = 3.0};
  book.add("k", 1.0, clock.unix_ms());
  EXPECT_EQ(book.check("k", budget, clock.unix_ms())->period, "daily");

  clock.advance(1h);  // 2026-02-01T00:00:00Z: a new day and a new month
  EXPECT_FALSE(book.check("k", budget, clock.unix_ms()));
  Spend s = book.spend("k", clock.unix_ms());
  EXPECT_DOUBLE_EQ(s.day, 0);
  EXPECT_DOUBLE_EQ(s.month, 0);
  EXPECT_DOUBLE_EQ(s.total, 1.0);

  book.add("k", 0.9, clock.unix_ms());
  clock.advance(24h);  // Feb 2: the day resets, the month does not
  book.add("k", 0.6, clock.unix_ms());
  auto monthly = book.check("k", budget, clock.unix_ms());
  ASSERT_TRUE(monthly);
  EXPECT_EQ(monthly->period, "monthly");
  EXPECT_EQ(monthly->resets_at_ms, kMar1);

  clock.advance(28 * 24h);  // March: only the total is left, and it is reached
  book.add("k", 0.1, clock.unix_ms());
  EXPECT_FALSE(book.check("k", budget, clock.unix_ms()));
  book.add("k", 0.0001, clock.unix_ms());
  EXPECT_FALSE(book.check("k", budget, clock.unix_ms()));
  book.add("k", 0.5, clock.unix_ms());
  auto total = book.check("k", budget, clock.unix_ms());
  ASSERT_TRUE(total);
  EXPECT_EQ(total->period, "total");
  EXPECT_EQ(total->resets_at_ms, 0);
}

TEST(BudgetBook, SeedRestoresWhatTheLedgerHolds) {
  BudgetBook book;
  book.seed("k", Spend{.day = 0.5, .month = 3, .total = 10}, kJan31Late);
  EXPECT_EQ(book.check("k", Budget{.monthly = 3}, kJan31Late)->period, "monthly");
  EXPECT_FALSE(book.check("k", Budget{.monthly = 3}, kFeb1));  // next month starts afresh
  EXPECT_DOUBLE_EQ(book.spend("k", kFeb1).total, 10);
}

TEST(BudgetBook, NoBudgetIsNeverExhausted) {
  BudgetBook book;
  book.add("k", 1e9, kJan31Late);
  EXPECT_FALSE(book.check("k", Budget{}, kJan31Late));
}

}  // namespace
}  // namespace sluice::limit
