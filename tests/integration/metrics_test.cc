// GET /metrics end to end (docs/observability.md): a real `sluice serve` in front of a real
// `sluice mock`, mixed traffic (misses, hits, a stream, an unknown model, a bad body), then a
// scrape whose counters must equal what the client saw, whose histograms must count every
// request, and which Prometheus's own `promtool check metrics` accepts; a real Prometheus
// server, started here, that scrapes the gateway and answers a query for the request counter,
// and every query of the Grafana dashboard (deploy/grafana/sluice.json), each of whose metric
// names the scrape must declare. With `metrics: {enabled: false}` there is no /metrics.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cctype>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "support/await.h"
#include "support/command.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/openai_error.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

// Every sample of a scrape: "name{labels}" -> value (labels as the exposition wrote them).
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

// Every family a scrape declares ("# TYPE name type"): name -> type.
std::map<std::string, std::string> families(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    static const std::regex type(R"(^# TYPE (\S+) (\S+)$)");
    if (std::regex_match(line, m, type)) out[m[1]] = m[2];
  }
  return out;
}

// A query string value, percent-encoded.
std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The PromQL of every panel of the dashboard, rows' nested panels included: title -> queries.
std::vector<std::pair<std::string, std::string>> dashboard_queries(const json::object& dashboard) {
  std::vector<std::pair<std::string, std::string>> out;
  std::function<void(const json::array&)> walk = [&](const json::array& panels) {
    for (const json::value& v : panels) {
      const json::object& panel = v.as_object();
      if (const json::value* nested = panel.if_contains("panels")) walk(nested->as_array());
      const json::value* targets = panel.if_contains("targets");
      if (targets == nullptr) continue;
      for (const json::value& t : targets->as_array()) {
        out.emplace_back(std::string(panel.at("title").as_string()),
                         std::string(t.at("expr").as_string()));
      }
    }
  };
  walk(dashboard.at("panels").as_array());
  return out;
}

// What Grafana puts in place of the dashboard's variables before it sends a query.
std::string as_grafana_sends(std::string expr) {
  for (auto [from, to] :
       {std::pair<std::string, std::string>{"$__rate_interval", "1m"}, {"$instance", ".*"}}) {
    for (std::size_t at; (at = expr.find(from)) != std::string::npos;) {
      expr.replace(at, from.size(), to);
    }
  }
  return expr;
}

