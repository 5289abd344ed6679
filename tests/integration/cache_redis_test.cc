// The Redis tier through real `sluice serve` processes in front of a real `sluice mock`, with a
// real redis-server (tests/support/redis_server.h): two gateways sharing one Redis, Redis down,
// Redis killed and restarted under load, and a frozen Redis. Whatever Redis does, every request
// is answered.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <thread>

#include "support/await.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/redis_server.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;
using SteadyTime = std::chrono::steady_clock;

std::string chat(const std::string& prompt, bool stream = false) {
  return R"({"model":"fast","messages":[{"role":"user","content":")" + prompt +
         R"("}],"max_tokens":16)" + (stream ? R"(,"stream":true})" : "}");
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

class CacheRedisTest : public ::testing::Test {
 protected:
  void SetUp() override { mock_ = start_mock(dir_); }

  Gateway start(const std::string& name, const std::string& timeout = "50ms") {
    return start_gateway(dir_,
                         R"(
workers: 2
cache:
  enabled: true
  redis: {url: ")" + redis_.url() +
                             R"(", timeout: )" + timeout +
                             R"(}
providers:
  - name: local
    kind: openai
    base_url: )" + mock_.base_url() +
                             R"(
models:
  - name: fast
    deployments:
      - provider: local
        model: llama-3.1-8b
)",
                         {}, name);
  }

  static Response post(const Gateway& g, const std::string& body) {
    auto r = request(g.port, "POST", "/v1/chat/completions", body);
    EXPECT_TRUE(r);
    return r ? *r : Response{};
  }

  static json::object redis_stats(const Gateway& g) {
    auto r = request(g.port, "GET", "/admin/cache");
    EXPECT_TRUE(r && r->status == 200);
    if (!r) return {};
    return json::parse(r->body).at("tiers").at("redis").as_object();
  }
  static std::int64_t stat(const Gateway& g, const char* name) {
    return redis_stats(g).at(name).to_number<std::int64_t>();
  }
  // Polls the gateway's tiers.redis until `name` reaches at least `value`.
  static bool wait_stat(const Gateway& g, const char* name, std::int64_t value,
                        std::chrono::milliseconds limit = 5s) {
    auto deadline = SteadyTime::now() + limit;
    while (SteadyTime::now() < deadline) {
      if (stat(g, name) >= value) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  TempDir dir_;
  MockUpstream mock_;
  RedisServer redis_{/*start_now=*/false};
};

TEST_F(CacheRedisTest, AMissOnOneGatewayIsARedisHitOnTheNext) {
  redis_.start();
  // What is shared is under test here, not the lookup's deadline: a loaded machine may take
  // more than the default 50 ms to answer.
  Gateway a = start("a", "2s");
  Gateway b = start("b", "2s");
  ASSERT_TRUE(wait_stat(a, "connected", 2));
  ASSERT_TRUE(wait_stat(b, "connected", 2));

  Response first = post(a, chat("Shared by every gateway"));
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("x-sluice-cache"), "miss");
  ASSERT_TRUE(wait_stat(a, "stores", 1));
  // `stores` counts writes sent; b can only find the entry once Redis has applied it.
  ASSERT_TRUE(eventually([&] { return redis_.command({"DBSIZE"}).integer >= 1; }, 5s));

  Response second = post(b, chat("Shared by every gateway"));
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.header("x-sluice-cache"), "hit");
  EXPECT_EQ(second.header("x-sluice-cache-tier"), "redis");
  EXPECT_EQ(json::parse(second.body), json::parse(first.body));
  // Promoted into b's memory tier.
  Response third = post(b, chat("Shared by every gateway"));
  EXPECT_EQ(third.header("x-sluice-cache"), "hit");
  EXPECT_EQ(third.header("x-sluice-cache-tier"), "memory");

  // A stream stored by one gateway is replayed byte for byte by the other.
  Response streamed = post(a, chat("A stream to share", true));
  ASSERT_EQ(streamed.status, 200);
  ASSERT_TRUE(wait_stat(a, "stores", 2));
  ASSERT_TRUE(eventually([&] { return redis_.command({"DBSIZE"}).integer >= 2; }, 5s));
  Response replayed = post(b, chat("A stream to share", true));
  EXPECT_EQ(replayed.header("x-sluice-cache-tier"), "redis");
  EXPECT_EQ(replayed.body, streamed.body);

  EXPECT_EQ(mock_.requests(), 2);
  auto sb = redis_stats(b);
  EXPECT_EQ(sb.at("hits").as_int64(), 2);
  EXPECT_EQ(sb.at("hits_served").as_int64(), 2);
  EXPECT_EQ(sb.at("timeouts").as_int64(), 0);
  EXPECT_EQ(sb.at("errors").as_int64(), 0);
}

