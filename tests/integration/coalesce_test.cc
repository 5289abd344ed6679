// Coalescing through a real `sluice serve` in front of a real `sluice mock`: identical requests
// in flight at the same time share one upstream call, whatever form each asked for; failures
// reach every waiter; the call outlives its first client while others wait, and ends when all
// have left. The mock's counters show what reached the upstream.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <atomic>
#include <csignal>
#include <functional>
#include <thread>
#include <vector>

#include "support/http_client.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

class CoalesceTest : public ::testing::Test {
 protected:
  void SetUp() override { mock_ = start_mock(dir_); }

  void start(const std::string& top = "") {
    gateway_ = start_gateway(dir_, top + R"(
providers:
  - name: local
    kind: openai
    base_url: )" + mock_.base_url() + R"(
    forward_headers: [x-mock-*]
models:
  - name: fast
    deployments: [{provider: local}]
)");
  }

  // Sends `n` copies of one request at once (every connection is open before any is sent) and
  // returns the responses in order; a failed request is a Response with status 0.
  std::vector<Response> concurrent(int n, const std::string& body,
                                   const std::map<std::string, std::string>& headers = {}) {
    std::vector<std::unique_ptr<HttpClient>> clients;
    for (int i = 0; i < n; ++i) clients.push_back(std::make_unique<HttpClient>(gateway_.port, 30s));
    std::vector<Response> out(n);
    std::vector<std::thread> threads;
    std::atomic<int> ready{0};
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < n) std::this_thread::yield();
        if (!clients[i]->send("POST", "/v1/chat/completions", body, headers)) return;
        if (auto r = clients[i]->read_response()) out[i] = *r;
      });
    }
    for (auto& t : threads) t.join();
    return out;
  }

  TempDir dir_;
  MockUpstream mock_;
  Gateway gateway_;
};

const std::string kChat =
    R"({"model":"fast","messages":[{"role":"user","content":"Everyone asks this"}],"max_tokens":24})";
const std::string kStreamChat =
    R"({"model":"fast","messages":[{"role":"user","content":"Everyone asks this"}],"max_tokens":24,"stream":true})";

TEST_F(CoalesceTest, FiveHundredIdenticalRequestsMakeOneUpstreamCall) {
  start();  // the cache is off: only coalescing can save these calls
  auto responses = concurrent(500, kChat, {{"x-mock-delay-ms", "1500"}});
  int coalesced = 0;
  for (const auto& r : responses) {
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body), json::parse(responses[0].body));
    if (r.header("x-sluice-cache") == "coalesced") ++coalesced;
  }
  EXPECT_EQ(coalesced, 499);
  EXPECT_EQ(mock_.stats().at("requests"), 1);
  auto admin = request(gateway_.port, "GET", "/admin/cache");
  ASSERT_TRUE(admin);
  auto coalescing = json::parse(admin->body).at("coalescing").as_object();
  EXPECT_EQ(coalescing.at("joined"), 499);
  EXPECT_EQ(coalescing.at("in_flight"), 0);
  EXPECT_GT(coalescing.at("saved").at("completion_tokens").as_int64(), 0);
}

TEST_F(CoalesceTest, FiveHundredIdenticalStreamsGetTheSameEvents) {
  start("cache: {enabled: true}\n");
  auto responses = concurrent(500, kStreamChat, {{"x-mock-delay-ms", "1500"}});
  for (const auto& r : responses) {
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-type"), "text/event-stream");
    EXPECT_EQ(r.body, responses[0].body);  // byte for byte
  }
  auto events = sse_data(responses[0].body);
  ASSERT_GT(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(mock_.stats().at("requests"), 1);
  // Stored once, by the one call: the next request is a hit.
  auto after = request(gateway_.port, "POST", "/v1/chat/completions", kStreamChat);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->header("x-sluice-cache"), "hit");
  EXPECT_EQ(after->body, responses[0].body);
}

