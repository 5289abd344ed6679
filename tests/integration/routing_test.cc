// Routing and resilience end to end (docs/routing.md): several real `sluice mock` upstreams
// behind one gateway, with faults switched on and off at run time (POST /mock/faults), and the
// routing decisions seen from outside: which upstream got each request, what the client got,
// and what /admin/deployments says.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "support/await.h"
#include "support/fake_upstream.h"
#include "support/http_client.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

std::string chat_body(const std::string& model, const std::string& user = {}, bool stream = false) {
  std::string body = R"({"model":")" + model +
                     R"(","messages":[{"role":"user","content":"Say hello"}],"max_tokens":4)";
  if (!user.empty()) body += R"(,"user":")" + user + "\"";
  if (stream) body += R"(,"stream":true)";
  return body + "}";
}

std::optional<Response> chat(std::uint16_t port, const std::string& model,
                             const std::string& user = {}) {
  return request(port, "POST", "/v1/chat/completions", chat_body(model, user));
}

// `provider` entries for each mock, named up0, up1, ... Coalescing is off: these tests count
// upstream requests, and identical concurrent requests would be joined into one.
std::string providers_yaml(const std::vector<MockUpstream>& mocks) {
  std::string out = "coalesce: {enabled: false}\nproviders:\n";
  for (std::size_t i = 0; i < mocks.size(); ++i) {
    out += "  - name: up" + std::to_string(i) +
           "\n    kind: openai\n    base_url: " + mocks[i].base_url() + "\n";
  }
  return out;
}

std::string deployments_yaml(std::size_t n, const std::string& extra = {}) {
  std::string out = "    deployments:\n";
  for (std::size_t i = 0; i < n; ++i) {
    out += "      - provider: up" + std::to_string(i) + "\n";
    if (!extra.empty()) out += "        " + extra + "\n";
  }
  return out;
}

json::object admin_deployment(std::uint16_t port, const std::string& model, const std::string& id) {
  auto r = request(port, "GET", "/admin/deployments");
  if (!r || r->status != 200) return {};
  const json::value doc = json::parse(r->body);
  for (const auto& m : doc.at("data").as_array()) {
    if (m.at("model") != json::value(model)) continue;
    for (const auto& d : m.at("deployments").as_array()) {
      if (d.at("id") == json::value(id)) return d.as_object();
    }
  }
  return {};
}

class RoutingTest : public ::testing::Test {
 protected:
  void start_mocks(std::size_t n, const std::vector<std::string>& args = {}) {
    for (std::size_t i = 0; i < n; ++i) {
      mocks_.push_back(start_mock(dir_, args, "mock" + std::to_string(i)));
    }
  }
  std::int64_t total_requests() const {
    std::int64_t n = 0;
    for (const auto& m : mocks_) n += m.requests();
    return n;
  }

  TempDir dir_;
  std::vector<MockUpstream> mocks_;
  Gateway gateway_;
};

TEST_F(RoutingTest, AFailingUpstreamIsInvisibleThenEjectedThenBackAfterRecovery) {
  start_mocks(3);
  // Round-robin, so the failing deployment keeps being chosen until it is ejected: p2c-ewma
  // (the default) learns to avoid it after one failure and, on a loaded machine, may not pick it
  // the three times ejection needs within the run.
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(models:
  - name: chat
    strategy: round-robin
    health:
      outlier: {consecutive_failures: 3, base_ejection: 1s}
)" + deployments_yaml(3));
  ASSERT_TRUE(mocks_[1].set_faults(R"({"status":500})"));
  for (int i = 0; i < 60; ++i) {
    auto r = chat(gateway_.port, "chat");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;  // every failure was retried elsewhere
  }
  json::object d = admin_deployment(gateway_.port, "chat", "up1/chat");
  EXPECT_EQ(d.at("state"), "ejected") << json::serialize(d);
  EXPECT_GE(d.at("failures").as_int64(), 3);
  // Ejected: the failing one stops getting traffic.
  std::int64_t before = mocks_[1].requests();
  for (int i = 0; i < 20; ++i) ASSERT_EQ(chat(gateway_.port, "chat")->status, 200);
  EXPECT_EQ(mocks_[1].requests(), before);

  // It recovers; once its ejection has run out it serves again.
  ASSERT_TRUE(mocks_[1].set_faults("{}"));
  std::this_thread::sleep_for(1200ms);
  before = mocks_[1].requests();
  for (int i = 0; i < 60; ++i) ASSERT_EQ(chat(gateway_.port, "chat")->status, 200);
  EXPECT_GT(mocks_[1].requests(), before);
  EXPECT_EQ(admin_deployment(gateway_.port, "chat", "up1/chat").at("state"), "healthy");
}