TEST_F(CacheRedisTest, RedisDownEveryRequestSucceedsAndIsCounted) {
  Gateway a = start("a");  // nothing listens on the Redis port
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 10; ++i) {
      Response r = post(a, chat("down " + std::to_string(i)));
      EXPECT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(r.header("x-sluice-cache"), round == 0 ? "miss" : "hit");
    }
  }
  auto s = redis_stats(a);
  EXPECT_EQ(s.at("connected").as_int64(), 0);
  EXPECT_EQ(s.at("connections").as_int64(), 2);
  EXPECT_EQ(s.at("bypassed").as_int64(), 10);  // the memory misses; repeats hit memory
  EXPECT_EQ(s.at("misses").as_int64(), 10);
  EXPECT_EQ(s.at("dropped_stores").as_int64(), 10);
  EXPECT_GE(s.at("connect_errors").as_int64(), 2);
  // Said once, not per request or per attempt.
  EXPECT_EQ(count_of(a.process->log(), "cannot connect to"), 1u) << a.process->log();

  redis_.start();
  ASSERT_TRUE(wait_stat(a, "connected", 2, 5s));
  EXPECT_EQ(post(a, chat("up again")).status, 200);
  EXPECT_TRUE(wait_stat(a, "stores", 1));
  EXPECT_EQ(count_of(a.process->log(), "connected to"), 1u);
}

TEST_F(CacheRedisTest, RedisKilledAndRestartedUnderLoadFailsNoRequest) {
  redis_.start();
  Gateway a = start("a");
  Gateway b = start("b");
  ASSERT_TRUE(wait_stat(a, "connected", 2));
  ASSERT_TRUE(wait_stat(b, "connected", 2));

  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, failed{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      for (int n = 0; !stop && n < 100000; ++n) {
        // Half repeated prompts (hits once stored), half new ones (misses, then stores).
        std::string prompt = n % 2 == 0 ? "repeated " + std::to_string(n % 20)
                                        : "new " + std::to_string(t) + "-" + std::to_string(n);
        auto r = request(n % 3 == 0 ? b.port : a.port, "POST", "/v1/chat/completions", chat(prompt),
                         {}, 5s);
        ++sent;
        if (!r || r->status != 200) ++failed;
      }
    });
  }
  std::this_thread::sleep_for(1s);
  redis_.kill();
  std::this_thread::sleep_for(1s);
  redis_.start();
  std::this_thread::sleep_for(1s);
  stop = true;
  for (auto& c : clients) c.join();

  EXPECT_EQ(failed.load(), 0) << "of " << sent.load();
  EXPECT_GT(sent.load(), 100);
  ASSERT_TRUE(wait_stat(a, "connected", 2, 5s));
  ASSERT_TRUE(wait_stat(b, "connected", 2, 5s));
  EXPECT_GE(stat(a, "reconnects"), 2);

  // After the restart, new answers reach Redis again: the other gateway finds them there.
  const std::int64_t stores = stat(a, "stores");
  const std::int64_t keys = redis_.command({"DBSIZE"}).integer;
  Response fresh = post(a, chat("after the restart"));
  EXPECT_EQ(fresh.header("x-sluice-cache"), "miss");
  ASSERT_TRUE(wait_stat(a, "stores", stores + 1));
  // `stores` counts a SET sent, not one Redis has applied: under load b could ask first.
  ASSERT_TRUE(eventually([&] { return redis_.command({"DBSIZE"}).integer > keys; }, 5s));
  Response shared = post(b, chat("after the restart"));
  EXPECT_EQ(shared.header("x-sluice-cache"), "hit");
  EXPECT_EQ(shared.header("x-sluice-cache-tier"), "redis");

  // The loss and the recovery are logged once each per gateway.
  EXPECT_EQ(count_of(a.process->log(), "lost the connection to"), 1u) << a.process->log();
  EXPECT_EQ(count_of(a.process->log(), "again"), 1u) << a.process->log();
}

TEST_F(CacheRedisTest, FrozenRedisSlowsNoRequestBeyondTheTimeout) {
  redis_.start();
  Gateway a = start("a");
  ASSERT_TRUE(wait_stat(a, "connected", 2));
  redis_.freeze();
  SteadyTime::duration slowest{};
  for (int i = 0; i < 20; ++i) {
    auto t0 = SteadyTime::now();
    Response r = post(a, chat("frozen " + std::to_string(i)));
    slowest = std::max(slowest, SteadyTime::now() - t0);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("x-sluice-cache"), "miss");
  }
  // 50 ms of timeout, plus room for a busy test machine.
  EXPECT_LT(slowest, 300ms);
  auto s = redis_stats(a);
  // Each worker waits out the timeout once; after that its connection is known to be stuck and
  // lookups do not wait for it.
  EXPECT_LE(s.at("timeouts").as_int64(), 2);
  EXPECT_GE(s.at("bypassed").as_int64(), 18);
  EXPECT_EQ(s.at("timeouts").as_int64() + s.at("bypassed").as_int64(), 20);

  redis_.thaw();
  std::this_thread::sleep_for(100ms);
  const std::int64_t stores = stat(a, "stores");
  EXPECT_EQ(post(a, chat("thawed")).status, 200);
  EXPECT_TRUE(wait_stat(a, "stores", stores + 1));
  EXPECT_EQ(stat(a, "connected"), 2);
}

}  // namespace
}  // namespace sluice::testing
