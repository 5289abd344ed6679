// GET /admin/stats end to end (docs/observability.md, "Performance API"): a real `sluice serve`
// in front of a real `sluice mock`, known traffic (misses, cache hits, upstream errors through
// the mock's x-mock-status, an unknown model), then the answer must count exactly that in its
// totals and its 1m window, name the model and (with keys on) the key, and keep a series that
// the sampler's thread fills once a second. And the route's methods and access rule.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <thread>

#include "support/http_client.h"
#include "support/openai_error.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kAdminKey = "admin-test-key-0123456789";

std::string chat(const std::string& content) {
  return R"({"model":"fast","messages":[{"role":"user","content":")" + content +
         R"("}],"max_tokens":8})";
}

std::map<std::string, std::string> bearer(const std::string& key) {
  return {{"authorization", "Bearer " + key}};
}

class StatsTest : public ::testing::Test {
 protected:
  void SetUp() override { mock_ = start_mock(dir_); }

  void start(const std::string& extra = "", const std::map<std::string, std::string>& env = {}) {
    gateway_ = start_gateway(dir_, extra + R"(
cache: {enabled: true}
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
        input_cost_per_mtok: 1000
        output_cost_per_mtok: 2000
)",
                             env);
    ASSERT_NE(gateway_.port, 0) << gateway_.process->log();
  }

  Response send(const std::string& body, std::map<std::string, std::string> headers = {}) {
    auto r = request(gateway_.port, "POST", "/v1/chat/completions", body, headers);
    EXPECT_TRUE(r);
    return r ? *r : Response{};
  }

  json::object stats(const std::map<std::string, std::string>& headers = {}) {
    auto r = request(gateway_.port, "GET", "/admin/stats", "", headers);
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->header("content-type"), "application/json");
    if (r->status != 200) return {};
    return json::parse(r->body).as_object();
  }

  TempDir dir_;
  MockUpstream mock_;
  Gateway gateway_;
};

TEST_F(StatsTest, CountsExactlyTheTrafficSent) {
  start();
  for (int i = 0; i < 4; ++i) EXPECT_EQ(send(chat("miss " + std::to_string(i))).status, 200);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(send(chat("miss 0")).header("x-sluice-cache"), "hit");
  }
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(send(chat("fault " + std::to_string(i)), {{"x-mock-status", "500"}}).status, 500);
  }
  EXPECT_EQ(send(R"({"model":"nope","messages":[{"role":"user","content":"x"}]})").status, 404);
  // Not inference traffic: the dashboard's polling and scrapes are left out.
  EXPECT_TRUE(request(gateway_.port, "GET", "/admin/deployments"));
  EXPECT_TRUE(request(gateway_.port, "GET", "/metrics"));

  json::object body = stats();
  ASSERT_FALSE(body.empty());
  for (const json::object* w :
       {&body.at("totals").as_object(), &body.at("windows").at("1m").as_object()}) {
    EXPECT_EQ(w->at("requests").to_number<std::uint64_t>(), 10u) << json::serialize(*w);
    EXPECT_EQ(w->at("errors").to_number<std::uint64_t>(), 2u);
    EXPECT_EQ(w->at("client_errors").to_number<std::uint64_t>(), 1u);
    EXPECT_DOUBLE_EQ(w->at("error_rate").as_double(), 0.2);
    EXPECT_EQ(w->at("cache").at("hits").to_number<std::uint64_t>(), 3u);
    EXPECT_EQ(w->at("cache").at("misses").to_number<std::uint64_t>(), 6u);  // the faults missed too
    EXPECT_DOUBLE_EQ(w->at("cache").at("hit_rate").as_double(), 0.3333);
    EXPECT_EQ(w->at("rate_limited").to_number<std::uint64_t>(), 0u);
    EXPECT_EQ(w->at("retries").to_number<std::uint64_t>(), 0u);
    EXPECT_GT(w->at("tokens").at("input").to_number<std::uint64_t>(), 0u);
    EXPECT_GT(w->at("tokens").at("output").to_number<std::uint64_t>(), 0u);
    EXPECT_GT(w->at("cost_usd").as_double(), 0);
    EXPECT_GT(w->at("saved_usd").as_double(), 0);  // the hits
    EXPECT_GT(w->at("requests_per_second").as_double(), 0);
    // Sensible percentiles: positive, ordered, within the histogram's range.
    const json::object& latency = w->at("latency_seconds").as_object();
    double p50 = latency.at("p50").as_double(), p90 = latency.at("p90").as_double(),
           p99 = latency.at("p99").as_double();
    EXPECT_GT(p50, 0);
    EXPECT_LE(p50, p90);
    EXPECT_LE(p90, p99);
    EXPECT_LT(p99, 5);
    EXPECT_TRUE(w->at("ttft_seconds").at("p50").is_null());  // no streams were sent
    // Every stage is there, and the shares add up to the whole.
    double share = 0;
    for (const char* stage :
         {"auth", "admit", "cache", "coalesce", "queue", "upstream", "gateway"}) {
      ASSERT_TRUE(w->at("stages").as_object().contains(stage)) << stage;
      const json::value& s = w->at("stages").at(stage).at("share");
      if (s.is_double()) share += s.as_double();
    }
    EXPECT_NEAR(share, 1, 0.001);
    EXPECT_GT(w->at("stages").at("upstream").at("seconds_per_request").as_double(), 0);
  }
  EXPECT_LE(body.at("windows").at("1m").at("seconds").as_double(),
            body.at("uptime_seconds").as_double() + 0.001);
  EXPECT_FALSE(body.at("slowest_stage").is_null());

  const json::array& models = body.at("top_models").as_array();
  ASSERT_EQ(models.size(), 1u) << json::serialize(models);
  EXPECT_EQ(models[0].at("model").as_string(), "fast");
  EXPECT_EQ(models[0].at("requests").to_number<std::uint64_t>(), 9u);
  EXPECT_GT(models[0].at("tokens").to_number<std::uint64_t>(), 0u);
  EXPECT_GT(models[0].at("cost_usd").as_double(), 0);
  EXPECT_TRUE(body.at("top_keys").as_array().empty());  // auth is off
}