TEST_F(RoutingTest, P2cEwmaSendsUnderTenPercentToATenTimesSlowerUpstream) {
  start_mocks(3);
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(models:
  - name: chat
)" + deployments_yaml(3));
  ASSERT_TRUE(mocks_[0].set_faults(R"({"delay_ms":100})"));
  ASSERT_TRUE(mocks_[1].set_faults(R"({"delay_ms":10})"));
  ASSERT_TRUE(mocks_[2].set_faults(R"({"delay_ms":10})"));
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto r = chat(gateway_.port, "chat");
        if (!r || r->status != 200) ++failures;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  const double slow = static_cast<double>(mocks_[0].requests());
  const double total = static_cast<double>(total_requests());
  EXPECT_EQ(total, 300);
  EXPECT_LT(slow / total, 0.10) << slow << " of " << total;
}

TEST_F(RoutingTest, AHangingUpstreamIsLeftForAnotherWithinTheDeadline) {
  start_mocks(2);
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(workers: 1
models:
  - name: chat
    strategy: round-robin
    timeouts: {first_byte: 300ms, total: 3s}
)" + deployments_yaml(2));
  ASSERT_TRUE(mocks_[0].set_faults(R"({"hang":true})"));
  for (int i = 0; i < 4; ++i) {
    auto started = Clock::now();
    auto r = chat(gateway_.port, "chat");
    auto took = Clock::now() - started;
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->header("x-sluice-deployment"), "up1/chat");
    EXPECT_LT(took, 2s);
  }
}

TEST_F(RoutingTest, RetryAfterKeepsRequestsAwayForItsDuration) {
  start_mocks(2);
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(workers: 1
models:
  - name: chat
    strategy: round-robin
)" + deployments_yaml(2));
  ASSERT_TRUE(mocks_[0].set_faults(R"({"status":429,"retry_after":2})"));
  // Round-robin starts with up0: the first request meets the 429 and is retried on up1.
  auto first = chat(gateway_.port, "chat");
  auto limited_at = Clock::now();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200) << first->body;
  EXPECT_EQ(first->header("x-sluice-attempts"), "2");
  EXPECT_EQ(mocks_[0].requests(), 1);
  ASSERT_TRUE(mocks_[0].set_faults("{}"));
  while (Clock::now() - limited_at < 1800ms) {
    ASSERT_EQ(chat(gateway_.port, "chat")->status, 200);
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(mocks_[0].requests(), 1);  // nothing reached it inside the two seconds
  std::this_thread::sleep_for(400ms);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(chat(gateway_.port, "chat")->status, 200);
  EXPECT_GT(mocks_[0].requests(), 1);
}

TEST_F(RoutingTest, AStreamCutMidwayEndsWithAnErrorEventAndIsNotRetried) {
  start_mocks(2);
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(models:
  - name: chat
)" + deployments_yaml(2));
  ASSERT_TRUE(mocks_[0].set_faults(R"({"cut_after":2})"));
  ASSERT_TRUE(mocks_[1].set_faults(R"({"cut_after":2})"));
  auto r = request(gateway_.port, "POST", "/v1/chat/completions", chat_body("chat", {}, true));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-sluice-attempts"), "1");
  auto events = sse_data(r->body);
  ASSERT_EQ(events.size(), 3u) << r->body;
  EXPECT_NE(events.back(), "[DONE]");
  EXPECT_TRUE(json::parse(events.back()).as_object().contains("error"));
  EXPECT_EQ(total_requests(), 1);
}

