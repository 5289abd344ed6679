#include "store/usage.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/asio.h"
#include "core/utc.h"
#include "store/keys.h"
#include "store/testing.h"

namespace sluice::store {
namespace {

using testing::TempDir;

constexpr std::int64_t kJan1 = 1767225600000;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kHour = 3'600'000;

UsageRow row(std::int64_t at_ms, std::string key, std::string model, int status = 200,
             double cost = 0.01) {
  UsageRow r;
  r.at_ms = at_ms;
  r.request_id = "req_" + std::to_string(at_ms);
  r.key_id = std::move(key);
  r.model = std::move(model);
  r.deployment = "sim/" + r.model;
  r.endpoint = "/v1/chat/completions";
  r.cache_result = "miss";
  r.status = status;
  r.prompt_tokens = 10;
  r.completion_tokens = 5;
  r.cached_tokens = 2;
  r.cost_usd = cost;
  r.latency_ms = 100;
  return r;
}

TEST(UtcTest, DaysAndMonthsStartAtUtcMidnight) {
  std::int64_t t = kJan1 + 31 * core::kDayMs + 13 * kHour + 5;  // 2026-02-01 13:00:00.005
  EXPECT_EQ(core::utc_date(t), "2026-02-01");
  EXPECT_EQ(core::utc_time(t), "2026-02-01 13:00:00");
  EXPECT_EQ(core::utc_rfc3339(t), "2026-02-01T13:00:00.005Z");
  EXPECT_EQ(core::utc_rfc3339(t + 999), "2026-02-01T13:00:01.004Z");
  EXPECT_EQ(core::utc_day_start(t), kJan1 + 31 * core::kDayMs);
  EXPECT_EQ(core::utc_month_start(t), kJan1 + 31 * core::kDayMs);
  EXPECT_EQ(core::utc_next_month_start(t), kJan1 + (31 + 28) * core::kDayMs);  // not a leap year
  EXPECT_EQ(core::utc_next_month_start(1797292800000), 1798761600000);  // December -> January
  EXPECT_EQ(core::utc_month_start(t - core::kDayMs), kJan1);
  EXPECT_EQ(core::utc_day_start(kJan1 - 1), kJan1 - core::kDayMs);
  EXPECT_EQ(core::utc_month_start(kJan1 - 1), kJan1 - 31 * core::kDayMs);  // 2025-12-01
  EXPECT_EQ(core::parse_utc_date("2026-01-01"), kJan1);
  EXPECT_EQ(core::parse_utc_date("2028-02-29"),
            core::parse_utc_date("2028-02-28").value() + core::kDayMs);
  EXPECT_FALSE(core::parse_utc_date("2026-02-29"));
  EXPECT_FALSE(core::parse_utc_date("2026-13-01"));
  EXPECT_FALSE(core::parse_utc_date("2026-1-01"));
  EXPECT_FALSE(core::parse_utc_date("1969-12-31"));
  EXPECT_FALSE(core::parse_utc_date("2026-01-01T00:00"));
}

TEST(UsageQueryTest, ParsesGroupsAndTimesAndNamesTheBadParameter) {
  auto q = parse_usage_query("", "", "");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->group_by, UsageQuery::GroupBy::kKey);
  EXPECT_EQ(q->from_ms, 0);
  EXPECT_EQ(q->to_ms, std::numeric_limits<std::int64_t>::max());

  q = parse_usage_query("day", "2026-01-01", "1767312000");
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->group_by, UsageQuery::GroupBy::kDay);
  EXPECT_EQ(q->from_ms, kJan1);
  EXPECT_EQ(q->to_ms, kJan1 + core::kDayMs);
  EXPECT_EQ(parse_usage_query("model", "", "")->group_by, UsageQuery::GroupBy::kModel);

  auto bad = parse_usage_query("week", "", "");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().param, "group_by");
  EXPECT_NE(bad.error().message.find("key, model or day"), std::string::npos);
  bad = parse_usage_query("key", "yesterday", "");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().param, "from");
  EXPECT_NE(bad.error().message.find("\"yesterday\""), std::string::npos);
  bad = parse_usage_query("key", "", "2026-02-30");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().param, "to");
  bad = parse_usage_query("key", "-5", "");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().param, "from");
  bad = parse_usage_query("key", "2026-01-02", "2026-01-02");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().param, "to");
  EXPECT_NE(bad.error().message.find("later than from"), std::string::npos);
}

class UsageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::open(testing::db_path(dir_));
    ASSERT_TRUE(db) << db.error().message;
    db_ = std::move(*db);
  }
  TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(UsageStoreTest, ReportsByKeyModelAndDayWithinFromTo) {
  KeyStore keys(*db_);
  KeySpec spec;
  spec.name = "alpha";
  auto alpha = keys.create(spec, kJan1);
  ASSERT_TRUE(alpha);
  std::string a = alpha->key.id;
  std::vector<UsageRow> rows = {
      row(kJan1 - kHour, a, "gpt-4o", 200, 1.0),  // 2025-12-31, before `from` below
      row(kJan1 + kHour, a, "gpt-4o", 200, 0.25),
      row(kJan1 + 2 * kHour, a, "mock", 500, 0),
      row(kJan1 + core::kDayMs + kHour, "", "mock", 200, 0.5),  // auth off: no key
      row(kJan1 + core::kDayMs + 2 * kHour, a, "gpt-4o", 429, 0),
  };
  rows[2].latency_ms = 300;
  rows[3].cache_result = "hit";
  rows[3].saved_usd = 0.5;
  rows[3].cost_usd = 0;
  UsageStore usage(*db_);
  ASSERT_TRUE(usage.insert(rows));

  auto q = parse_usage_query("key", "2026-01-01", "").value();
  auto by_key = usage.report(q);
  ASSERT_EQ(by_key.size(), 2u);
  EXPECT_EQ(by_key[0].group, a);  // highest cost first
  EXPECT_EQ(by_key[0].key_name, "alpha");
  EXPECT_EQ(by_key[0].requests, 3u);
  EXPECT_EQ(by_key[0].errors, 2u);
  EXPECT_EQ(by_key[0].cache_hits, 0u);
  EXPECT_EQ(by_key[0].prompt_tokens, 30u);
  EXPECT_EQ(by_key[0].completion_tokens, 15u);
  EXPECT_EQ(by_key[0].cached_tokens, 6u);
  EXPECT_DOUBLE_EQ(by_key[0].cost_usd, 0.25);
  EXPECT_DOUBLE_EQ(by_key[0].avg_latency_ms, (100.0 + 300 + 100) / 3);
  EXPECT_EQ(by_key[1].group, "");
  EXPECT_EQ(by_key[1].key_name, "");
  EXPECT_EQ(by_key[1].cache_hits, 1u);
  EXPECT_DOUBLE_EQ(by_key[1].saved_usd, 0.5);

  auto by_model = usage.report(parse_usage_query("model", "", "").value());
  ASSERT_EQ(by_model.size(), 2u);
  EXPECT_EQ(by_model[0].group, "gpt-4o");
  EXPECT_EQ(by_model[0].requests, 3u);
  EXPECT_DOUBLE_EQ(by_model[0].cost_usd, 1.25);
  EXPECT_EQ(by_model[1].group, "mock");
  EXPECT_TRUE(by_model[1].key_name.empty());

  auto by_day = usage.report(parse_usage_query("day", "", "").value());
  ASSERT_EQ(by_day.size(), 3u);
  EXPECT_EQ(by_day[0].group, "2025-12-31");
  EXPECT_EQ(by_day[1].group, "2026-01-01");
  EXPECT_EQ(by_day[1].requests, 2u);
  EXPECT_EQ(by_day[2].group, "2026-01-02");

  // to is exclusive: the first of January only.
  auto one_day = usage.report(parse_usage_query("day", "2026-01-01", "2026-01-02").value());
  ASSERT_EQ(one_day.size(), 1u);
  EXPECT_EQ(one_day[0].group, "2026-01-01");
  // A row exactly at `to` is out; one exactly at `from` is in.
  UsageQuery edge;
  edge.group_by = UsageQuery::GroupBy::kDay;
  edge.from_ms = kJan1 + kHour;
  edge.to_ms = kJan1 + 2 * kHour;
  auto edges = usage.report(edge);
  ASSERT_EQ(edges.size(), 1u);
  EXPECT_EQ(edges[0].requests, 1u);

  UsageQuery only_a;
  only_a.group_by = UsageQuery::GroupBy::kModel;
  only_a.key_id = a;
  auto a_models = usage.report(only_a);
  ASSERT_EQ(a_models.size(), 2u);
  EXPECT_EQ(a_models[0].requests + a_models[1].requests, 4u);
}

TEST_F(UsageStoreTest, ARevokedKeyKeepsItsNameInReports) {
  KeyStore keys(*db_);
  KeySpec spec;
  spec.name = "old";
  auto k = keys.create(spec, kJan1);
  ASSERT_TRUE(k);
  std::vector<UsageRow> rows = {row(kJan1, k->key.id, "m")};
  ASSERT_TRUE(UsageStore(*db_).insert(rows));
  ASSERT_TRUE(keys.revoke(k->key.id, kJan1));
  auto groups = UsageStore(*db_).report(UsageQuery{});
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].key_name, "old");
}

