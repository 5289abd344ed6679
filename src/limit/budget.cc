#include "limit/budget.h"

#include "core/utc.h"

namespace sluice::limit {

void BudgetBook::Account::roll(std::int64_t unix_ms) {
  // Within the account's UTC day (so its month too) nothing rolls: the common case, without the
  // calendar arithmetic below on every request.
  if (unix_ms >= day && unix_ms - day < core::kDayMs) return;
  std::int64_t d = core::utc_day_start(unix_ms);
  std::int64_t m = core::utc_month_start(unix_ms);
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
  it->second = Account{core::utc_day_start(unix_ms), core::utc_month_start(unix_ms), spend};
}

void BudgetBook::add(std::string_view key, double cost_usd, std::int64_t unix_ms) {
  if (cost_usd <= 0) return;
  Shard& s = shard_of(key);
  std::lock_guard lock(s.mutex);
  auto it = s.accounts.find(key);
  if (it == s.accounts.end()) {
    it = s.accounts
             .emplace(std::string(key),
                      Account{core::utc_day_start(unix_ms), core::utc_month_start(unix_ms), {}})
             .first;
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
    return Exhausted{"daily", budget.daily, now.day, core::utc_day_start(unix_ms) + core::kDayMs};
  }
  if (budget.monthly > 0 && now.month >= budget.monthly) {
    return Exhausted{"monthly", budget.monthly, now.month, core::utc_next_month_start(unix_ms)};
  }
  if (budget.total > 0 && now.total >= budget.total) {
    return Exhausted{"total", budget.total, now.total, 0};
  }
  return std::nullopt;
}

}  // namespace sluice::limit
