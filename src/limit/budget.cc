#include "limit/budget.h"

#include <chrono>

namespace sluice::limit {

namespace {

using namespace std::chrono;

constexpr std::int64_t kDayMs = 86'400'000;

year_month_day civil(std::int64_t unix_ms) {
  return year_month_day{sys_days{days{BudgetBook::day_of(unix_ms)}}};
}

}  // namespace

std::int64_t BudgetBook::day_of(std::int64_t unix_ms) {
  // Floor division, so instants before 1970 land in the right day too.
  return unix_ms >= 0 ? unix_ms / kDayMs : -((-unix_ms + kDayMs - 1) / kDayMs);
}

std::int64_t BudgetBook::month_of(std::int64_t unix_ms) {
  year_month_day d = civil(unix_ms);
  return static_cast<std::int64_t>(static_cast<int>(d.year())) * 12 +
         static_cast<unsigned>(d.month()) - 1;
}

std::int64_t BudgetBook::next_day_ms(std::int64_t unix_ms) {
  return (day_of(unix_ms) + 1) * kDayMs;
}

std::int64_t BudgetBook::next_month_ms(std::int64_t unix_ms) {
  year_month_day d = civil(unix_ms);
  year_month first_of_next = year_month{d.year(), d.month()} + months{1};
  sys_days next{year_month_day{first_of_next / 1}};
  return static_cast<std::int64_t>(next.time_since_epoch().count()) * kDayMs;
}

void BudgetBook::Account::roll(std::int64_t unix_ms) {
  std::int64_t d = day_of(unix_ms);
  std::int64_t m = month_of(unix_ms);
  if (d > day) {
    day = d;
    spend.day = 0;
  }
  if (m > month) {
    month = m;
    spend.month = 0;
  }
}

BudgetBook::Shard& BudgetBook::shard_of(std::string_view key) const {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

void BudgetBook::seed(std::string_view key, const Spend& spend, std::int64_t unix_ms) {
  Shard& s = shard_of(key);
  std::lock_guard lock(s.mutex);
  auto it = s.accounts.find(key);
  if (it == s.accounts.end()) it = s.accounts.emplace(std::string(key), Account{}).first;
  it->second = Account{day_of(unix_ms), month_of(unix_ms), spend};
}

void BudgetBook::add(std::string_view key, double cost_usd, std::int64_t unix_ms) {
  if (cost_usd <= 0) return;
  Shard& s = shard_of(key);
  std::lock_guard lock(s.mutex);
  auto it = s.accounts.find(key);
  if (it == s.accounts.end()) {
    it =
        s.accounts.emplace(std::string(key), Account{day_of(unix_ms), month_of(unix_ms), {}}).first;
  }
  Account& a = it->second;
  a.roll(unix_ms);
  a.spend.day += cost_usd;
  a.spend.month += cost_usd;
  a.spend.total += cost_usd;
}

Spend BudgetBook::spend(std::string_view key, std::int64_t unix_ms) const {
  Shard& s = shard_of(key);
  std::lock_guard lock(s.mutex);
  auto it = s.accounts.find(key);
  if (it == s.accounts.end()) return {};
  it->second.roll(unix_ms);
  return it->second.spend;
}

std::optional<Exhausted> BudgetBook::check(std::string_view key, const Budget& budget,
                                           std::int64_t unix_ms) const {
  if (!budget.any()) return std::nullopt;
  Spend now = spend(key, unix_ms);
  if (budget.daily > 0 && now.day >= budget.daily) {
    return Exhausted{"daily", budget.daily, now.day, next_day_ms(unix_ms)};
  }
  if (budget.monthly > 0 && now.month >= budget.monthly) {
    return Exhausted{"monthly", budget.monthly, now.month, next_month_ms(unix_ms)};
  }
  if (budget.total > 0 && now.total >= budget.total) {
    return Exhausted{"total", budget.total, now.total, 0};
  }
  return std::nullopt;
}

}  // namespace sluice::limit