TEST_F(UsageStoreTest, SpendIsSplitAtTheUtcDayAndMonth) {
  const std::int64_t feb1 = kJan1 + 31 * core::kDayMs;
  std::vector<UsageRow> rows = {
      row(kJan1 - kHour, "k1", "m", 200, 8.0),                // December
      row(feb1 - kHour, "k1", "m", 200, 4.0),                 // 31 January, late
      row(feb1 + kHour, "k1", "m", 200, 2.0),                 // 1 February
      row(feb1 + core::kDayMs + kHour, "k1", "m", 200, 1.0),  // 2 February: "today"
      row(feb1 + core::kDayMs + kHour, "k2", "m", 200, 0.5),
      row(feb1 + core::kDayMs + kHour, "", "m", 200, 100),  // no key: not anyone's spend
  };
  UsageStore usage(*db_);
  ASSERT_TRUE(usage.insert(rows));

  auto now = feb1 + core::kDayMs + 12 * kHour;  // 2026-02-02 12:00
  auto spend = usage.spend_by_key(now);
  ASSERT_EQ(spend.size(), 2u);
  EXPECT_DOUBLE_EQ(spend["k1"].day, 1.0);
  EXPECT_DOUBLE_EQ(spend["k1"].month, 3.0);
  EXPECT_DOUBLE_EQ(spend["k1"].total, 15.0);
  EXPECT_DOUBLE_EQ(spend["k2"].day, 0.5);

  // At the last millisecond of 1 February, the day is the first and the month February.
  spend = usage.spend_by_key(feb1 + core::kDayMs - 1);
  EXPECT_DOUBLE_EQ(spend["k1"].day, 2.0);
  EXPECT_DOUBLE_EQ(spend["k1"].month, 3.0);
  // At the last millisecond of January: the day is the 31st and the month January; February's
  // rows (stamped "later") count for neither, only for the total.
  spend = usage.spend_by_key(feb1 - 1);
  EXPECT_DOUBLE_EQ(spend["k1"].day, 4.0);
  EXPECT_DOUBLE_EQ(spend["k1"].month, 4.0);
  EXPECT_DOUBLE_EQ(spend["k1"].total, 15.0);
  // In December only December's row counts; k2 spent nothing then.
  spend = usage.spend_by_key(kJan1 - 1);
  EXPECT_DOUBLE_EQ(spend["k1"].day, 8.0);
  EXPECT_DOUBLE_EQ(spend["k1"].month, 8.0);
  EXPECT_DOUBLE_EQ(spend["k2"].month, 0.0);
  EXPECT_DOUBLE_EQ(spend["k2"].total, 0.5);
}

TEST_F(UsageStoreTest, InsertIsAllOrNothing) {
  std::vector<UsageRow> rows = {row(kJan1, "k", "m"), row(kJan1 + 1, "k", "m")};
  // The second row fails, after the first went in.
  std::string trigger =
      "CREATE TRIGGER refuse BEFORE INSERT ON usage WHEN NEW.at_ms = " + std::to_string(kJan1 + 1) +
      " BEGIN SELECT RAISE(ABORT, 'no'); END";
  ASSERT_TRUE(db_->exec(trigger.c_str()));
  UsageStore usage(*db_);
  EXPECT_FALSE(usage.insert(rows));
  EXPECT_TRUE(usage.report(UsageQuery{}).empty());
}

TEST(UsageReportJsonTest, HasTheGroupsAndTheirTotal) {
  UsageQuery q;
  q.group_by = UsageQuery::GroupBy::kKey;
  q.from_ms = kJan1;
  UsageGroup a;
  a.group = "key_a";
  a.key_name = "alpha";
  a.requests = 3;
  a.errors = 1;
  a.cost_usd = 0.5;
  a.avg_latency_ms = 100;
  UsageGroup b;
  b.group = "key_b";
  b.requests = 1;
  b.cost_usd = 0.25;
  b.avg_latency_ms = 200;
  json::object o = usage_report_json(q, {a, b});
  EXPECT_EQ(o["object"], "sluice.usage_report");
  EXPECT_EQ(o["group_by"], "key");
  EXPECT_EQ(o["from"], kJan1 / 1000);
  EXPECT_TRUE(o["to"].is_null());
  EXPECT_TRUE(o["key"].is_null());
  auto& data = o["data"].as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0].as_object().at("group"), "key_a");
  EXPECT_EQ(data[0].as_object().at("key_name"), "alpha");
  EXPECT_EQ(data[0].as_object().at("requests"), 3u);
  auto& total = o["total"].as_object();
  EXPECT_EQ(total.at("requests"), 4u);
  EXPECT_EQ(total.at("errors"), 1u);
  EXPECT_DOUBLE_EQ(total.at("cost_usd").as_double(), 0.75);
  EXPECT_DOUBLE_EQ(total.at("avg_latency_ms").as_double(), 125.0);

  q.group_by = UsageQuery::GroupBy::kModel;
  o = usage_report_json(q, {a});
  EXPECT_FALSE(o["data"].as_array()[0].as_object().contains("key_name"));
}

}  // namespace
}  // namespace sluice::store
