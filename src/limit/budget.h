// What each key has spent (USD) in the current UTC day, the current UTC month and in total, and
// whether that leaves it inside its budget. A period rolls over at its UTC boundary: the first
// request after midnight (or after the first of the month) starts from zero, with no timer.
//
// Spend comes from the record stage (the cost of each answered request) and, at startup, from the
// usage ledger (seed), so a restart does not hand a key a fresh budget. The book is per process:
// several instances each enforce the budget against what they themselves saw plus the ledger
// at their start (docs/keys-and-limits.md, "Budgets").
//
// Thread safety: every member is safe from any thread; keys are spread over 16 shards, each with
// its own short lock.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice::limit {

struct Budget {
  double daily = 0;  // USD; 0 means none
  double monthly = 0;
  double total = 0;
  bool any() const { return daily > 0 || monthly > 0 || total > 0; }
};

struct Spend {
  double day = 0;
  double month = 0;
  double total = 0;
};

struct Exhausted {
  std::string_view period;  // "daily", "monthly" or "total"
  double limit = 0;
  double spent = 0;
  std::int64_t resets_at_ms = 0;  // Unix ms when the period rolls over; 0 for "total"
};

class BudgetBook {
 public:
  // Sets what `key` had spent as of `unix_ms` (its day and month are those of unix_ms).
  void seed(std::string_view key, const Spend& spend, std::int64_t unix_ms);
  void add(std::string_view key, double cost_usd, std::int64_t unix_ms);
  Spend spend(std::string_view key, std::int64_t unix_ms) const;
  // The first exhausted period (daily, then monthly, then total), or nullopt while the key may
  // spend. A budget is exhausted when the spend has reached it.
  std::optional<Exhausted> check(std::string_view key, const Budget& budget,
                                 std::int64_t unix_ms) const;

 private:
  struct Account {
    std::int64_t day = 0;    // the first millisecond of the UTC day the spend is for
    std::int64_t month = 0;  // and of the UTC month (core/utc.h)
    Spend spend;
    // Rolls the periods forward to unix_ms's (a clock that stepped back keeps the later ones).
    void roll(std::int64_t unix_ms);
  };
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Account, StringHash, std::equal_to<>> accounts;
  };
  static constexpr std::size_t kShards = 16;
  Shard& shard_of(std::string_view key) const;

  mutable std::array<Shard, kShards> shards_;
};

}  // namespace sluice::limit
