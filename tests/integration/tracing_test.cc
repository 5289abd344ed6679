// Trace context and server-timing end to end (docs/observability.md): a client's valid W3C
// `traceparent` (and its `tracestate`) reaches the provider, a malformed one does not, and every
// answer says in `server-timing` where its time went, a cache hit included.
#include <gtest/gtest.h>

#include <mutex>
#include <regex>
#include <vector>

#include "support/fake_upstream.h"
#include "support/http_client.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

const std::string kAnswer =
    R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,)"
    R"("message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}})";

class TracingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    upstream_ = std::make_unique<FakeUpstream>([this](const std::string& request) {
      std::lock_guard lock(mu_);
      seen_.push_back(request);
      return "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: " +
             std::to_string(kAnswer.size()) + "\r\nconnection: close\r\n\r\n" + kAnswer;
    });
    gateway_ = start_gateway(dir_, R"(
cache: {enabled: true}
providers:
  - name: fake
    kind: openai
    base_url: )" + upstream_->base_url() +
                                       R"(
models:
  - name: m
    deployments: [{provider: fake, model: m}]
)");
    ASSERT_NE(gateway_.port, 0) << gateway_.process->log();
  }

  Response chat(const std::string& content, const std::map<std::string, std::string>& headers) {
    auto r = request(gateway_.port, "POST", "/v1/chat/completions",
                     R"({"model":"m","messages":[{"role":"user","content":")" + content + R"("}]})",
                     headers);
    EXPECT_TRUE(r);
    return r ? *r : Response{};
  }

  std::string last_seen() {
    std::lock_guard lock(mu_);
    return seen_.empty() ? "" : seen_.back();
  }

  TempDir dir_;
  std::mutex mu_;
  std::vector<std::string> seen_;  // raw requests the upstream received
  std::unique_ptr<FakeUpstream> upstream_;
  Gateway gateway_;
};

TEST_F(TracingTest, AValidTraceparentReachesTheProviderAndAMalformedOneDoesNot) {
  const std::string parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  Response ok = chat("one", {{"traceparent", parent}, {"tracestate", "vendor=abc"}});
  EXPECT_EQ(ok.status, 200) << ok.body;
  std::string seen = last_seen();
  EXPECT_NE(seen.find("traceparent: " + parent + "\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("tracestate: vendor=abc\r\n"), std::string::npos) << seen;

  Response bad = chat("two", {{"traceparent", "00-not-a-trace-01"}, {"tracestate", "v=1"}});
  EXPECT_EQ(bad.status, 200) << bad.body;
  seen = last_seen();
  EXPECT_EQ(seen.find("traceparent"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("tracestate"), std::string::npos) << seen;
}

TEST_F(TracingTest, EveryAnswerSaysWhereItsTimeWent) {
  const std::regex miss(
      R"(gateway;dur=(\d+\.\d{3}), upstream;dur=(\d+\.\d{3}), total;dur=(\d+\.\d{3}))");
  Response first = chat("same", {});
  ASSERT_EQ(first.header("x-sluice-cache"), "miss");
  std::smatch m;
  std::string timing = first.header("server-timing");
  ASSERT_TRUE(std::regex_match(timing, m, miss)) << timing;
  // The parts add up to the total (each rounded to a microsecond).
  EXPECT_NEAR(std::stod(m[1]) + std::stod(m[2]), std::stod(m[3]), 0.002);
  EXPECT_GT(std::stod(m[2]), 0);

  Response hit = chat("same", {});
  ASSERT_EQ(hit.header("x-sluice-cache"), "hit");
  EXPECT_TRUE(
      std::regex_match(hit.header("server-timing"),
                       std::regex(R"(cache;desc=hit;dur=\d+\.\d{3}, total;dur=\d+\.\d{3})")))
      << hit.header("server-timing");
  EXPECT_EQ(upstream_->requests(), 1);
}

}  // namespace
}  // namespace sluice::testing