TEST_F(RoutingTest, EveryDeploymentDownTheFallbackAnswersWithoutOneAnOpenAIError) {
  start_mocks(1);
  const std::string dead = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1";
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(  - name: dead1
    kind: openai
    base_url: )" + dead + R"(
  - name: dead2
    kind: openai
    base_url: )" + dead + R"(
models:
  - name: primary
    fallbacks: [backup]
    deployments: [{provider: dead1}, {provider: dead2}]
  - name: lonely
    deployments: [{provider: dead1}]
  - name: backup
    deployments: [{provider: up0}]
)");
  auto r = chat(gateway_.port, "primary");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("x-sluice-deployment"), "up0/backup");
  // Without its own `model`, the fallback's deployment is sent the fallback's name.
  EXPECT_EQ(json::parse(r->body).at("model"), "backup");
  EXPECT_EQ(r->header("x-sluice-attempts"), "4");  // 3 on primary's two, then the fallback
  // Counted as a fallback of the model asked for, to the deployment that took it (a request is
  // counted just after its answer: poll).
  const std::string fallback =
      R"(sluice_fallbacks_total{model="primary",deployment="up0/backup"} 1)";
  std::string scraped;
  EXPECT_TRUE(eventually(
      [&] {
        auto m = request(gateway_.port, "GET", "/metrics");
        scraped = m ? m->body : "";
        return scraped.find(fallback) != std::string::npos;
      },
      std::chrono::seconds(2)))
      << scraped;

  auto lonely = chat(gateway_.port, "lonely");
  ASSERT_TRUE(lonely);
  EXPECT_EQ(lonely->status, 502) << lonely->body;
  auto error = json::parse(lonely->body).at("error").as_object();
  EXPECT_EQ(error.at("code"), "upstream_unreachable");
  EXPECT_TRUE(error.contains("message") && error.contains("type") && error.contains("param"));
}

TEST_F(RoutingTest, ConsistentHashKeepsAUserOnOneDeploymentAndMovesFewWhenOneGoes) {
  start_mocks(4);
  auto config = [&](std::size_t n) {
    std::vector<MockUpstream> view;
    std::string yaml = "providers:\n";
    for (std::size_t i = 0; i < 4; ++i) {
      yaml += "  - name: up" + std::to_string(i) +
              "\n    kind: openai\n    base_url: " + mocks_[i].base_url() + "\n";
    }
    yaml += "models:\n  - name: chat\n    strategy: consistent-hash\n    hash_key: user\n";
    yaml += deployments_yaml(n);
    return yaml;
  };
  gateway_ = start_gateway(dir_, config(4));
  Gateway three = start_gateway(dir_, config(3), {}, "gateway3");  // up3 removed
  constexpr int kUsers = 200;
  int moved = 0;
  int on_removed = 0;
  for (int u = 0; u < kUsers; ++u) {
    const std::string user = "user-" + std::to_string(u);
    std::set<std::string> seen;
    for (int i = 0; i < 3; ++i) {
      auto r = chat(gateway_.port, "chat", user);
      ASSERT_TRUE(r && r->status == 200);
      seen.insert(r->header("x-sluice-deployment"));
    }
    ASSERT_EQ(seen.size(), 1u) << user;  // sticky
    auto r3 = chat(three.port, "chat", user);
    ASSERT_TRUE(r3 && r3->status == 200);
    const std::string before = *seen.begin();
    if (before == "up3/chat") ++on_removed;
    if (r3->header("x-sluice-deployment") != before) {
      ++moved;
      EXPECT_EQ(before, "up3/chat") << user << " moved though its deployment stayed";
    }
  }
  EXPECT_EQ(moved, on_removed);
  EXPECT_GT(moved, kUsers / 4 / 3);  // about a quarter of the users were on up3
  EXPECT_LT(moved, kUsers / 4 * 2);
}

TEST_F(RoutingTest, TheRetryBudgetBoundsUpstreamRequestsWhenEverythingFails) {
  start_mocks(3);
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(models:
  - name: chat
    retries: {max_attempts: 3, budget: 0.2, min_concurrency: 0, backoff_base: 20ms}
    health: {outlier: {enabled: false}, breaker: {enabled: false}}
)" + deployments_yaml(3));
  for (auto& m : mocks_) ASSERT_TRUE(m.set_faults(R"({"status":503,"delay_ms":5})"));
  constexpr int kClients = 20;
  constexpr int kEach = 20;
  std::atomic<int> answered{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        auto r = chat(gateway_.port, "chat");
        if (r && r->status == 503) ++answered;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(answered.load(), kClients * kEach);  // the upstream's 503, passed on
  const double upstream = static_cast<double>(total_requests());
  const double client = kClients * kEach;
  EXPECT_GT(upstream, client);                    // some retries were made...
  EXPECT_LE(upstream, 1.2 * client) << upstream;  // ...but within the budget
}

TEST_F(RoutingTest, AFullDeploymentQueuesThenRefusesWithRetryAfter) {
  start_mocks(1);
  ASSERT_TRUE(mocks_[0].set_faults(R"({"delay_ms":400})"));
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(models:
  - name: short
    queue: {max_size: 1, timeout: 150ms}
)" + deployments_yaml(1, "max_concurrency: 1") +
                                     R"(  - name: patient
    queue: {max_size: 1, timeout: 5s, status: 503}
)" + deployments_yaml(1, "max_concurrency: 1"));
  auto burst = [&](const std::string& model) {
    std::vector<std::optional<Response>> out(3);
    std::vector<std::thread> ts;
    for (int i = 0; i < 3; ++i) {
      ts.emplace_back([&, i] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50 * i));  // in this order
        out[i] = chat(gateway_.port, model);
      });
    }
    for (auto& t : ts) t.join();
    return out;
  };
  auto s = burst("short");
  ASSERT_TRUE(s[0] && s[1] && s[2]);
  EXPECT_EQ(s[0]->status, 200);
  EXPECT_EQ(s[1]->status, 429) << s[1]->body;  // waited 150 ms, no slot
  EXPECT_EQ(s[2]->status, 429) << s[2]->body;  // the queue was full
  EXPECT_EQ(s[1]->header("retry-after"), "1");
  EXPECT_EQ(json::parse(s[2]->body).at("error").at("code"), "rate_limit_exceeded");

  auto p = burst("patient");
  ASSERT_TRUE(p[0] && p[1] && p[2]);
  EXPECT_EQ(p[0]->status, 200);
  EXPECT_EQ(p[1]->status, 200);  // waited for the first to finish
  EXPECT_EQ(p[2]->status, 503) << p[2]->body;
  EXPECT_FALSE(p[2]->header("retry-after").empty());
}

