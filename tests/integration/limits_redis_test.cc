// Distributed rate limits end to end (docs/keys-and-limits.md, "Distributed limits"): two real
// `sluice serve` processes share their counters through a real Redis, so together they allow one
// limit; when Redis dies mid-run each falls back to its own local limits (fail-open) or refuses
// with 503 (fail-closed), and says so in its log.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "support/http_client.h"
#include "support/openai_error.h"
#include "support/process.h"
#include "support/redis_server.h"

namespace sluice::testing {
namespace {

const std::string kChat =
    R"({"model":"fast","messages":[{"role":"user","content":"Count me"}],"max_tokens":2})";

class LimitsRedisTest : public ::testing::Test {
 protected:
  void SetUp() override { mock_ = start_mock(dir_); }

  Gateway start(const std::string& name, const std::string& limits) {
    Gateway g = start_gateway(dir_,
                              "coalesce: {enabled: false}\nlimits:\n  backend: redis\n"
                              "  redis: {url: \"redis://127.0.0.1:" +
                                  std::to_string(redis_.port()) + "/0\"}\n" + limits + R"(
providers:
  - name: local
    kind: openai
    base_url: )" + mock_.base_url() +
                                  R"(
models:
  - name: fast
    deployments:
      - provider: local
)",
                              {}, name);
    EXPECT_NE(g.port, 0) << g.process->log();
    // Decisions made before every worker's connection is up would be local ones.
    EXPECT_TRUE(g.process->wait_for_log("connected to 127.0.0.1", 5s)) << g.process->log();
    return g;
  }

  // Sends `n` requests on one keep-alive connection; returns how many got 200 (the others must
  // be 429).
  static int send(std::uint16_t port, int n) {
    HttpClient client(port);
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      if (!client.send("POST", "/v1/chat/completions", kChat)) break;
      auto r = client.read_response();
      if (!r) break;
      if (r->status == 200) {
        ++ok;
      } else {
        EXPECT_EQ(r->status, 429) << r->body;
      }
    }
    return ok;
  }

  TempDir dir_;
  RedisServer redis_;
  MockUpstream mock_;
};

TEST_F(LimitsRedisTest, TwoGatewaysEnforceOneCombinedLimit) {
  Gateway a = start("gateway-a", "  global: {rpm: 200}\n");
  Gateway b = start("gateway-b", "  global: {rpm: 200}\n");
  std::atomic<int> ok_a{0};
  std::atomic<int> ok_b{0};
  auto t0 = std::chrono::steady_clock::now();
  std::thread ta([&] { ok_a = send(a.port, 300); });
  std::thread tb([&] { ok_b = send(b.port, 300); });
  ta.join();
  tb.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int total = ok_a + ok_b;
  // 200 at once, then one more every 0.3 s while the run lasts; within 5% of the limit.
  EXPECT_GE(total, 200);
  EXPECT_LE(total, 200 + static_cast<int>(seconds * 200 / 60) + 1);
  EXPECT_LE(total, 210);
  EXPECT_GT(ok_a, 0);  // both shared it: neither had a limit of its own
  EXPECT_GT(ok_b, 0);
}

TEST_F(LimitsRedisTest, RedisKilledMidRunFallsBackToLocalLimits) {
  Gateway g = start("gateway", "  global: {rpm: 30}\n");
  EXPECT_EQ(send(g.port, 20), 20);
  redis_.kill();
  // Fail-open: requests go on under this instance's own limit, whose bucket starts full: 30 of
  // the next 40 (perhaps one more, refilled while they run), not all of them and not none.
  int ok = send(g.port, 40);
  EXPECT_GE(ok, 30);
  EXPECT_LE(ok, 31);
  EXPECT_TRUE(g.process->wait_for_log("Redis did not answer", 5s)) << g.process->log();
  redis_.start();
  // The gateway reconnects on its own (with back-off) and says so at the next decision.
  bool back = false;
  for (int i = 0; i < 100 && !back; ++i) {
    send(g.port, 1);  // refused or not: a decision
    back = g.process->wait_for_log("Redis answers again", 100ms);
  }
  EXPECT_TRUE(back) << g.process->log();
  // Decisions are Redis's again: its counters are back.
  auto keys = redis_.command({"KEYS", "sluice:rl:*"});
  EXPECT_FALSE(keys.elements.empty());
}

TEST_F(LimitsRedisTest, FailClosedRefusesWith503WhileRedisIsDown) {
  Gateway g = start("gateway", "  global: {rpm: 100000}\n  failure_mode: closed\n");
  EXPECT_EQ(send(g.port, 3), 3);
  redis_.kill();
  auto r = request(g.port, "POST", "/v1/chat/completions", kChat);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(openai_error(*r).at("code"), "service_unavailable");
}

}  // namespace
}  // namespace sluice::testing
