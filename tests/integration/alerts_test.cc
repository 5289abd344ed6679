// Alerts end to end (docs/observability.md, "Alerts"): a real `sluice serve` with an error_rate
// rule over a 3 s window and a webhook pointed at a loopback receiver in the test. Faults
// through the mock make it fire (GET /admin/alerts, the receiver's POST, the gauges); when the
// faults stop and the window passes it resolves, and the receiver hears that too. A receiver
// that is not there is counted in sluice_alert_webhook_failures_total.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <mutex>
#include <regex>
#include <thread>
#include <vector>

#include "support/await.h"
#include "support/fake_upstream.h"
#include "support/http_client.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;

std::string chat(const std::string& content) {
  return R"({"model":"fast","messages":[{"role":"user","content":")" + content +
         R"("}],"max_tokens":4})";
}

// A webhook receiver: keeps the body of every POST it gets and answers 204.
class Receiver {
 public:
  Receiver()
      : server_([this](const std::string& request) {
          std::lock_guard lock(mutex_);
          requests_.push_back(request);
          return std::string("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        }) {}

  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_.port()) + "/hook"; }

  // The JSON bodies received so far.
  std::vector<json::object> bodies() {
    std::lock_guard lock(mutex_);
    std::vector<json::object> out;
    for (const std::string& r : requests_) {
      auto at = r.find("\r\n\r\n");
      if (at != std::string::npos) out.push_back(json::parse(r.substr(at + 4)).as_object());
    }
    return out;
  }
  std::string first_head() {
    std::lock_guard lock(mutex_);
    return requests_.empty() ? "" : requests_[0].substr(0, requests_[0].find("\r\n\r\n"));
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> requests_;
  FakeUpstream server_;
};

class AlertsTest : public ::testing::Test {
 protected:
  void SetUp() override { mock_ = start_mock(dir_); }

  void start(const std::string& webhook_url) {
    gateway_ = start_gateway(dir_, R"(
coalesce: {enabled: false}
providers:
  - name: local
    kind: openai
    base_url: )" + mock_.base_url() + R"(
    forward_headers: [x-mock-*]
models:
  - name: fast
    retries: {max_attempts: 1}
    health: {outlier: {enabled: false}, breaker: {enabled: false}}
    deployments:
      - provider: local
        model: llama-3.1-8b
alerts:
  webhook: {url: ")" + webhook_url + R"(", timeout: 1s}
  rules:
    - {name: errors, kind: error_rate, threshold: 0.5, window: 3s, min_requests: 3}
    - {name: huge, kind: memory, threshold: 64GiB}
)");
    ASSERT_NE(gateway_.port, 0) << gateway_.process->log();
  }

  void faults(int n) {
    for (int i = 0; i < n; ++i) {
      auto r = request(gateway_.port, "POST", "/v1/chat/completions", chat("f" + std::to_string(i)),
                       {{"x-mock-status", "500"}});
      ASSERT_TRUE(r);
      EXPECT_EQ(r->status, 500);
    }
  }

  json::object alerts() {
    auto r = request(gateway_.port, "GET", "/admin/alerts");
    EXPECT_TRUE(r);
    if (!r || r->status != 200) return {};
    return json::parse(r->body).as_object();
  }

  // The state of rule `name` once it is `state`, or the last one seen after `timeout`.
  json::object wait_for_alert(const std::string& name, const std::string& state,
                              std::chrono::milliseconds timeout) {
    json::object last;
    eventually(
        [&] {
          json::object body = alerts();
          if (!body.contains("alerts")) return false;
          for (const json::value& a : body["alerts"].as_array()) {
            if (a.at("name") == name.c_str()) last = a.as_object();
          }
          return last["state"] == state.c_str();
        },
        timeout, 100ms);
    return last;
  }

  double metric(const std::string& series) {
    auto r = request(gateway_.port, "GET", "/metrics");
    if (!r) return -1;
    auto at = r->body.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(r->body.substr(at + series.size() + 2));
  }

  TempDir dir_;
  MockUpstream mock_;
  Gateway gateway_;
};

TEST_F(AlertsTest, FiresOnFaultsAndResolvesWhenTheyStop) {
  Receiver receiver;
  start(receiver.url());
  json::object before = alerts();
  EXPECT_EQ(before["firing"], 0);
  ASSERT_EQ(before["alerts"].as_array().size(), 2u);
  const json::object& idle = before["alerts"].as_array()[0].as_object();
  EXPECT_EQ(idle.at("state"), "ok");
  EXPECT_TRUE(idle.at("since").is_null());
  EXPECT_EQ(idle.at("kind"), "error_rate");
  EXPECT_EQ(idle.at("threshold").as_double(), 0.5);
  EXPECT_EQ(idle.at("window_seconds").as_double(), 3);
  // The memory rule reads the process's resident bytes, far below 64 GiB.
  const json::object& memory = before["alerts"].as_array()[1].as_object();
  EXPECT_EQ(memory.at("state"), "ok");
  EXPECT_TRUE(memory.at("window_seconds").is_null());

  faults(5);
  json::object firing = wait_for_alert("errors", "firing", 5s);
  ASSERT_EQ(firing["state"], "firing") << json::serialize(firing);
  EXPECT_EQ(firing["value"].as_double(), 1);
  EXPECT_TRUE(firing["since"].is_string());
  EXPECT_TRUE(std::regex_match(std::string(firing["since"].as_string()),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));
  EXPECT_EQ(alerts()["firing"], 1);
  EXPECT_EQ(metric(R"(sluice_alert_firing{alert="errors"})"), 1);
  EXPECT_EQ(metric("sluice_alerts_firing"), 1);

  eventually([&] { return !receiver.bodies().empty(); }, 5s, 50ms);
  std::vector<json::object> bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 1u);
  EXPECT_NE(receiver.first_head().find("POST /hook HTTP/1.1"), std::string::npos);
  EXPECT_EQ(bodies[0]["alert"], "errors");
  EXPECT_EQ(bodies[0]["kind"], "error_rate");
  EXPECT_EQ(bodies[0]["state"], "firing");
  EXPECT_EQ(bodies[0]["value"].as_double(), 1);
  EXPECT_EQ(bodies[0]["threshold"].as_double(), 0.5);
  EXPECT_EQ(bodies[0]["window_seconds"].as_double(), 3);
  EXPECT_TRUE(std::regex_match(std::string(bodies[0]["at"].as_string()),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")));

  // Good traffic pushes the rate under the threshold; then the faults leave the window.
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(request(gateway_.port, "POST", "/v1/chat/completions", chat("ok"))->status, 200);
  }
  json::object resolved = wait_for_alert("errors", "ok", 8s);
  ASSERT_EQ(resolved["state"], "ok") << json::serialize(resolved);
  EXPECT_TRUE(resolved["since"].is_null());
  EXPECT_EQ(metric(R"(sluice_alert_firing{alert="errors"})"), 0);
  eventually([&] { return receiver.bodies().size() >= 2; }, 5s, 50ms);
  bodies = receiver.bodies();
  ASSERT_EQ(bodies.size(), 2u);
  EXPECT_EQ(bodies[1]["alert"], "errors");
  EXPECT_EQ(bodies[1]["state"], "resolved");
  EXPECT_EQ(metric(R"(sluice_alert_webhook_failures_total{reason="delivery"})"), 0);
  EXPECT_TRUE(gateway_.process->wait_for_log("alert errors firing", 1s));
  EXPECT_TRUE(gateway_.process->wait_for_log("alert errors resolved", 1s));
}

TEST_F(AlertsTest, ADeadReceiverIsCountedAndDelaysNothing) {
  start("http://127.0.0.1:" + std::to_string(closed_port()) + "/hook");
  faults(4);
  json::object firing = wait_for_alert("errors", "firing", 5s);
  EXPECT_EQ(firing["state"], "firing");
  double failures = 0;
  eventually(
      [&] {
        failures = metric(R"(sluice_alert_webhook_failures_total{reason="delivery"})");
        return failures >= 1;
      },
      5s, 100ms);
  EXPECT_EQ(failures, 1);
  EXPECT_TRUE(gateway_.process->wait_for_log("alerts: webhook", 1s));
  // The gateway goes on answering, and the sampler goes on ticking.
  EXPECT_EQ(request(gateway_.port, "POST", "/v1/chat/completions", chat("still"))->status, 200);
  json::object resolved = wait_for_alert("errors", "ok", 8s);
  EXPECT_EQ(resolved["state"], "ok");
}

TEST_F(AlertsTest, MethodsOtherThanGetAreRefused) {
  Receiver receiver;
  start(receiver.url());
  auto r = request(gateway_.port, "DELETE", "/admin/alerts");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET, HEAD");
}

}  // namespace
}  // namespace sluice::testing