TEST_F(RoutingTest, AHedgeAnswersWhenTheFirstAttemptIsSlowAndTheLoserIsCancelled) {
  start_mocks(2);
  ASSERT_TRUE(mocks_[0].set_faults(R"({"delay_ms":3000})"));
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(workers: 1
models:
  - name: chat
    strategy: round-robin
    hedge: {enabled: true, delay: 100ms}
)" + deployments_yaml(2));
  auto started = Clock::now();
  auto r = chat(gateway_.port, "chat");  // round-robin: up0 first
  auto took = Clock::now() - started;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("x-sluice-deployment"), "up1/chat");
  EXPECT_EQ(r->header("x-sluice-attempts"), "2");
  EXPECT_LT(took, 1500ms);
  EXPECT_TRUE(mocks_[0].wait_for_stats(
      [](const json::object& s) { return s.at("cancelled").as_int64() == 1; }, 2s));
}

TEST_F(RoutingTest, AHedgeNeitherHidesTheWinnerNorEndsTheRaceByFailingFast) {
  start_mocks(3);
  ASSERT_TRUE(mocks_[0].set_faults(R"({"delay_ms":400})"));
  ASSERT_TRUE(mocks_[1].set_faults(R"({"delay_ms":3000})"));
  ASSERT_TRUE(mocks_[2].set_faults(R"({"status":500})"));
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(workers: 1
models:
  - name: slow-hedge
    strategy: round-robin
    hedge: {enabled: true, delay: 100ms}
    deployments: [{provider: up0}, {provider: up1}]
  - name: failing-hedge
    strategy: round-robin
    hedge: {enabled: true, delay: 100ms}
    deployments: [{provider: up0}, {provider: up2}]
)");
  // The first attempt (up0) answers before the hedge (up1): the answer names up0.
  auto r = chat(gateway_.port, "slow-hedge");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("x-sluice-deployment"), "up0/slow-hedge");
  EXPECT_EQ(r->header("x-sluice-attempts"), "2");
  EXPECT_TRUE(mocks_[1].wait_for_stats(
      [](const json::object& s) { return s.at("cancelled").as_int64() == 1; }, 2s));
  // The hedge (up2) fails at once; the first attempt still answers.
  auto f = chat(gateway_.port, "failing-hedge");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->status, 200) << f->body;
  EXPECT_EQ(f->header("x-sluice-deployment"), "up0/failing-hedge");
  EXPECT_EQ(mocks_[2].requests(), 1);
}

TEST_F(RoutingTest, ActiveProbesMarkAnUnreachableDeploymentDown) {
  start_mocks(1);
  const std::string dead = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1";
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(  - name: dead
    kind: openai
    base_url: )" + dead + R"(
models:
  - name: chat
    health:
      probe: {enabled: true, interval: 100ms, timeout: 100ms, unhealthy_after: 2}
    deployments: [{provider: up0}, {provider: dead}]
)");
  auto deadline = Clock::now() + 5s;
  std::string state;
  while (Clock::now() < deadline) {
    state = json::value_to<std::string>(
        admin_deployment(gateway_.port, "chat", "dead/chat").at("state"));
    if (state == "probe_down") break;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(state, "probe_down");
  EXPECT_EQ(admin_deployment(gateway_.port, "chat", "up0/chat").at("state"), "healthy");
  // Probed down, it gets no traffic: every request goes to up0 at the first attempt.
  for (int i = 0; i < 10; ++i) {
    auto r = chat(gateway_.port, "chat");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("x-sluice-attempts"), "1");
  }
}