TEST_F(StatsTest, TheSeriesIsFilledOnceASecond) {
  start();
  // Traffic spread over a few ticks, then wait until a point has seen it.
  json::array points;
  for (auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    EXPECT_EQ(send(chat("tick")).status, 200);
    json::object body = stats();
    points = body.at("series").at("points").as_array();
    bool busy = false;
    for (const json::value& p : points) busy |= p.at("requests_per_second").as_double() > 0;
    if (busy && points.size() >= 3) break;
    std::this_thread::sleep_for(300ms);
  }
  ASSERT_GE(points.size(), 3u);
  double previous = 0;
  bool busy = false;
  for (const json::value& p : points) {
    EXPECT_GT(p.at("t").as_double(), previous);  // oldest first
    previous = p.at("t").as_double();
    if (p.at("requests_per_second").as_double() > 0) {
      busy = true;
      EXPECT_FALSE(p.at("p50_seconds").is_null());
      EXPECT_FALSE(p.at("hit_rate").is_null());
    }
  }
  EXPECT_TRUE(busy);
  EXPECT_LE(points.size(), 300u);
}

TEST_F(StatsTest, TopKeysNameTheKeyNeverItsSecret) {
  start("data_dir: " + dir_.file("data").string() + "\nauth: {mode: keys}\n",
        {{"SLUICE_ADMIN_KEY", kAdminKey}});
  auto created =
      request(gateway_.port, "POST", "/admin/keys", R"({"name":"team-a"})", bearer(kAdminKey));
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201) << created->body;
  json::object key = json::parse(created->body).as_object();
  const std::string id(key.at("id").as_string()), secret(key.at("secret").as_string());
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(send(chat("k " + std::to_string(i)), bearer(secret)).status, 200);
  EXPECT_EQ(send(chat("no key")).status, 401);

  auto r = request(gateway_.port, "GET", "/admin/stats", "", bearer(kAdminKey));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->body.find(secret), std::string::npos);
  json::object body = json::parse(r->body).as_object();
  const json::array& keys = body.at("top_keys").as_array();
  ASSERT_EQ(keys.size(), 1u) << r->body;
  EXPECT_EQ(keys[0].at("key").as_string(), id);
  EXPECT_EQ(keys[0].at("requests").to_number<std::uint64_t>(), 3u);
  EXPECT_GT(keys[0].at("cost_usd").as_double(), 0);
  // The refused request is counted, and its time was spent authenticating.
  EXPECT_EQ(body.at("totals").at("requests").to_number<std::uint64_t>(), 4u);
  EXPECT_EQ(body.at("totals").at("client_errors").to_number<std::uint64_t>(), 1u);
  EXPECT_GT(body.at("totals").at("stages").at("auth").at("seconds_per_request").as_double(), 0);
}

TEST_F(StatsTest, MethodsAndTheAdminKey) {
  start("auth: {admin_key: " + std::string(kAdminKey) + "}\n");
  auto post = request(gateway_.port, "POST", "/admin/stats", "{}", bearer(kAdminKey));
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->header("allow"), "GET, HEAD");
  EXPECT_EQ(openai_error(*post).at("type"), "invalid_request_error");

  HttpClient client(gateway_.port);
  ASSERT_TRUE(client.send("HEAD", "/admin/stats", "", bearer(kAdminKey)));
  auto head = client.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-type"), "application/json");
  EXPECT_EQ(client.read_raw(200ms), "");  // the head only

  auto anonymous = request(gateway_.port, "GET", "/admin/stats");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_FALSE(openai_error(*anonymous).empty());
  auto wrong = request(gateway_.port, "GET", "/admin/stats", "", bearer("not-the-key"));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);

  json::object body = stats(bearer(kAdminKey));
  EXPECT_EQ(body.at("totals").at("requests").to_number<std::uint64_t>(), 0u);
  EXPECT_TRUE(body.at("slowest_stage").is_null());
  EXPECT_TRUE(body.at("windows").at("1m").at("latency_seconds").at("p50").is_null());
}

}  // namespace
}  // namespace sluice::testing
