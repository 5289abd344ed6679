#include "admin/stats_history.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "admin/stats_sample.h"
#include "core/clock.h"
#include "metrics/metrics_registry.h"

namespace sluice::admin {
namespace {

using namespace std::chrono_literals;
using metrics::LabelValues;

TEST(QuantileTest, InterpolatesLinearlyInsideTheBucketThatHoldsTheRank) {
  const std::vector<double> bounds = {0.01, 0.1, 1};
  // Ten observations between 10 ms and 100 ms.
  BucketCounts b{{0, 10, 0, 0}, 0};
  EXPECT_DOUBLE_EQ(*quantile(0.5, b, bounds), 0.01 + 0.09 * 5 / 10);
  EXPECT_DOUBLE_EQ(*quantile(0.99, b, bounds), 0.01 + 0.09 * 9.9 / 10);
  EXPECT_DOUBLE_EQ(*quantile(1, b, bounds), 0.1);

  // The first bucket starts at 0; ranks past one bucket move on to the next.
  BucketCounts spread{{2, 2, 4, 0}, 0};
  EXPECT_DOUBLE_EQ(*quantile(0.25, spread, bounds), 0.01);  // rank 2: the first bucket's end
  EXPECT_DOUBLE_EQ(*quantile(0.125, spread, bounds), 0.005);
  EXPECT_DOUBLE_EQ(*quantile(0.75, spread, bounds), 0.1 + 0.9 * 2 / 4);

  // Past the last bound there is no upper bound: the last one is the answer.
  BucketCounts slow{{0, 0, 0, 4}, 0};
  EXPECT_DOUBLE_EQ(*quantile(0.5, slow, bounds), 1);

  EXPECT_FALSE(quantile(0.5, BucketCounts{{0, 0, 0, 0}, 0}, bounds));
}

TEST(QuantileTest, TheLatencyBucketsResolution) {
  // One observation of 12 ms lands in (10 ms, 25 ms]: the median is the bucket's middle, so the
  // estimate is within the bucket's width of the truth (docs/observability.md).
  const auto bounds = latency_bounds_seconds();
  BucketCounts b;
  b.counts.assign(bounds.size() + 1, 0);
  b.counts[5] = 1;  // (0.01, 0.025]
  EXPECT_DOUBLE_EQ(*quantile(0.5, b, bounds), 0.0175);
}

// A registry with the families the gateway declares (gateway/gateway_metrics.cc), recorded by
// hand, and a clock the test moves.
class StatsHistoryTest : public ::testing::Test {
 protected:
  StatsHistoryTest()
      : requests_(registry_.add_counter("sluice_requests_total", "r",
                                        {"endpoint", "model", "status", "cache"})),
        duration_(registry_.add_histogram("sluice_request_duration_seconds", "d",
                                          {"endpoint", "model"}, metrics::latency_bounds())),
        tokens_(registry_.add_counter("sluice_tokens_total", "t", {"model", "kind"})),
        cost_(registry_.add_counter("sluice_cost_usd_total", "c", {"model"}, 1e-9)),
        key_requests_(registry_.add_counter("sluice_key_requests_total", "k", {"key"})),
        stages_(registry_.add_counter("sluice_stage_seconds_total", "s", {"stage"}, 1e-9)),
        worker_(registry_.add_worker()) {}

  // One answered request.
  void answer(std::string endpoint, std::string model, int status, std::string cache,
              std::chrono::nanoseconds took, std::uint64_t tokens = 0) {
    LabelValues labels{endpoint, model, std::to_string(status), cache};
    worker_.add(registry_.handle(requests_, labels));
    worker_.observe(registry_.handle(duration_, {endpoint, model}), took);
    if (tokens > 0) {
      worker_.add(registry_.handle(tokens_, {model, "completion"}), tokens);
      worker_.add(registry_.handle(cost_, {model}), tokens * 1000);  // a microdollar per token
    }
    if (endpoint == "admin") return;  // stages are recorded for inference requests only
    worker_.add(registry_.handle(stages_, {"upstream"}),
                static_cast<std::uint64_t>(took.count()) * 3 / 4);
    worker_.add(registry_.handle(stages_, {"gateway"}),
                static_cast<std::uint64_t>(took.count()) / 4);
  }

  // Ticks once a second for `seconds`.
  void run_for(int seconds) {
    for (int i = 0; i < seconds; ++i) {
      clock_.advance(1s);
      history_->tick();
    }
  }

  void start() { history_.emplace(registry_, clock_); }