TEST_F(CoalesceTest, AJoinerGetsTheEventsSoFarThenTheLiveOnes) {
  start();
  HttpClient first(gateway_.port, 20s);
  ASSERT_TRUE(first.send("POST", "/v1/chat/completions", kStreamChat,
                         {{"x-mock-tokens-per-second", "20"}}));
  auto head = first.read_head();
  ASSERT_TRUE(head);
  std::string leader_body;
  while (sse_data(leader_body).size() < 4) {
    auto part = first.read_body_some();
    ASSERT_TRUE(part);
    leader_body += *part;
  }
  // Several events are out; a second client joins mid-stream.
  auto late = request(gateway_.port, "POST", "/v1/chat/completions", kStreamChat, {}, 20s);
  while (auto part = first.read_body_some()) leader_body += *part;
  ASSERT_TRUE(late);
  EXPECT_EQ(late->header("x-sluice-cache"), "coalesced");
  EXPECT_EQ(late->body, leader_body);
  EXPECT_EQ(mock_.stats().at("requests"), 1);
}

TEST_F(CoalesceTest, WithTheCacheOnStreamAndWholeRequestsShareOneCall) {
  start("cache: {enabled: true}\n");  // the cache key ignores `stream`; raw bytes do not
  std::optional<Response> whole;
  HttpClient streaming(gateway_.port, 20s);
  ASSERT_TRUE(
      streaming.send("POST", "/v1/chat/completions", kStreamChat, {{"x-mock-delay-ms", "800"}}));
  std::this_thread::sleep_for(200ms);  // the stream leads
  whole = request(gateway_.port, "POST", "/v1/chat/completions", kChat, {}, 20s);
  auto streamed = streaming.read_response();
  ASSERT_TRUE(whole && streamed);
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->header("x-sluice-cache"), "coalesced");
  auto answer = json::parse(whole->body);
  EXPECT_EQ(answer.at("object"), "chat.completion");
  std::string content;
  for (const auto& e : sse_data(streamed->body)) {
    if (e == "[DONE]") continue;
    auto chunk = json::parse(e);
    for (const auto& c : chunk.at("choices").as_array()) {
      if (auto* s = c.at("delta").as_object().if_contains("content"); s && s->is_string()) {
        content += s->as_string();
      }
    }
  }
  EXPECT_EQ(answer.at("choices").at(0).at("message").at("content").as_string(), content);
  EXPECT_EQ(mock_.stats().at("requests"), 1);
}

TEST_F(CoalesceTest, AnUpstreamFailureReachesEveryWaiterAndIsNotCached) {
  // One attempt per flight, so that the count below is the number of flights.
  start("cache: {enabled: true}\nrouting: {retries: {max_attempts: 1}}\n");
  auto responses = concurrent(50, kChat, {{"x-mock-delay-ms", "1000"}, {"x-mock-status", "503"}});
  for (const auto& r : responses) {
    EXPECT_EQ(r.status, 503);
    auto error = json::parse(r.body).at("error").as_object();
    EXPECT_TRUE(error.at("message").is_string());
  }
  EXPECT_EQ(mock_.stats().at("requests"), 1);
  auto next = request(gateway_.port, "POST", "/v1/chat/completions", kChat);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->header("x-sluice-cache"), "miss");
  EXPECT_EQ(mock_.stats().at("requests"), 2);
}

TEST_F(CoalesceTest, AStreamCutReachesEveryWaiterAsAnErrorEvent) {
  start();
  auto responses =
      concurrent(20, kStreamChat, {{"x-mock-delay-ms", "800"}, {"x-mock-cut-after", "3"}});
  for (const auto& r : responses) {
    ASSERT_EQ(r.status, 200);
    auto events = sse_data(r.body);
    ASSERT_FALSE(events.empty());
    EXPECT_NE(events.back(), "[DONE]");
    EXPECT_TRUE(json::parse(events.back()).as_object().contains("error")) << events.back();
  }
  EXPECT_EQ(mock_.stats().at("requests"), 1);
}

TEST_F(CoalesceTest, TheCallGoesOnWhenItsFirstClientLeaves) {
  start();
  HttpClient first(gateway_.port, 20s);
  ASSERT_TRUE(first.send("POST", "/v1/chat/completions", kChat, {{"x-mock-delay-ms", "1000"}}));
  std::this_thread::sleep_for(200ms);
  HttpClient second(gateway_.port, 20s);
  ASSERT_TRUE(second.send("POST", "/v1/chat/completions", kChat));
  std::this_thread::sleep_for(200ms);
  first.close();  // the leader's client leaves while the second waits
  auto r = second.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-sluice-cache"), "coalesced");
  EXPECT_EQ(json::parse(r->body).at("object"), "chat.completion");
  auto stats = mock_.stats();
  EXPECT_EQ(stats.at("requests"), 1);
  EXPECT_EQ(stats.at("completed"), 1);
  EXPECT_EQ(stats.at("cancelled"), 0);
}

