// UsageStore: the usage table (usage.h, schema.cc).
#include <spdlog/spdlog.h>

#include <optional>

#include "core/utc.h"
#include "store/usage.h"

namespace sluice::store {

namespace {

constexpr std::string_view kInsertColumns =
    "INSERT INTO usage (at_ms, request_id, key_id, model, deployment, endpoint, status, "
    "prompt_tokens, completion_tokens, cached_tokens, cost_usd, saved_usd, latency_ms, "
    "cache_result) VALUES ";
constexpr int kColumns = 14;

std::string insert_sql(std::size_t rows) {
  std::string sql(kInsertColumns);
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ",(";
    for (int c = 0; c < kColumns; ++c) sql += c == 0 ? "?" : ",?";
    sql += ")";
  }
  return sql;
}

void bind_row(Statement& stmt, int base, const UsageRow& r) {
  // The rows outlive the statement's step: no copies of their text.
  stmt.bind_int(base + 1, r.at_ms)
      .bind_text_static(base + 2, r.request_id)
      .bind_text_static(base + 3, r.key_id)
      .bind_text_static(base + 4, r.model)
      .bind_text_static(base + 5, r.deployment)
      .bind_text_static(base + 6, r.endpoint)
      .bind_int(base + 7, r.status)
      .bind_int(base + 8, static_cast<std::int64_t>(r.prompt_tokens))
      .bind_int(base + 9, static_cast<std::int64_t>(r.completion_tokens))
      .bind_int(base + 10, static_cast<std::int64_t>(r.cached_tokens))
      .bind_real(base + 11, r.cost_usd)
      .bind_real(base + 12, r.saved_usd)
      .bind_real(base + 13, r.latency_ms)
      .bind_text_static(base + 14, r.cache_result);
}

}  // namespace

core::Result<void> UsageStore::insert(std::span<const UsageRow> rows) {
  if (rows.empty()) return core::ok();
  auto tx = Transaction::begin(db_, Transaction::Kind::kWrite);
  if (!tx) return tx.error();
  while (!rows.empty()) {
    std::size_t n = std::min(rows.size(), kRowsPerStatement);
    // Prepared once per size and kept: compiling a 32-row INSERT costs as much as writing it.
    std::optional<Statement>& stmt = inserts_[n];
    if (!stmt) {
      auto prepared = db_.prepare(insert_sql(n));
      if (!prepared) return prepared.error();
      stmt.emplace(std::move(*prepared));
    }
    stmt->reset();
    for (std::size_t i = 0; i < n; ++i) bind_row(*stmt, static_cast<int>(i) * kColumns, rows[i]);
    if (auto done = stmt->run(); !done) return done.error();
    rows = rows.subspan(n);
  }
  return tx->commit();
}

std::vector<UsageGroup> UsageStore::report(const UsageQuery& q) {
  auto groups = try_report(q);
  if (!groups) {
    spdlog::warn("cannot read the usage report: {}", groups.error().message);
    return {};
  }
  return std::move(*groups);
}

core::Result<std::vector<UsageGroup>> UsageStore::try_report(const UsageQuery& q) {
  std::string group;
  std::string order = "cost_usd DESC, requests DESC, grp";
  switch (q.group_by) {
    case UsageQuery::GroupBy::kKey:
      group = "u.key_id";
      break;
    case UsageQuery::GroupBy::kModel:
      group = "u.model";
      break;
    case UsageQuery::GroupBy::kDay:
      // Integer division truncates toward zero; ledger times are after 1970, so it floors.
      group = "strftime('%Y-%m-%d', u.at_ms / 1000, 'unixepoch')";
      order = "grp";
      break;
  }
  // The key's name comes from the keys table by id (revoked keys keep their rows, so their
  // names stay); MAX picks it without grouping by it.
  std::string sql =
      "SELECT " + group +
      " AS grp, MAX(COALESCE(k.name, '')), COUNT(*) AS requests, SUM(u.status >= 400), "
      "SUM(u.cache_result = 'hit'), SUM(u.prompt_tokens), SUM(u.completion_tokens), "
      "SUM(u.cached_tokens), TOTAL(u.cost_usd) AS cost_usd, TOTAL(u.saved_usd), "
      "AVG(u.latency_ms) FROM usage u LEFT JOIN keys k ON k.id = u.key_id "
      "WHERE u.at_ms >= ?1 AND u.at_ms < ?2" +
      std::string(q.key_id.empty() ? "" : " AND u.key_id = ?3") + " GROUP BY grp ORDER BY " + order;
  auto stmt = db_.prepare(sql);
  if (!stmt) return stmt.error();
  stmt->bind_int(1, q.from_ms).bind_int(2, q.to_ms);
  if (!q.key_id.empty()) stmt->bind_text(3, q.key_id);
  std::vector<UsageGroup> out;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    UsageGroup g;
    g.group = stmt->column_text(0);
    if (q.group_by == UsageQuery::GroupBy::kKey) g.key_name = stmt->column_text(1);
    g.requests = static_cast<std::uint64_t>(stmt->column_int(2));
    g.errors = static_cast<std::uint64_t>(stmt->column_int(3));
    g.cache_hits = static_cast<std::uint64_t>(stmt->column_int(4));
    g.prompt_tokens = static_cast<std::uint64_t>(stmt->column_int(5));
    g.completion_tokens = static_cast<std::uint64_t>(stmt->column_int(6));
    g.cached_tokens = static_cast<std::uint64_t>(stmt->column_int(7));
    g.cost_usd = stmt->column_real(8);
    g.saved_usd = stmt->column_real(9);
    g.avg_latency_ms = stmt->column_real(10);
    out.push_back(std::move(g));
  }
  return out;
}

std::unordered_map<std::string, Spend> UsageStore::spend_by_key(std::int64_t now_ms) {
  auto spend = try_spend_by_key(now_ms);
  if (!spend) {
    spdlog::warn("cannot read the keys' spend: {}", spend.error().message);
    return {};
  }
  return std::move(*spend);
}

core::Result<std::unordered_map<std::string, Spend>> UsageStore::try_spend_by_key(
    std::int64_t now_ms) {
  // The day and the month that contain now_ms, both ends bounded: rows stamped later (another
  // gateway's clock running ahead) belong to a later period, not this one.
  auto stmt = db_.prepare(
      "SELECT key_id, TOTAL(CASE WHEN at_ms >= ?1 AND at_ms < ?2 THEN cost_usd END), "
      "TOTAL(CASE WHEN at_ms >= ?3 AND at_ms < ?4 THEN cost_usd END), TOTAL(cost_usd) "
      "FROM usage WHERE key_id != '' GROUP BY key_id");
  if (!stmt) return stmt.error();
  std::int64_t day = core::utc_day_start(now_ms);
  std::int64_t month = core::utc_month_start(now_ms);
  std::int64_t next_month = core::utc_next_month_start(now_ms);
  stmt->bind_int(1, day).bind_int(2, day + core::kDayMs).bind_int(3, month).bind_int(4, next_month);
  std::unordered_map<std::string, Spend> out;
  for (;;) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    out[stmt->column_text(0)] =
        Spend{stmt->column_real(1), stmt->column_real(2), stmt->column_real(3)};
  }
  return out;
}

}  // namespace sluice::store
