// The usage ledger (docs/keys-and-limits.md, "Usage ledger and reports"): one row per request,
// written in batches by ControlPlane off the workers; reports grouped by key, model or UTC day
// (GET /admin/usage and `sluice usage` give the same one); and each key's spend, which budgets
// start from when the gateway starts.
//
// The free functions are pure and thread-safe. UsageStore follows Database's rule: one thread at
// a time.
#pragma once

#include <boost/json/object.hpp>

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "store/database.h"

namespace sluice::store {

struct UsageRow {
  std::int64_t at_ms = 0;
  // key_id is "" when auth is off; cache_result is the x-sluice-cache value ("hit", "miss",
  // "coalesced", "bypass") or "" when the cache took no part.
  std::string request_id, key_id, model, deployment, endpoint, cache_result;
  int status = 0;
  std::uint64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
  double cost_usd = 0, saved_usd = 0;  // saved: what a cache hit or a coalesced request would
                                       // have cost
  double latency_ms = 0;
};

struct UsageQuery {
  enum class GroupBy { kKey, kModel, kDay };
  GroupBy group_by = GroupBy::kKey;
  std::int64_t from_ms = 0, to_ms = std::numeric_limits<std::int64_t>::max();  // [from, to)
  std::string key_id;  // only this key when set
};

struct UsageGroup {
  std::string group;     // key id, model, or "YYYY-MM-DD" (UTC)
  std::string key_name;  // for kKey ("" for requests without a key, or a key since deleted)
  std::uint64_t requests = 0, errors = 0 /*status >= 400*/, cache_hits = 0;
  std::uint64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
  double cost_usd = 0, saved_usd = 0, avg_latency_ms = 0;
};

struct Spend {
  double day = 0, month = 0, total = 0;
};

std::string_view group_by_name(UsageQuery::GroupBy g);  // "key", "model", "day"

// group_by, from, to as given in the query string or on the command line (empty = not given:
// by key, unbounded). from/to accept unix seconds or a UTC date YYYY-MM-DD (to is exclusive:
// to=2026-02-01 ends with the last millisecond of January). Errors (Errc::kInvalidRequest) name
// the parameter in the message and in Error::param.
core::Result<UsageQuery> parse_usage_query(std::string_view group_by, std::string_view from,
                                           std::string_view to);

// {"object":"sluice.usage_report","group_by":"key","from":unix s or null,"to":unix s or null,
//  "key":id or null,"data":[{"group",("key_name",) "requests","errors","cache_hits",
//  "prompt_tokens","completion_tokens","cached_tokens","cost_usd","saved_usd","avg_latency_ms"}],
//  "total":{the same figures over every group}}
boost::json::object usage_report_json(const UsageQuery& q, const std::vector<UsageGroup>& groups);

// The figures of every group together (avg_latency_ms weighted by requests); group is "total".
UsageGroup usage_total(const std::vector<UsageGroup>& groups);

class UsageStore {
 public:
  // Rows per INSERT statement: one statement for many rows runs the VDBE's per-statement work
  // (and the bind loop's calls) once per chunk instead of once per row.
  static constexpr std::size_t kRowsPerStatement = 32;

  explicit UsageStore(Database& db) : db_(db) {}

  // All rows in one transaction: all are written or none.
  core::Result<void> insert(std::span<const UsageRow> rows);
  // Days in order; keys and models by cost, highest first (then by requests, then by name).
  // Empty when the database cannot be read (logged); try_report says why.
  std::vector<UsageGroup> report(const UsageQuery& q);
  core::Result<std::vector<UsageGroup>> try_report(const UsageQuery& q);
  // Spend per key id in the UTC day and month that contain now_ms, and in total (for budgets).
  // Rows without a key are left out. Empty when the database cannot be read
  // (logged); try_spend_by_key says why.
  std::unordered_map<std::string, Spend> spend_by_key(std::int64_t now_ms);
  core::Result<std::unordered_map<std::string, Spend>> try_spend_by_key(std::int64_t now_ms);

 private:
  Database& db_;
  std::array<std::optional<Statement>, kRowsPerStatement + 1> inserts_;  // by rows per statement
};

}  // namespace sluice::store
