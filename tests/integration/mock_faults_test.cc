// `sluice mock`'s run-time faults (POST/GET /mock/faults): defaults for every later request,
// under each request's own x-mock-* headers, so a routing test can make one upstream fail and
// recover without restarting it.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/http_client.h"
#include "support/openai_error.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;

constexpr const char* kChat = R"({"model":"mock","messages":[{"role":"user","content":"hi"}]})";

class MockFaultsEndpoint : public ::testing::Test {
 protected:
  void SetUp() override { mock_ = start_mock(dir_, {"--workers", "2"}); }

  Response chat(const std::map<std::string, std::string>& headers = {}) {
    auto r = request(mock_.port, "POST", "/v1/chat/completions", kChat, headers);
    EXPECT_TRUE(r);
    return r.value_or(Response{});
  }

  Response faults(const std::string& method, const std::string& body = {}) {
    auto r = request(mock_.port, method, "/mock/faults", body);
    EXPECT_TRUE(r);
    return r.value_or(Response{});
  }

  TempDir dir_;
  MockUpstream mock_;
};

TEST_F(MockFaultsEndpoint, StatusUntilCleared) {
  EXPECT_EQ(faults("GET").body, "{}");
  ASSERT_EQ(chat().status, 200);

  ASSERT_TRUE(mock_.set_faults(R"({"status":500})"));
  EXPECT_EQ(json::parse(faults("GET").body), json::parse(R"({"status":500})"));
  // Every later request, on whichever worker it lands.
  for (int i = 0; i < 4; ++i) {
    Response r = chat();
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(openai_error(r).at("type"), "server_error");
    EXPECT_TRUE(r.header("retry-after").empty());
  }
  EXPECT_GE(mock_.stats().at("faults").as_int64(), 4);

  ASSERT_TRUE(mock_.set_faults("{}"));
  EXPECT_EQ(faults("GET").body, "{}");
  Response ok = chat();
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(json::parse(ok.body).at("object"), "chat.completion");
}

TEST_F(MockFaultsEndpoint, RequestHeadersWinFieldByField) {
  ASSERT_TRUE(mock_.set_faults(R"({"status":503,"retry_after":4})"));
  Response other = chat({{"x-mock-status", "429"}});
  EXPECT_EQ(other.status, 429);
  EXPECT_EQ(openai_error(other).at("type"), "rate_limit_error");
  EXPECT_EQ(other.header("retry-after"), "4");  // the field the request did not set

  // A status below 400 in the header answers normally despite the default.
  EXPECT_EQ(chat({{"x-mock-status", "200"}}).status, 200);
  EXPECT_EQ(chat().status, 503);
}

TEST_F(MockFaultsEndpoint, RetryAfterBecomesAHeader) {
  ASSERT_TRUE(mock_.set_faults(R"({"status":429,"retry_after":7})"));
  Response r = chat();
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.header("retry-after"), "7");
  openai_error(r);
}

TEST_F(MockFaultsEndpoint, PacingDefaults) {
  ASSERT_TRUE(mock_.set_faults(R"({"tokens":3,"delay_ms":1})"));
  Response r = chat();
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body).at("usage").at("completion_tokens"), 3);
  EXPECT_EQ(json::parse(faults("GET").body), json::parse(R"({"tokens":3,"delay_ms":1})"));
}

TEST_F(MockFaultsEndpoint, BadBodiesAre400AndChangeNothing) {
  ASSERT_TRUE(mock_.set_faults(R"({"status":502})"));
  for (const char* body :
       {"{not json", "[1]", R"({"status":"500"})", R"({"status":42})", R"({"hang":1})",
        R"({"tokens_per_second":0})", R"({"stauts":500})", R"({"delay_ms":-1})"}) {
    Response r = faults("POST", body);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_EQ(openai_error(r).at("type"), "invalid_request_error") << body;
  }
  EXPECT_FALSE(mock_.set_faults(R"({"retry_after":1.5})"));
  EXPECT_EQ(json::parse(faults("GET").body), json::parse(R"({"status":502})"));
  EXPECT_EQ(chat().status, 502);
  EXPECT_EQ(faults("DELETE").status, 405);
}

}  // namespace
}  // namespace sluice::testing