TEST_F(RoutingTest, ADeploymentAtItsRpmGetsNoMoreRequestsThatMinute) {
  start_mocks(2);
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(workers: 1
models:
  - name: chat
    strategy: round-robin
    deployments:
      - provider: up0
        rpm: 3
      - provider: up1
)");
  for (int i = 0; i < 12; ++i) ASSERT_EQ(chat(gateway_.port, "chat")->status, 200);
  // The window slides over two one-minute buckets: across a minute boundary one more may pass.
  EXPECT_GE(mocks_[0].requests(), 3);
  EXPECT_LE(mocks_[0].requests(), 4);
  EXPECT_EQ(mocks_[0].requests() + mocks_[1].requests(), 12);
  auto d = admin_deployment(gateway_.port, "chat", "up0/chat");
  EXPECT_EQ(d.at("usage").at("rpm"), 3);
}

TEST_F(RoutingTest, ALowerPriorityTierTakesOverOnlyWhenTheFirstIsDown) {
  start_mocks(2);
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(models:
  - name: chat
    health:
      outlier: {consecutive_failures: 2, base_ejection: 30s}
    deployments:
      - provider: up0
      - provider: up1
        priority: 1
)");
  for (int i = 0; i < 10; ++i) ASSERT_EQ(chat(gateway_.port, "chat")->status, 200);
  EXPECT_EQ(mocks_[0].requests(), 10);
  EXPECT_EQ(mocks_[1].requests(), 0);
  ASSERT_TRUE(mocks_[0].set_faults(R"({"status":502})"));
  for (int i = 0; i < 10; ++i) {
    auto r = chat(gateway_.port, "chat");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->header("x-sluice-deployment"), "up1/chat");
  }
  // Ejected after two failures: from then on the backup answers at the first attempt.
  EXPECT_EQ(mocks_[0].requests(), 12);
}

TEST_F(RoutingTest, AContextLengthErrorGoesToTheContextFallbackNotTheOthers) {
  start_mocks(1);
  FakeUpstream short_context([](const std::string&) {
    const std::string body =
        R"({"error":{"message":"This model's maximum context length is 8192 tokens.",)"
        R"("type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}})";
    return "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  });
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(  - name: short
    kind: openai
    base_url: )" + short_context.base_url() +
                                     R"(
models:
  - name: chat
    fallbacks: [other]
    context_fallbacks: [long]
    deployments: [{provider: short}]
  - name: other
    deployments: [{provider: up0, model: other-model}]
  - name: long
    deployments: [{provider: up0, model: long-model}]
)");
  auto r = chat(gateway_.port, "chat");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).at("model"), "long-model");
  EXPECT_EQ(r->header("x-sluice-attempts"), "2");  // a 400 is not retried on the same model
  EXPECT_EQ(short_context.requests(), 1);
}

TEST_F(RoutingTest, AdminDeploymentsDescribesEveryDeployment) {
  start_mocks(2);
  gateway_ = start_gateway(dir_, providers_yaml(mocks_) + R"(models:
  - name: chat
    strategy: least-requests
)" + deployments_yaml(2, "max_concurrency: 8"));
  ASSERT_EQ(chat(gateway_.port, "chat")->status, 200);
  auto r = request(gateway_.port, "GET", "/admin/deployments");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  const json::value doc = json::parse(r->body);
  auto m = doc.at("data").at(0).as_object();
  EXPECT_EQ(m.at("model"), "chat");
  EXPECT_EQ(m.at("strategy"), "least-requests");
  const auto& ds = m.at("deployments").as_array();
  ASSERT_EQ(ds.size(), 2u);
  std::int64_t requests = 0;
  for (const auto& d : ds) {
    for (const char* key : {"id", "provider", "state", "in_flight", "ewma_latency_ms", "error_rate",
                            "breaker", "ejected_until", "requests", "failures"}) {
      EXPECT_TRUE(d.as_object().contains(key)) << key;
    }
    EXPECT_EQ(d.at("concurrency_limit"), 8);
    EXPECT_EQ(d.at("breaker"), "closed");
    requests += d.at("requests").as_int64();
  }
  EXPECT_EQ(requests, 1);
  auto wrong = request(gateway_.port, "POST", "/admin/deployments", "{}");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
}

}  // namespace
}  // namespace sluice::testing
