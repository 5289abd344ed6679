// The usage report's query and JSON (usage.h): parse_usage_query, usage_report_json.
#include <boost/json.hpp>

#include "core/asio.h"
#include "core/utc.h"
#include "store/usage.h"

namespace sluice::store {

namespace {

constexpr std::int64_t kMaxUnixSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z

core::Result<std::int64_t> parse_time(std::string_view text, const std::string& param) {
  bool digits = !text.empty() && text.size() <= 12;
  for (char c : text) digits = digits && c >= '0' && c <= '9';
  if (digits) {
    std::int64_t s = std::stoll(std::string(text));
    if (s <= kMaxUnixSeconds) return s * 1000;
  } else if (auto day = core::parse_utc_date(text)) {
    return *day;
  }
  return core::Error(core::Errc::kInvalidRequest,
                     param + " must be a unix time in seconds or a UTC date YYYY-MM-DD, not \"" +
                         std::string(text.substr(0, 40)) + "\"",
                     param);
}

json::value seconds_or_null(std::int64_t ms, std::int64_t unbounded) {
  if (ms == unbounded) return nullptr;
  return ms / 1000;
}

json::object figures(const UsageGroup& g) {
  json::object o;
  o["requests"] = g.requests;
  o["errors"] = g.errors;
  o["cache_hits"] = g.cache_hits;
  o["prompt_tokens"] = g.prompt_tokens;
  o["completion_tokens"] = g.completion_tokens;
  o["cached_tokens"] = g.cached_tokens;
  o["cost_usd"] = g.cost_usd;
  o["saved_usd"] = g.saved_usd;
  o["avg_latency_ms"] = g.avg_latency_ms;
  return o;
}

}  // namespace

std::string_view group_by_name(UsageQuery::GroupBy g) {
  switch (g) {
    case UsageQuery::GroupBy::kKey:
      return "key";
    case UsageQuery::GroupBy::kModel:
      return "model";
    case UsageQuery::GroupBy::kDay:
      return "day";
  }
  return "key";
}

core::Result<UsageQuery> parse_usage_query(std::string_view group_by, std::string_view from,
                                           std::string_view to) {
  UsageQuery q;
  if (group_by.empty() || group_by == "key") {
    q.group_by = UsageQuery::GroupBy::kKey;
  } else if (group_by == "model") {
    q.group_by = UsageQuery::GroupBy::kModel;
  } else if (group_by == "day") {
    q.group_by = UsageQuery::GroupBy::kDay;
  } else {
    return core::Error(
        core::Errc::kInvalidRequest,
        "group_by must be key, model or day, not \"" + std::string(group_by.substr(0, 40)) + "\"",
        "group_by");
  }
  if (!from.empty()) {
    auto ms = parse_time(from, "from");
    if (!ms) return ms.error();
    q.from_ms = *ms;
  }
  if (!to.empty()) {
    auto ms = parse_time(to, "to");
    if (!ms) return ms.error();
    q.to_ms = *ms;
  }
  if (q.to_ms <= q.from_ms) {
    return core::Error(core::Errc::kInvalidRequest,
                       "to must be later than from (to is exclusive: from 2026-01-01 to 2026-01-02 "
                       "is one day)",
                       "to");
  }
  return q;
}

UsageGroup usage_total(const std::vector<UsageGroup>& groups) {
  UsageGroup t;
  t.group = "total";
  double latency_sum = 0;
  for (const auto& g : groups) {
    t.requests += g.requests;
    t.errors += g.errors;
    t.cache_hits += g.cache_hits;
    t.prompt_tokens += g.prompt_tokens;
    t.completion_tokens += g.completion_tokens;
    t.cached_tokens += g.cached_tokens;
    t.cost_usd += g.cost_usd;
    t.saved_usd += g.saved_usd;
    latency_sum += g.avg_latency_ms * static_cast<double>(g.requests);
  }
  if (t.requests > 0) t.avg_latency_ms = latency_sum / static_cast<double>(t.requests);
  return t;
}

json::object usage_report_json(const UsageQuery& q, const std::vector<UsageGroup>& groups) {
  json::object o;
  o["object"] = "sluice.usage_report";
  o["group_by"] = group_by_name(q.group_by);
  o["from"] = seconds_or_null(q.from_ms, 0);
  o["to"] = seconds_or_null(q.to_ms, std::numeric_limits<std::int64_t>::max());
  o["key"] = q.key_id.empty() ? json::value(nullptr) : json::value(q.key_id);
  json::array data;
  for (const auto& g : groups) {
    json::object item;
    item["group"] = g.group;
    if (q.group_by == UsageQuery::GroupBy::kKey) item["key_name"] = g.key_name;
    for (auto& [k, v] : figures(g)) item[k] = std::move(v);
    data.push_back(std::move(item));
  }
  o["data"] = std::move(data);
  o["total"] = figures(usage_total(groups));
  return o;
}

}  // namespace sluice::store
