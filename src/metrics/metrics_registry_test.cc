#include "metrics/metrics_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "metrics/process_stats.h"
#include "support/command.h"
#include "support/temp_dir.h"

namespace sluice::metrics {
namespace {

using namespace std::chrono_literals;

// The value of the sample line that starts with `series` ("name{labels}"); -1 when absent.
double value_of(const std::string& text, const std::string& series) {
  const std::string needle = "\n" + series + " ";
  const auto at = ("\n" + text).find(needle);
  if (at == std::string::npos) return -1;
  const char* begin = text.data() + at + series.size() + 1;
  double value = 0;
  std::from_chars(begin, text.data() + text.size(), value);
  return value;
}

LabelValues labels(std::string a) { return LabelValues{std::move(a)}; }

TEST(MetricsRegistryTest, ExactExposition) {
  MetricsRegistry registry;
  auto requests =
      registry.add_counter("sluice_requests_total", "Requests answered.", {"endpoint", "status"});
  auto in_flight = registry.add_gauge("sluice_requests_in_flight", "Requests being answered.");
  auto latency = registry.add_histogram("sluice_request_duration_seconds", "Time to the last byte.",
                                        {"endpoint"}, {0.001, 0.5, 2});
  WorkerMetrics& worker = registry.add_worker();

  auto chat_200 = [] { return LabelValues{"chat", "200"}; };
  worker.add(requests, pack_key(1, 200), chat_200);
  worker.add(requests, pack_key(1, 200), chat_200, 2);
  worker.add(requests, pack_key(2, 429), [] { return LabelValues{"embeddings", "429"}; });
  worker.add(in_flight, 0, no_labels, 3);
  worker.add(in_flight, 0, no_labels, -1);
  auto chat = [] { return labels("chat"); };
  worker.observe(latency, 1, chat, 1ms);
  worker.observe(latency, 1, chat, 250ms);
  worker.observe(latency, 1, chat, 3s);

  EXPECT_EQ(registry.scrape(),
            "# HELP sluice_requests_total Requests answered.\n"
            "# TYPE sluice_requests_total counter\n"
            "sluice_requests_total{endpoint=\"chat\",status=\"200\"} 3\n"
            "sluice_requests_total{endpoint=\"embeddings\",status=\"429\"} 1\n"
            "# HELP sluice_requests_in_flight Requests being answered.\n"
            "# TYPE sluice_requests_in_flight gauge\n"
            "sluice_requests_in_flight 2\n"
            "# HELP sluice_request_duration_seconds Time to the last byte.\n"
            "# TYPE sluice_request_duration_seconds histogram\n"
            "sluice_request_duration_seconds_bucket{endpoint=\"chat\",le=\"0.001\"} 1\n"
            "sluice_request_duration_seconds_bucket{endpoint=\"chat\",le=\"0.5\"} 2\n"
            "sluice_request_duration_seconds_bucket{endpoint=\"chat\",le=\"2\"} 2\n"
            "sluice_request_duration_seconds_bucket{endpoint=\"chat\",le=\"+Inf\"} 3\n"
            "sluice_request_duration_seconds_sum{endpoint=\"chat\"} 3.251\n"
            "sluice_request_duration_seconds_count{endpoint=\"chat\"} 3\n");
}

TEST(MetricsRegistryTest, FamiliesWithoutSeriesStillHaveHelpAndType) {
  MetricsRegistry registry;
  registry.add_counter("sluice_retries_total", "Retries.", {"model"});
  registry.add_histogram("sluice_ttft_seconds", "Time to first token.", {}, {0.1});
  EXPECT_EQ(registry.scrape(),
            "# HELP sluice_retries_total Retries.\n"
            "# TYPE sluice_retries_total counter\n"
            "# HELP sluice_ttft_seconds Time to first token.\n"
            "# TYPE sluice_ttft_seconds histogram\n");
}

TEST(MetricsRegistryTest, AScaledCounterAddsIntegersAndShowsTheirWorth) {
  MetricsRegistry registry;
  auto cost = registry.add_counter("sluice_cost_usd_total", "Cost.", {}, 1e-9);
  WorkerMetrics& w = registry.add_worker();
  w.add(cost, 0, no_labels, 1'500'000'000);  // $1.50 in nano-dollars
  w.add(cost, 0, no_labels, 250'000'000);
  EXPECT_EQ(registry.scrape(),
            "# HELP sluice_cost_usd_total Cost.\n"
            "# TYPE sluice_cost_usd_total counter\n"
            "sluice_cost_usd_total 1.75\n");
  EXPECT_THROW(registry.add_counter("sluice_x_total", "X.", {}, 0), std::invalid_argument);
}

TEST(MetricsRegistryTest, SeriesInOrderOfLabelValuesNotOfArrival) {
  MetricsRegistry registry;
  auto family = registry.add_counter("sluice_hits_total", "Hits.", {"tier"});
  WorkerMetrics& worker = registry.add_worker();
  worker.add(family, 3, [] { return labels("redis"); });
  worker.add(family, 2, [] { return labels("memory"); });
  worker.add(family, 1, [] { return labels("disk"); });
  const std::string text = registry.scrape();
  const auto disk = text.find("disk"), memory = text.find("memory"), redis = text.find("redis");
  EXPECT_LT(disk, memory);
  EXPECT_LT(memory, redis);
}

TEST(MetricsRegistryTest, LabelsAreMadeOnlyOnAWorkersFirstUse) {
  MetricsRegistry registry;
  auto family = registry.add_counter("sluice_hits_total", "Hits.", {"tier"});
  WorkerMetrics& a = registry.add_worker();
  WorkerMetrics& b = registry.add_worker();
  int calls = 0;
  auto memory = [&calls] {
    ++calls;
    return labels("memory");
  };
  for (int i = 0; i < 10; ++i) a.add(family, 7, memory);
  EXPECT_EQ(calls, 1);
  b.add(family, 7, memory);  // b's own first use; the registry already has the series
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(value_of(registry.scrape(), "sluice_hits_total{tier=\"memory\"}"), 11);
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulativeAndInclusive) {
  MetricsRegistry registry;
  auto family =
      registry.add_histogram("sluice_latency_seconds", "Latency.", {}, {0.001, 0.01, 0.1});
  WorkerMetrics& worker = registry.add_worker();
  worker.observe(family, 0, no_labels, 1ms);        // on the bound: counted in le=0.001
  worker.observe(family, 0, no_labels, 1ms + 1ns);  // just past it
  worker.observe(family, 0, no_labels, -5ns);       // a clock step back: counted as zero
  worker.observe(family, 0, no_labels, 100ms);      // on the last bound
  worker.observe(family, 0, no_labels, 2s);         // overflow
  worker.observe(family, 0, no_labels, 7500us);

  const std::string text = registry.scrape();
  EXPECT_EQ(value_of(text, "sluice_latency_seconds_bucket{le=\"0.001\"}"), 2);
  EXPECT_EQ(value_of(text, "sluice_latency_seconds_bucket{le=\"0.01\"}"), 4);
  EXPECT_EQ(value_of(text, "sluice_latency_seconds_bucket{le=\"0.1\"}"), 5);
  EXPECT_EQ(value_of(text, "sluice_latency_seconds_bucket{le=\"+Inf\"}"), 6);
  EXPECT_EQ(value_of(text, "sluice_latency_seconds_count"), 6);
  EXPECT_DOUBLE_EQ(value_of(text, "sluice_latency_seconds_sum"), 2.109500001);
}

TEST(MetricsRegistryTest, IntegerHistogram) {
  MetricsRegistry registry;
  auto family = registry.add_histogram("sluice_response_size_bytes", "Body bytes.", {"endpoint"},
                                       {100, 1000}, HistogramUnit::kInteger);
  WorkerMetrics& worker = registry.add_worker();
  auto chat = [] { return labels("chat"); };
  worker.observe(family, 1, chat, std::uint64_t{100});
  worker.observe(family, 1, chat, std::uint64_t{101});
  worker.observe(family, 1, chat, std::uint64_t{5000});
  const std::string text = registry.scrape();
  EXPECT_NE(text.find("sluice_response_size_bytes_bucket{endpoint=\"chat\",le=\"100\"} 1\n"
                      "sluice_response_size_bytes_bucket{endpoint=\"chat\",le=\"1000\"} 2\n"
                      "sluice_response_size_bytes_bucket{endpoint=\"chat\",le=\"+Inf\"} 3\n"
                      "sluice_response_size_bytes_sum{endpoint=\"chat\"} 5201\n"
                      "sluice_response_size_bytes_count{endpoint=\"chat\"} 3\n"),
            std::string::npos)
      << text;
}

TEST(MetricsRegistryTest, GaugesSumSignedAcrossWorkers) {
  MetricsRegistry registry;
  auto open = registry.add_gauge("sluice_connections_open", "Open connections.");
  WorkerMetrics& a = registry.add_worker();
  WorkerMetrics& b = registry.add_worker();
  a.add(open, 0, no_labels, 3);
  b.add(open, 0, no_labels, -5);  // closed on b, opened on a: per worker it can go negative
  EXPECT_EQ(value_of(registry.scrape(), "sluice_connections_open"), -2);
}

TEST(MetricsRegistryTest, HandlesRecordIntoTheSameSeriesAsKeys) {
  MetricsRegistry registry;
  auto requests = registry.add_counter("sluice_requests_total", "Requests.", {"endpoint"});
  auto in_flight = registry.add_gauge("sluice_in_flight", "In flight.", {"endpoint"});
  auto latency = registry.add_histogram("sluice_latency_seconds", "Latency.", {}, {0.01});
  auto chat = registry.handle(requests, {"chat"});
  auto chat_in_flight = registry.handle(in_flight, {"chat"});
  auto all = registry.handle(latency);

  // Registered, so exported at 0 before anything is recorded.
  EXPECT_EQ(value_of(registry.scrape(), "sluice_requests_total{endpoint=\"chat\"}"), 0);

  WorkerMetrics& worker = registry.add_worker();
  worker.add(chat);
  worker.add(chat, 4);
  worker.add(requests, 9, [] { return labels("chat"); });
  worker.add(chat_in_flight, 2);
  worker.observe(all, 5ms);
  worker.observe(latency, 0, no_labels, 50ms);

  const std::string text = registry.scrape();
  EXPECT_EQ(value_of(text, "sluice_requests_total{endpoint=\"chat\"}"), 6);
  EXPECT_EQ(value_of(text, "sluice_in_flight{endpoint=\"chat\"}"), 2);
  EXPECT_EQ(value_of(text, "sluice_latency_seconds_bucket{le=\"0.01\"}"), 1);
  EXPECT_EQ(value_of(text, "sluice_latency_seconds_count"), 2);
}

TEST(MetricsRegistryTest, AWorkerResolvesAKeyToAHandleEveryWorkerCanUse) {
  MetricsRegistry registry;
  auto requests = registry.add_counter("sluice_requests_total", "Requests.", {"endpoint"});
  auto in_flight = registry.add_gauge("sluice_in_flight", "In flight.");
  auto latency = registry.add_histogram("sluice_latency_seconds", "Latency.", {"endpoint"}, {0.01});
  WorkerMetrics& a = registry.add_worker();
  WorkerMetrics& b = registry.add_worker();
  int calls = 0;
  auto chat = [&calls] {
    ++calls;
    return labels("chat");
  };
  // Registered as add() registers it, so exported at 0 before anything is recorded.
  CounterHandle chat_requests = a.handle(requests, 1, chat);
  EXPECT_EQ(value_of(registry.scrape(), "sluice_requests_total{endpoint=\"chat\"}"), 0);
  HistogramHandle chat_latency = a.handle(latency, 1, chat);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(a.handle(requests, 1, chat).slot, chat_requests.slot);  // found by key: no labels made
  EXPECT_EQ(calls, 2);

  a.add(chat_requests, 2);
  a.add(requests, 1, chat);
  b.add(chat_requests);  // a's handle names the series, not a's copy of it
  a.add(a.handle(in_flight, 0, no_labels), 1);
  b.add(a.handle(in_flight, 0, no_labels), 1);
  a.observe(chat_latency, 5ms);
  b.observe(chat_latency, 50ms);
  b.observe(latency, 1, chat, 1ms);
  EXPECT_EQ(b.handle(latency, 1, chat).bounds.size(), 1u);

  const std::string text = registry.scrape();
  EXPECT_EQ(value_of(text, "sluice_requests_total{endpoint=\"chat\"}"), 4);
  EXPECT_EQ(value_of(text, "sluice_in_flight"), 2);
  EXPECT_EQ(value_of(text, "sluice_latency_seconds_bucket{endpoint=\"chat\",le=\"0.01\"}"), 2);
  EXPECT_EQ(value_of(text, "sluice_latency_seconds_count{endpoint=\"chat\"}"), 3);
}

TEST(MetricsRegistryTest, TotalsReadTheRecordedIntegersWithoutTheText) {
  MetricsRegistry registry;
  auto cost = registry.add_counter("sluice_cost_usd_total", "Cost.", {"model"}, 1e-9);
  auto open = registry.add_gauge("sluice_connections_open", "Open connections.");
  auto latency =
      registry.add_histogram("sluice_latency_seconds", "Latency.", {"model"}, {0.001, 0.01});
  WorkerMetrics& a = registry.add_worker();
  WorkerMetrics& b = registry.add_worker();
  auto model = [](std::string name) { return [name] { return labels(name); }; };
  a.add(cost, 2, model("b"), 7);
  a.add(cost, 1, model("a"), 1'000'000'000);
  b.add(cost, 1, model("a"), 5);  // summed over workers
  a.add(open, 0, no_labels, 1);
  b.add(open, 0, no_labels, -3);
  a.observe(latency, 1, model("a"), 1ms);  // on the first bound
  b.observe(latency, 1, model("a"), 2ms);
  b.observe(latency, 1, model("a"), 1s);  // overflow

  auto c = registry.totals("sluice_cost_usd_total");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->type, MetricType::kCounter);
  EXPECT_EQ(c->label_names, std::vector<std::string>{"model"});
  EXPECT_DOUBLE_EQ(c->scale, 1e-9);
  ASSERT_EQ(c->series.size(), 2u);
  EXPECT_EQ(*c->series[0].labels, labels("a"));  // in order of label values
  EXPECT_EQ(c->series[0].values, std::vector<std::uint64_t>{1'000'000'005});
  EXPECT_EQ(*c->series[1].labels, labels("b"));
  EXPECT_EQ(c->series[1].values, std::vector<std::uint64_t>{7});

  auto g = registry.totals("sluice_connections_open");
  ASSERT_TRUE(g);
  ASSERT_EQ(g->series.size(), 1u);
  EXPECT_EQ(static_cast<std::int64_t>(g->series[0].values[0]), -2);

  auto h = registry.totals("sluice_latency_seconds");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->unit, HistogramUnit::kSeconds);
  EXPECT_EQ(h->bounds, (std::vector<std::uint64_t>{1'000'000, 10'000'000}));
  ASSERT_EQ(h->series.size(), 1u);
  // Each bucket's own count, the overflow, then the sum in nanoseconds.
  EXPECT_EQ(h->series[0].values,
            (std::vector<std::uint64_t>{1, 1, 1, 1'000'000 + 2'000'000 + 1'000'000'000}));

  EXPECT_FALSE(registry.totals("sluice_nothing_total"));
}

TEST(MetricsRegistryTest, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry registry;
  auto family = registry.add_counter("sluice_errors_total", "Errors,\nby \\ kind.", {"kind"});
  registry.add_worker().add(family, 0, [] { return labels("a\\b\"c\nd"); });
  const std::string text = registry.scrape();
  EXPECT_NE(text.find("# HELP sluice_errors_total Errors,\\nby \\\\ kind.\n"), std::string::npos);
  EXPECT_NE(text.find("sluice_errors_total{kind=\"a\\\\b\\\"c\\nd\"} 1\n"), std::string::npos)
      << text;
}

TEST(MetricsRegistryTest, DeclarationsAgainstTheRulesAreRefused) {
  MetricsRegistry registry;
  EXPECT_THROW(registry.add_counter("sluice_requests", "No _total."), std::invalid_argument);
  EXPECT_THROW(registry.add_counter("requests_total", "No prefix."), std::invalid_argument);
  EXPECT_THROW(registry.add_gauge("sluice_open_total", "A gauge with _total."),
               std::invalid_argument);
  EXPECT_THROW(registry.add_counter("sluice_x_total", "Bad label.", {"Endpoint"}),
               std::invalid_argument);
  EXPECT_THROW(registry.add_counter("sluice_x_total", "Label twice.", {"a", "a"}),
               std::invalid_argument);
  EXPECT_THROW(registry.add_histogram("sluice_x_seconds", "le is the histogram's.", {"le"}, {1}),
               std::invalid_argument);
  EXPECT_THROW(registry.add_histogram("sluice_latency", "Durations need _seconds.", {}, {1}),
               std::invalid_argument);
  EXPECT_THROW(registry.add_histogram("sluice_x_seconds", "Not increasing.", {}, {0.1, 0.1}),
               std::invalid_argument);
  EXPECT_THROW(registry.add_histogram("sluice_x_seconds", "Negative.", {}, {-1, 1}),
               std::invalid_argument);
  EXPECT_THROW(registry.add_histogram("sluice_x_seconds", "No bounds.", {}, {}),
               std::invalid_argument);
  EXPECT_THROW(registry.add_histogram("sluice_x_seconds", "Too many.", {},
                                      std::vector<double>(MetricsRegistry::kMaxBounds + 1, 1)),
               std::invalid_argument);
  EXPECT_THROW(registry.add_histogram("sluice_x_bytes", "Fractional bytes.", {}, {0.5},
                                      HistogramUnit::kInteger),
               std::invalid_argument);

  registry.add_counter("sluice_requests_total", "Requests.");
  EXPECT_THROW(registry.add_counter("sluice_requests_total", "Again."), std::invalid_argument);
}

TEST(MetricsRegistryTest, SeriesPastCapacityOrWithWrongLabelsAreNotExported) {
  // 64 sink slots + 6: room for six counter series.
  MetricsRegistry registry(70);
  auto family = registry.add_counter("sluice_hits_total", "Hits.", {"n"});
  WorkerMetrics& worker = registry.add_worker();
  for (int i = 0; i < 10; ++i) {
    worker.add(family, static_cast<SeriesKey>(i), [i] { return labels(std::to_string(i)); });
  }
  worker.add(family, 99, [] { return LabelValues{"a", "b"}; });  // one label name, two values
  const std::string text = registry.scrape();
  EXPECT_EQ(value_of(text, "sluice_hits_total{n=\"5\"}"), 1);
  EXPECT_EQ(value_of(text, "sluice_hits_total{n=\"6\"}"), -1);
  EXPECT_EQ(text.find("\"a\""), std::string::npos);
}

TEST(MetricsRegistryTest, ManyHistogramSeriesAcrossChunks) {
  MetricsRegistry registry;
  auto family =
      registry.add_histogram("sluice_latency_seconds", "Latency.", {"n"}, latency_bounds());
  WorkerMetrics& worker = registry.add_worker();
  // 18 slots a series: 200 series take seven chunks, none split across two.
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 200; ++i) {
      worker.observe(
          family, static_cast<SeriesKey>(i), [i] { return labels(std::to_string(i)); },
          std::chrono::milliseconds(i));
    }
  }
  const std::string text = registry.scrape();
  for (int i = 0; i < 200; ++i) {
    const std::string n = std::to_string(i);
    ASSERT_EQ(value_of(text, "sluice_latency_seconds_count{n=\"" + n + "\"}"), 3) << n;
    ASSERT_DOUBLE_EQ(value_of(text, "sluice_latency_seconds_sum{n=\"" + n + "\"}"), 0.003 * i);
  }
  EXPECT_EQ(value_of(text, "sluice_latency_seconds_bucket{n=\"10\",le=\"0.01\"}"), 3);
  EXPECT_EQ(value_of(text, "sluice_latency_seconds_bucket{n=\"11\",le=\"0.01\"}"), 0);
}

TEST(MetricsRegistryTest, Interning) {
  MetricsRegistry registry;
  const std::uint32_t gpt = registry.intern("gpt-4o");
  const std::uint32_t claude = registry.intern("claude-sonnet");
  EXPECT_EQ(gpt, 0u);
  EXPECT_EQ(claude, 1u);
  EXPECT_EQ(registry.intern("gpt-4o"), gpt);
  EXPECT_EQ(registry.label(gpt), "gpt-4o");
  EXPECT_EQ(registry.label(claude), "claude-sonnet");
  EXPECT_EQ(registry.label(99), "");
  const std::string_view kept = registry.label(gpt);
  for (int i = 0; i < 1000; ++i) registry.intern("model-" + std::to_string(i));
  EXPECT_EQ(kept, "gpt-4o") << "a label stays valid as more names are interned";
}

TEST(MetricsRegistryTest, CollectorsComeAfterTheFamilies) {
  MetricsRegistry registry;
  registry.add_gauge("sluice_a", "A.");
  registry.add_collector([&registry](SampleWriter& writer) {
    writer.family("sluice_cache_bytes", "Bytes per tier.", MetricType::kGauge);
    writer.sample({{"tier", std::string(registry.label(registry.intern("memory")))}}, 42);
  });
  EXPECT_EQ(registry.scrape(),
            "# HELP sluice_a A.\n"
            "# TYPE sluice_a gauge\n"
            "# HELP sluice_cache_bytes Bytes per tier.\n"
            "# TYPE sluice_cache_bytes gauge\n"
            "sluice_cache_bytes{tier=\"memory\"} 42\n");
}

// Workers record from their own threads while another thread scrapes: every scrape sees each
// counter at or above the previous scrape's value, and the last one sees every increment.
TEST(MetricsRegistryTest, ConcurrentRecordingAndScrapesSumExactly) {
  constexpr int kWorkers = 4;
  constexpr int kRounds = 1'000'000;
  MetricsRegistry registry;
  auto requests = registry.add_counter("sluice_requests_total", "Requests.", {"status"});
  auto in_flight = registry.add_gauge("sluice_in_flight", "In flight.");
  auto latency = registry.add_histogram("sluice_latency_seconds", "Latency.", {}, {0.001});
  auto bytes = registry.handle(registry.add_counter("sluice_bytes_total", "Bytes."));
  std::vector<WorkerMetrics*> workers;
  for (int i = 0; i < kWorkers; ++i) workers.push_back(&registry.add_worker());

  std::atomic<int> running{kWorkers};
  std::vector<std::thread> threads;
  for (WorkerMetrics* worker : workers) {
    threads.emplace_back([&, worker] {
      for (int i = 0; i < kRounds; ++i) {
        const int status = i % 2 ? 200 : 500;
        worker->add(in_flight, 0, no_labels, 1);
        worker->add(requests, static_cast<SeriesKey>(status),
                    [status] { return labels(std::to_string(status)); });
        worker->add(bytes, 3);
        worker->observe(latency, 0, no_labels, std::chrono::microseconds(i % 3 ? 10 : 5000));
        worker->add(in_flight, 0, no_labels, -1);
      }
      running.fetch_sub(1);
    });
  }

  double last_ok = 0, last_bytes = 0, last_count = 0;
  int scrapes = 0;
  std::string text;
  // A series is exported once a worker has met it: until then, count it as 0.
  auto sample = [&text](const std::string& series) {
    return text.find("\n" + series + " ") == std::string::npos ? 0.0 : value_of(text, series);
  };
  while (running.load() > 0) {
    text.clear();
    registry.scrape(text);
    ++scrapes;
    const double ok = sample("sluice_requests_total{status=\"200\"}");
    const double sent = sample("sluice_bytes_total");
    const double count = sample("sluice_latency_seconds_count");
    EXPECT_GE(ok, last_ok);
    EXPECT_GE(sent, last_bytes);
    EXPECT_GE(count, last_count);
    EXPECT_EQ(sample("sluice_latency_seconds_bucket{le=\"+Inf\"}"), count);
    const double open = sample("sluice_in_flight");
    EXPECT_GE(open, 0);
    EXPECT_LE(open, kWorkers);
    last_ok = ok, last_bytes = sent, last_count = count;
  }
  for (auto& thread : threads) thread.join();

  text = registry.scrape();
  constexpr double kTotal = double{kWorkers} * kRounds;
  EXPECT_EQ(value_of(text, "sluice_requests_total{status=\"200\"}"), kTotal / 2);
  EXPECT_EQ(value_of(text, "sluice_requests_total{status=\"500\"}"), kTotal / 2);
  EXPECT_EQ(value_of(text, "sluice_bytes_total"), 3 * kTotal);
  EXPECT_EQ(value_of(text, "sluice_in_flight"), 0);
  EXPECT_EQ(value_of(text, "sluice_latency_seconds_count"), kTotal);
  // i % 3 == 0 takes 5 ms, past the bound: kRounds / 3 rounded up per worker.
  EXPECT_EQ(value_of(text, "sluice_latency_seconds_bucket{le=\"0.001\"}"),
            kTotal - kWorkers * ((kRounds + 2) / 3));
  EXPECT_GT(scrapes, 1);
}

// promtool (Debian's prometheus package) checks the exposition of every kind of family: format,
// and its linter's naming rules.
TEST(MetricsRegistryTest, PromtoolAcceptsTheExposition) {
  if (!std::filesystem::exists("/usr/bin/promtool")) GTEST_SKIP() << "promtool is not installed";
  MetricsRegistry registry;
  auto requests =
      registry.add_counter("sluice_requests_total", "Requests answered.", {"endpoint", "status"});
  auto in_flight = registry.add_gauge("sluice_requests_in_flight", "Requests being answered.");
  auto latency = registry.add_histogram("sluice_request_duration_seconds", "Time to last byte.",
                                        {"model"}, latency_bounds());
  auto sizes = registry.add_histogram("sluice_response_size_bytes", "Response body bytes.", {},
                                      {256, 4096, 65536}, HistogramUnit::kInteger);
  registry.add_counter("sluice_retries_total", "Retries (none yet).", {"model"});
  registry.add_collector(write_process_stats);
  registry.add_collector([](SampleWriter& writer) {
    writer.family("sluice_cache_bytes", "Bytes held by each cache tier.", MetricType::kGauge);
    writer.sample({{"tier", "memory"}}, 1 << 20);
    writer.sample({{"tier", "disk"}}, 0.5);
  });
  WorkerMetrics& worker = registry.add_worker();
  worker.add(requests, pack_key(1, 200), [] { return LabelValues{"chat", "200"}; });
  worker.add(requests, pack_key(1, 400), [] { return LabelValues{"odd \"\\\n", "400"}; });
  worker.add(in_flight, 0, no_labels, 1);
  worker.observe(
      latency, 0, [] { return labels("gpt-4o"); }, 42ms);
  worker.observe(sizes, 0, no_labels, std::uint64_t{1000});

  sluice::testing::TempDir dir;
  const std::string file = dir.write("scrape.txt", registry.scrape());
  const auto checked = sluice::testing::run_command("/usr/bin/promtool check metrics < " + file);
  EXPECT_EQ(checked.status, 0) << checked.output;
  EXPECT_EQ(checked.output, "");
}

}  // namespace
}  // namespace sluice::metrics