TEST_F(CoalesceTest, TheCallIsCancelledWhenEveryClientHasLeft) {
  start();
  HttpClient first(gateway_.port, 20s);
  ASSERT_TRUE(first.send("POST", "/v1/chat/completions", kStreamChat,
                         {{"x-mock-delay-ms", "300"}, {"x-mock-tokens-per-second", "5"}}));
  std::this_thread::sleep_for(100ms);
  HttpClient second(gateway_.port, 20s);
  ASSERT_TRUE(second.send("POST", "/v1/chat/completions", kStreamChat));
  ASSERT_TRUE(second.read_head());
  first.close();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(mock_.stats().at("in_flight"), 1);  // still going for the second client
  second.close();
  EXPECT_TRUE(mock_.wait_for_stats(
      [](const json::object& s) { return s.at("cancelled") == 1 && s.at("in_flight") == 0; }, 3s))
      << json::serialize(mock_.stats());
  // The gateway is fine afterwards, and a new request starts a new call.
  auto r = request(gateway_.port, "POST", "/v1/chat/completions", kChat);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->header("x-sluice-cache"), "coalesced");
}

TEST_F(CoalesceTest, WithTheCacheOffOnlyByteIdenticalRequestsJoin) {
  start();
  HttpClient streaming(gateway_.port, 20s);
  ASSERT_TRUE(
      streaming.send("POST", "/v1/chat/completions", kStreamChat, {{"x-mock-delay-ms", "600"}}));
  std::this_thread::sleep_for(150ms);
  auto whole = request(gateway_.port, "POST", "/v1/chat/completions", kChat, {}, 20s);
  auto streamed = streaming.read_response();
  ASSERT_TRUE(whole && streamed);
  EXPECT_EQ(whole->status, 200);
  EXPECT_EQ(whole->header("x-sluice-cache"), "");  // its own call
  EXPECT_EQ(mock_.stats().at("requests"), 2);
}

TEST_F(CoalesceTest, DrainEndsWaitingJoinersAtItsDeadline) {
  start("drain_timeout: 1s\n");
  HttpClient first(gateway_.port, 20s);
  HttpClient second(gateway_.port, 20s);
  ASSERT_TRUE(first.send("POST", "/v1/chat/completions", kChat, {{"x-mock-delay-ms", "10000"}}));
  std::this_thread::sleep_for(150ms);
  ASSERT_TRUE(second.send("POST", "/v1/chat/completions", kChat));
  std::this_thread::sleep_for(150ms);
  auto t0 = Clock::now();
  gateway_.process->signal(SIGTERM);
  EXPECT_EQ(gateway_.process->wait(5s), 0);
  EXPECT_LT(Clock::now() - t0, 3s);  // the drain deadline, not the upstream's 10 s
}

TEST_F(CoalesceTest, DifferentRequestsAreNotCoalesced) {
  start();
  std::vector<std::thread> threads;
  std::vector<int> statuses(10);
  for (int i = 0; i < 10; ++i) {
    threads.emplace_back([&, i] {
      std::string body = R"({"model":"fast","messages":[{"role":"user","content":"question )" +
                         std::to_string(i) + R"("}]})";
      auto r = request(gateway_.port, "POST", "/v1/chat/completions", body,
                       {{"x-mock-delay-ms", "300"}});
      statuses[i] = r ? r->status : 0;
    });
  }
  for (auto& t : threads) t.join();
  for (int s : statuses) EXPECT_EQ(s, 200);
  EXPECT_EQ(mock_.stats().at("requests"), 10);
}

TEST_F(CoalesceTest, CanBeTurnedOff) {
  start("coalesce: {enabled: false}\n");
  auto responses = concurrent(10, kChat, {{"x-mock-delay-ms", "500"}});
  for (const auto& r : responses) {
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("x-sluice-cache"), "");
  }
  EXPECT_EQ(mock_.stats().at("requests"), 10);
}

}  // namespace
}  // namespace sluice::testing