  core::ManualClock clock_;
  metrics::MetricsRegistry registry_;
  metrics::CounterFamily requests_;
  metrics::HistogramFamily duration_;
  metrics::CounterFamily tokens_, cost_, key_requests_, stages_;
  metrics::WorkerMetrics& worker_;
  std::optional<StatsHistory> history_;
};

TEST_F(StatsHistoryTest, AYoungProcessWindowsCoverItsWholeLife) {
  start();
  answer("chat", "fast", 200, "miss", 20ms, 10);
  answer("chat", "fast", 200, "hit", 1ms);
  answer("chat", "fast", 502, "miss", 40ms);
  answer("chat", "fast", 429, "", 1ms);
  answer("admin", "", 200, "", 1ms);  // the dashboard's own polling is not traffic
  run_for(10);

  json::object body = history_->render();
  EXPECT_DOUBLE_EQ(body.at("uptime_seconds").as_double(), 10);
  for (const char* name : {"1m", "5m", "15m"}) {
    const json::object& w = body.at("windows").at(name).as_object();
    EXPECT_DOUBLE_EQ(w.at("seconds").as_double(), 10) << name;  // only 10 s old
    EXPECT_EQ(w.at("requests").as_uint64(), 4u) << name;
  }
  const json::object& w = body.at("windows").at("1m").as_object();
  EXPECT_DOUBLE_EQ(w.at("requests_per_second").as_double(), 0.4);
  EXPECT_EQ(w.at("errors").as_uint64(), 1u);
  EXPECT_EQ(w.at("client_errors").as_uint64(), 1u);
  EXPECT_DOUBLE_EQ(w.at("error_rate").as_double(), 0.25);
  EXPECT_EQ(w.at("cache").at("hits").as_uint64(), 1u);
  EXPECT_EQ(w.at("cache").at("misses").as_uint64(), 2u);
  EXPECT_DOUBLE_EQ(w.at("cache").at("hit_rate").as_double(), 0.3333);
  EXPECT_EQ(w.at("tokens").at("output").as_uint64(), 10u);
  EXPECT_DOUBLE_EQ(w.at("tokens_per_second").as_double(), 1);
  EXPECT_DOUBLE_EQ(w.at("cost_usd").as_double(), 0.00001);
  // Four latencies: 1, 1, 20 and 40 ms. The median's rank 2 ends the (0.5 ms, 1 ms] bucket.
  EXPECT_DOUBLE_EQ(w.at("latency_seconds").at("p50").as_double(), 0.001);
  EXPECT_DOUBLE_EQ(w.at("latency_seconds").at("p99").as_double(),
                   0.025 + 0.025 * 0.96);                 // rank 3.96 in (25 ms, 50 ms]
  EXPECT_TRUE(w.at("ttft_seconds").at("p50").is_null());  // no streams
  EXPECT_DOUBLE_EQ(w.at("stages").at("upstream").at("share").as_double(), 0.75);
  EXPECT_DOUBLE_EQ(w.at("stages").at("upstream").at("seconds_per_request").as_double(),
                   0.75 * 0.062 / 4);
  EXPECT_EQ(body.at("slowest_stage").as_string(), "upstream");
  EXPECT_EQ(body.at("totals").at("requests").as_uint64(), 4u);
  EXPECT_DOUBLE_EQ(body.at("totals").at("seconds").as_double(), 10);
}

TEST_F(StatsHistoryTest, WindowsAreTheDifferenceWithTheReadingAWindowAgo) {
  start();
  answer("chat", "fast", 200, "miss", 5ms);  // at 0 s: in the totals and the 5m window only
  run_for(100);
  for (int i = 0; i < 3; ++i) answer("chat", "fast", 200, "miss", 5ms);  // at 100 s
  run_for(30);

  json::object body = history_->render();
  const json::object& windows = body.at("windows").as_object();
  EXPECT_DOUBLE_EQ(windows.at("1m").at("seconds").as_double(), 60);
  EXPECT_EQ(windows.at("1m").at("requests").as_uint64(), 3u);
  EXPECT_DOUBLE_EQ(windows.at("1m").at("requests_per_second").as_double(), 0.05);
  EXPECT_DOUBLE_EQ(windows.at("5m").at("seconds").as_double(), 130);
  EXPECT_EQ(windows.at("5m").at("requests").as_uint64(), 4u);
  EXPECT_EQ(body.at("totals").at("requests").as_uint64(), 4u);

  // An hour later nothing is in any window, but the totals keep everything.
  run_for(3600);
  body = history_->render();
  EXPECT_DOUBLE_EQ(body.at("windows").at("15m").at("seconds").as_double(), 900);
  EXPECT_EQ(body.at("windows").at("15m").at("requests").as_uint64(), 0u);
  EXPECT_TRUE(body.at("windows").at("15m").at("error_rate").is_null());
  EXPECT_TRUE(body.at("windows").at("15m").at("cache").at("hit_rate").is_null());
  EXPECT_TRUE(body.at("windows").at("15m").at("latency_seconds").at("p50").is_null());
  EXPECT_TRUE(body.at("slowest_stage").is_null());
  EXPECT_EQ(body.at("totals").at("requests").as_uint64(), 4u);
  EXPECT_DOUBLE_EQ(body.at("totals").at("seconds").as_double(), 3730);
}

TEST_F(StatsHistoryTest, ARenderBetweenTicksCountsWhatHappenedSinceTheLastOne) {
  start();
  run_for(5);
  clock_.advance(500ms);
  answer("embeddings", "e", 200, "", 2ms);
  json::object body = history_->render();
  EXPECT_EQ(body.at("windows").at("1m").at("requests").as_uint64(), 1u);
  EXPECT_DOUBLE_EQ(body.at("windows").at("1m").at("seconds").as_double(), 5.5);
}

TEST_F(StatsHistoryTest, TheSeriesHoldsTheLast300IntervalsOldestFirst) {
  start();
  for (int i = 0; i < 400; ++i) {
    // Two requests in every tenth second, one of them an error.
    if (i % 10 == 0) {
      answer("chat", "fast", 200, "hit", 1ms);
      answer("chat", "fast", 500, "miss", 100ms);
    }
    run_for(1);
  }
  json::object body = history_->render();
  const json::object& series = body.at("series").as_object();
  EXPECT_EQ(series.at("interval_seconds").as_int64(), 1);
  const json::array& points = series.at("points").as_array();
  ASSERT_EQ(points.size(), 300u);
  // Clock time 0 is 2026-01-01T00:00:00Z; the newest point ends at 400 s.
  EXPECT_DOUBLE_EQ(points.back().at("t").as_double(), 1767225600 + 400);
  EXPECT_DOUBLE_EQ(points.front().at("t").as_double(), 1767225600 + 101);
  int busy = 0;
  for (const json::value& p : points) {
    if (p.at("requests_per_second").as_double() == 0) {
      EXPECT_TRUE(p.at("hit_rate").is_null());
      EXPECT_TRUE(p.at("p50_seconds").is_null());
      continue;
    }
    ++busy;
    EXPECT_DOUBLE_EQ(p.at("requests_per_second").as_double(), 2);
    EXPECT_DOUBLE_EQ(p.at("errors_per_second").as_double(), 1);
    EXPECT_DOUBLE_EQ(p.at("hit_rate").as_double(), 0.5);
    EXPECT_DOUBLE_EQ(p.at("p50_seconds").as_double(), 0.001);
  }
  EXPECT_EQ(busy, 30);
}

TEST_F(StatsHistoryTest, TopModelsAndKeysOverFifteenMinutes) {
  start();
  answer("chat", "old", 200, "miss", 1ms, 5);  // more than 16 minutes ago, by the end
  run_for(60);
  for (int i = 0; i < 3; ++i) answer("chat", "busy", 200, "miss", 1ms, 2);
  answer("chat", "quiet", 200, "miss", 1ms, 1);
  worker_.add(registry_.handle(key_requests_, {"key_0123456789abcdef"}), 4);
  run_for(15 * 60 + 30);

  json::object body = history_->render();
  // The newest minute reading at least 15 minutes old: the one at 60 s, after "old".
  EXPECT_DOUBLE_EQ(body.at("top_window_seconds").as_double(), 930);
  const json::array& models = body.at("top_models").as_array();
  ASSERT_EQ(models.size(), 2u) << json::serialize(models);
  EXPECT_EQ(models[0].at("model").as_string(), "busy");
  EXPECT_EQ(models[0].at("requests").as_uint64(), 3u);
  EXPECT_EQ(models[0].at("tokens").as_uint64(), 6u);
  EXPECT_DOUBLE_EQ(models[0].at("cost_usd").as_double(), 0.000006);
  EXPECT_EQ(models[1].at("model").as_string(), "quiet");
  const json::array& keys = body.at("top_keys").as_array();
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].at("key").as_string(), "key_0123456789abcdef");
  EXPECT_EQ(keys[0].at("requests").as_uint64(), 4u);
  // The totals still count "old".
  EXPECT_EQ(body.at("totals").at("requests").as_uint64(), 5u);
}

TEST_F(StatsHistoryTest, TheAlertsWindowEndsAtTheLastTick) {
  start();
  EXPECT_FALSE(history_->window(3s));
  run_for(10);
  answer("chat", "fast", 500, "miss", 1ms);
  run_for(2);
  answer("chat", "fast", 200, "miss", 1ms);  // after the last tick: not yet seen
  auto w = history_->window(3s);
  ASSERT_TRUE(w);
  EXPECT_DOUBLE_EQ(w->seconds, 3);
  EXPECT_EQ(w->totals.requests, 1u);
  EXPECT_EQ(w->totals.errors, 1u);
  run_for(3);
  w = history_->window(3s);
  EXPECT_EQ(w->totals.requests, 1u);
  EXPECT_EQ(w->totals.errors, 0u);
}

}  // namespace
}  // namespace sluice::admin