std::string chat(const std::string& content, bool stream = false) {
  std::string body = R"({"model":"fast","messages":[{"role":"user","content":")" + content +
                     R"("}],"max_tokens":8)";
  if (stream) body += R"(,"stream":true,"stream_options":{"include_usage":true})";
  return body + "}";
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = start_mock(dir_);
    gateway_ = start_gateway(dir_, R"(
cache: {enabled: true}
coalesce: {enabled: false}
providers:
  - name: local
    kind: openai
    base_url: )" + mock_.base_url() + R"(
models:
  - name: fast
    deployments:
      - provider: local
        model: llama-3.1-8b
        input_cost_per_mtok: 1000
        output_cost_per_mtok: 2000
)");
    ASSERT_NE(gateway_.port, 0) << gateway_.process->log();
  }

  // Sends the mixed traffic and tallies what the client saw.
  void send_traffic() {
    auto send = [&](const std::string& body) {
      auto r = request(gateway_.port, "POST", "/v1/chat/completions", body);
      ASSERT_TRUE(r);
      std::string cache = r->header("x-sluice-cache");
      ++seen_[std::to_string(r->status) + "/" + cache];
      if (r->status == 200 && cache != "hit") {
        // The usage the client was told, from the JSON answer or the stream's usage chunk.
        std::smatch m;
        std::regex prompt(R"re("prompt_tokens":(\d+))re"),
            completion(R"re("completion_tokens":(\d+))re");
        if (std::regex_search(r->body, m, prompt)) prompt_tokens_ += std::stoull(m[1]);
        if (std::regex_search(r->body, m, completion)) completion_tokens_ += std::stoull(m[1]);
        ++upstream_calls_;
      }
    };
    started_ = Clock::now();
    for (int i = 0; i < 3; ++i) send(chat("same question"));  // a miss, then two hits
    send(chat("another question"));
    send(chat("a third question"));
    send(chat("a streamed question", true));
    auto unknown = request(gateway_.port, "POST", "/v1/chat/completions",
                           R"({"model":"nope","messages":[{"role":"user","content":"x"}]})");
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, 404);
    auto bad = request(gateway_.port, "POST", "/v1/chat/completions", "{not json");
    ASSERT_TRUE(bad);
    EXPECT_EQ(bad->status, 400);
    elapsed_ = Clock::now() - started_;
  }

  // A real Prometheus scraping the gateway every second; returns its port.
  std::uint16_t start_prometheus() {
    std::uint16_t port = free_port();
    std::string config = dir_.write("prometheus.yml", R"(
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - job_name: sluice
    static_configs: [{targets: ["127.0.0.1:)" + std::to_string(gateway_.port) +
                                                          R"("]}]
)");
    prometheus_ = Process::start({"/usr/bin/prometheus", "--config.file=" + config,
                                  "--storage.tsdb.path=" + dir_.file("tsdb").string(),
                                  "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                                 dir_.file("prometheus.log").string());
    return port;
  }

  // Prometheus's answer to an instant query: its "data.result", or nullopt with the error.
  std::optional<json::array> query(std::uint16_t port, const std::string& promql,
                                   std::string* error = nullptr) {
    auto r = request(port, "GET", "/api/v1/query?query=" + url_encode(promql));
    if (!r) {
      if (error) *error = "no answer";
      return std::nullopt;
    }
    json::value doc = json::parse(r->body);
    if (r->status != 200 || doc.at("status") != "success") {
      if (error) *error = std::to_string(r->status) + " " + r->body;
      return std::nullopt;
    }
    return doc.at("data").at("result").as_array();
  }

  std::string scrape() {
    auto r = request(gateway_.port, "GET", "/metrics");
    EXPECT_TRUE(r);
    if (!r) return "";
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    return r->body;
  }

  TempDir dir_;
  MockUpstream mock_;
  Gateway gateway_;
  std::map<std::string, int> seen_;  // "status/x-sluice-cache" -> requests
  std::uint64_t prompt_tokens_ = 0, completion_tokens_ = 0;
  int upstream_calls_ = 0;
  Clock::time_point started_;
  Clock::duration elapsed_{};
  std::unique_ptr<Process> prometheus_;
};

TEST_F(MetricsTest, TheCountersAndHistogramsMatchTheTraffic) {
  send_traffic();
  ASSERT_EQ(seen_["200/miss"], 4);
  ASSERT_EQ(seen_["200/hit"], 2);
  // A request is recorded just after its answer is sent: once the scrape is the only request in
  // flight, every one before it is in the counts.
  std::map<std::string, double> s;
  ASSERT_TRUE(eventually(
      [&] {
        s = samples(scrape());
        return s["sluice_requests_in_flight"] == 1;
      },
      std::chrono::seconds(5)));

  const std::string fast = R"(endpoint="chat",model="fast")";
  EXPECT_EQ(s["sluice_requests_total{" + fast + R"(,status="200",cache="miss"})"], 4);
  EXPECT_EQ(s["sluice_requests_total{" + fast + R"(,status="200",cache="hit"})"], 2);
  // The unknown model is counted without its made-up name; the bad body before any model.
  EXPECT_EQ(s[R"(sluice_requests_total{endpoint="chat",model="",status="404",cache=""})"], 1);
  EXPECT_EQ(s[R"(sluice_requests_total{endpoint="chat",model="",status="400",cache=""})"], 1);

  // Every answered request is in the duration histogram, and the sum is real time.
  EXPECT_EQ(s["sluice_request_duration_seconds_count{" + fast + "}"], 6);
  EXPECT_EQ(s["sluice_request_duration_seconds_bucket{" + fast + R"(,le="+Inf"})"], 6);
  double sum = s["sluice_request_duration_seconds_sum{" + fast + "}"];
  EXPECT_GT(sum, 0);
  EXPECT_LE(sum, std::chrono::duration<double>(elapsed_).count());
  EXPECT_EQ(s[R"(sluice_time_to_first_token_seconds_count{model="fast"})"], 1);
  EXPECT_EQ(s[R"(sluice_upstream_duration_seconds_count{deployment="local/llama-3.1-8b"})"],
            upstream_calls_);
  EXPECT_EQ(s[R"(sluice_gateway_overhead_seconds_count{endpoint="chat"})"], 8);

  // Tokens the upstream reported (hits spent none), and their cost at the configured prices.
  ASSERT_GT(prompt_tokens_, 0u);
  EXPECT_EQ(s[R"(sluice_tokens_total{model="fast",kind="prompt"})"], prompt_tokens_);
  EXPECT_EQ(s[R"(sluice_tokens_total{model="fast",kind="completion"})"], completion_tokens_);
  double cost = (prompt_tokens_ * 1000.0 + completion_tokens_ * 2000.0) / 1e6;
  EXPECT_NEAR(s[R"(sluice_cost_usd_total{model="fast"})"], cost, 1e-6);
  EXPECT_GT(s[R"(sluice_saved_usd_total{model="fast"})"], 0);

  EXPECT_EQ(s[R"(sluice_cache_hits_total{tier="memory"})"], 2);
  EXPECT_EQ(s[R"(sluice_deployment_up{model="fast",deployment="local/llama-3.1-8b"})"], 1);
  EXPECT_EQ(s[R"(sluice_deployment_requests_total{model="fast",deployment="local/llama-3.1-8b"})"],
            upstream_calls_);
  EXPECT_EQ(s["sluice_requests_in_flight"], 1);  // the scrape itself
  EXPECT_GT(s["sluice_process_resident_memory_bytes"], 0);
  EXPECT_GE(s["sluice_open_connections"], 1);
}

TEST_F(MetricsTest, PromtoolAcceptsTheScrape) {
  send_traffic();
  std::string path = dir_.write("scrape.txt", scrape());
  CommandResult checked = run_command("promtool check metrics < " + path);
  EXPECT_EQ(checked.status, 0) << checked.output;
  EXPECT_EQ(checked.output, "") << "promtool's linter complained";
}

TEST_F(MetricsTest, APrometheusServerScrapesTheGateway) {
  send_traffic();
  std::uint16_t port = start_prometheus();
  // Prometheus has scraped once it knows the series; the query API then answers with its value.
  const std::string query =
      "/api/v1/query?query=sum(sluice_requests_total%7Bmodel%3D%22fast%22%7D)";
  double value = -1;
  for (auto deadline = Clock::now() + 30s; Clock::now() < deadline && value != 6;) {
    std::this_thread::sleep_for(250ms);
    auto r = request(port, "GET", query);
    if (!r || r->status != 200) continue;
    json::object o = json::parse(r->body).as_object();
    const json::array& result = o.at("data").at("result").as_array();
    if (result.empty()) continue;
    value = std::stod(std::string(result[0].at("value").as_array()[1].as_string()));
  }
  EXPECT_EQ(value, 6) << prometheus_->log();
}

TEST_F(MetricsTest, EveryGrafanaPanelQueriesMetricsTheGatewayServes) {
  std::ifstream file(std::string(SLUICE_SOURCE_DIR) + "/deploy/grafana/sluice.json");
  ASSERT_TRUE(file) << "deploy/grafana/sluice.json is missing";
  std::stringstream text;
  text << file.rdbuf();
  json::object dashboard = json::parse(text.str()).as_object();

  // A Grafana dashboard of today's model whose panels all read the chosen Prometheus.
  EXPECT_GE(dashboard.at("schemaVersion").as_int64(), 36);
  bool datasource_variable = false;
  for (const json::value& v : dashboard.at("templating").at("list").as_array()) {
    datasource_variable |= v.at("name") == "datasource" && v.at("type") == "datasource" &&
                           v.at("query") == "prometheus";
  }
  EXPECT_TRUE(datasource_variable) << "no `datasource` template variable";
  std::set<std::int64_t> ids;
  for (const json::value& v : dashboard.at("panels").as_array()) {
    const json::object& panel = v.as_object();
    EXPECT_TRUE(ids.insert(panel.at("id").as_int64()).second) << "panel id used twice";
    if (panel.at("type") == "row") continue;
    EXPECT_EQ(panel.at("datasource").at("uid"), "${datasource}") << panel.at("title");
    EXPECT_FALSE(panel.at("targets").as_array().empty()) << panel.at("title");
  }

  // Every sluice_* name in a query is a family the gateway declares, after mixed traffic; a
  // histogram's _bucket, _sum and _count series belong to the histogram.
  send_traffic();
  std::map<std::string, std::string> declared = families(scrape());
  auto queries = dashboard_queries(dashboard);
  ASSERT_GE(queries.size(), 20u);
  std::set<std::string> used;
  static const std::regex name(R"(\bsluice_[a-z0-9_]+)");
  for (const auto& [title, expr] : queries) {
    for (std::sregex_iterator it(expr.begin(), expr.end(), name), end; it != end; ++it) {
      std::string metric = it->str();
      used.insert(metric);
      if (declared.count(metric)) {
        EXPECT_NE(declared[metric], "histogram")
            << title << ": " << metric << " is a histogram; query its _bucket, _sum or _count";
        continue;
      }
      bool series_of_histogram = false;
      for (std::string suffix : {"_bucket", "_sum", "_count"}) {
        if (metric.ends_with(suffix)) {
          std::string base = metric.substr(0, metric.size() - suffix.size());
          series_of_histogram |= declared.count(base) && declared[base] == "histogram";
        }
      }
      EXPECT_TRUE(series_of_histogram) << title << ": " << metric << " is not in the scrape";
    }
  }
  // The dashboard shows every family the request path records.
  for (const char* family : {"sluice_requests_total",
                             "sluice_request_duration_seconds_bucket",
                             "sluice_time_to_first_token_seconds_bucket",
                             "sluice_upstream_duration_seconds_bucket",
                             "sluice_gateway_overhead_seconds_bucket",
                             "sluice_cache_hits_total",
                             "sluice_tokens_total",
                             "sluice_cost_usd_total",
                             "sluice_saved_usd_total",
                             "sluice_coalesced_requests_total",
                             "sluice_retries_total",
                             "sluice_fallbacks_total",
                             "sluice_rate_limited_requests_total",
                             "sluice_deployment_up",
                             "sluice_deployment_breaker_state",
                             "sluice_deployment_ejections_total",
                             "sluice_stage_seconds_total",
                             "sluice_key_cost_usd_total",
                             "sluice_alerts_firing",
                             "sluice_requests_in_flight",
                             "sluice_open_connections",
                             "sluice_process_resident_memory_bytes",
                             "sluice_process_cpu_seconds_total"}) {
    EXPECT_TRUE(used.count(family)) << "the dashboard does not show " << family;
  }

  // Prometheus itself evaluates every query without an error, once it has scraped enough for
  // rates; the request rate then has a value.
  std::uint16_t port = start_prometheus();
  const std::string rate = "sum(rate(sluice_requests_total[1m]))";
  bool scraped = false;
  for (auto deadline = Clock::now() + 30s; Clock::now() < deadline && !scraped;) {
    std::this_thread::sleep_for(250ms);
    auto result = query(port, rate);
    scraped = result && !result->empty();
  }
  ASSERT_TRUE(scraped) << prometheus_->log();
  for (const auto& [title, expr] : queries) {
    std::string error;
    auto result = query(port, as_grafana_sends(expr), &error);
    EXPECT_TRUE(result) << title << ": " << expr << "\n" << error;
  }
}

TEST(MetricsOffTest, NoMetricsRouteAndRequestsStillServed) {
  TempDir dir;
  MockUpstream mock = start_mock(dir);
  Gateway gateway = start_gateway(dir, R"(
metrics: {enabled: false}
providers:
  - name: local
    kind: openai
    base_url: )" + mock.base_url() + R"(
models:
  - name: fast
    deployments:
      - provider: local
        model: llama-3.1-8b
)");
  ASSERT_NE(gateway.port, 0) << gateway.process->log();
  auto answered = request(gateway.port, "POST", "/v1/chat/completions", chat("hello"));
  ASSERT_TRUE(answered);
  EXPECT_EQ(answered->status, 200);
  auto metrics = request(gateway.port, "GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 404);
  EXPECT_EQ(openai_error(*metrics).at("code"), "unknown_url");
  // The performance API and the alerts read the same counters: they say they are off.
  for (const char* path : {"/admin/stats", "/admin/alerts"}) {
    auto off = request(gateway.port, "GET", path);
    ASSERT_TRUE(off);
    EXPECT_EQ(off->status, 404) << path;
    EXPECT_NE(
        std::string(openai_error(*off).at("message").as_string()).find("metrics, which are off"),
        std::string::npos)
        << off->body;
  }
}

}  // namespace
}  // namespace sluice::testing
