// GET and PATCH /admin/config end to end (docs/observability.md, "Configuration at run time"):
// the effective configuration with its secrets redacted, and patches that change what the next
// request sees (the cache switched on, a model's rate limit), validated like the file, refused
// when they would need a restart, and undone by a reload of the file.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/http_client.h"
#include "support/openai_error.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;

constexpr const char* kConfig = R"(
cache: {enabled: false}
providers:
  - name: sim
    kind: mock
  - name: hosted
    kind: openai
    base_url: http://127.0.0.1:9/v1
    api_key: sk-very-secret
models:
  - {name: alpha, deployments: [{provider: sim}]}
)";

std::string chat(const std::string& content) {
  return R"({"model":"alpha","messages":[{"role":"user","content":")" + content +
         R"("}],"temperature":0})";
}

class AdminConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { gateway_ = start_gateway(dir_, kConfig); }

  std::optional<Response> patch(const std::string& body) {
    return request(gateway_.port, "PATCH", "/admin/config", body,
                   {{"content-type", "application/merge-patch+json"}});
  }
  json::object config() {
    auto r = request(gateway_.port, "GET", "/admin/config");
    EXPECT_TRUE(r && r->status == 200);
    return r ? json::parse(r->body).as_object() : json::object();
  }
  std::optional<Response> send(const std::string& content) {
    return request(gateway_.port, "POST", "/v1/chat/completions", chat(content));
  }
  // The message of an OpenAI-shaped 400.
  std::string refusal(const std::optional<Response>& r) {
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 400) << r->body;
    return std::string(openai_error(*r).at("message").as_string());
  }

  TempDir dir_;
  Gateway gateway_;
};

TEST_F(AdminConfigTest, GetShowsTheEffectiveConfigurationWithoutSecrets) {
  auto r = request(gateway_.port, "GET", "/admin/config");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->body.find("sk-very-secret"), std::string::npos) << r->body;
  json::object c = json::parse(r->body).as_object();
  EXPECT_EQ(c.at("providers").as_array()[1].at("api_key"), "<redacted>");
  EXPECT_EQ(c.at("models").as_array()[0].at("name"), "alpha");
  EXPECT_EQ(c.at("cache").at("enabled"), false);
  EXPECT_EQ(c.at("cache").at("ttl"), "3600s");  // a default, filled in
}

TEST_F(AdminConfigTest, TurningTheCacheOnTakesEffectOnTheNextRequest) {
  ASSERT_EQ(send("one")->header("x-sluice-cache"), "");
  auto r = patch(R"({"cache": {"enabled": true, "ttl": "10m"}})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).at("cache").at("ttl"), "600s");
  EXPECT_EQ(send("two")->header("x-sluice-cache"), "miss");
  EXPECT_EQ(send("two")->header("x-sluice-cache"), "hit");
  EXPECT_EQ(config().at("cache").at("enabled"), true);

  // The file is unchanged: reading it again turns the cache back off.
  ASSERT_EQ(request(gateway_.port, "POST", "/admin/reload")->status, 200);
  EXPECT_EQ(send("two")->header("x-sluice-cache"), "");
}

TEST_F(AdminConfigTest, AModelsLimitPatchedByNameAppliesAtOnce) {
  auto r = patch(R"({"models": {"alpha": {"limits": {"rpm": 1}, "strategy": "round-robin"}}})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json::object model = config().at("models").as_array()[0].as_object();
  EXPECT_EQ(model.at("strategy"), "round-robin");
  EXPECT_EQ(send("a")->status, 200);
  auto limited = send("b");
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429) << limited->body;
}

TEST_F(AdminConfigTest, InvalidPatchesAreRefusedAndChangeNothing) {
  EXPECT_NE(refusal(patch(R"({"cache": {"ttl": "soon"}})")).find("cache.ttl"), std::string::npos);
  EXPECT_NE(refusal(patch(R"({"models": {"gamma": {"strategy": "latency"}}})")).find("gamma"),
            std::string::npos);
  EXPECT_NE(refusal(patch(R"({"models": {"alpha": {"strategy": "fastest"}}})")).find("strategy"),
            std::string::npos);
  EXPECT_NE(refusal(patch(R"({"drain_timeout": "1s"})")).find("needs a restart"),
            std::string::npos);
  EXPECT_NE(
      refusal(patch(R"({"providers": {"hosted": {"api_key": "<redacted>"}}})")).find("secret"),
      std::string::npos);
  EXPECT_NE(refusal(patch("[1,2]")).find("JSON object"), std::string::npos);
  EXPECT_NE(refusal(patch("{not json")).find("parse"), std::string::npos);
  // Still the configuration the process started with.
  json::object c = config();
  EXPECT_EQ(c.at("cache").at("ttl"), "3600s");
  EXPECT_EQ(c.at("drain_timeout"), "30s");
  EXPECT_EQ(send("still").value().status, 200);
}

TEST_F(AdminConfigTest, OtherMethodsAre405) {
  auto r = request(gateway_.port, "DELETE", "/admin/config");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET, HEAD, PATCH");
}

}  // namespace
}  // namespace sluice::testing
