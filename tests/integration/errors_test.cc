// Every error a client can get, ours or translated from upstream, has OpenAI's shape
// {"error":{"message","type","param","code"}} and the right status.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <thread>

#include "core/strings.h"
#include "support/fake_upstream.h"
#include "support/http_client.h"
#include "support/openai_error.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;

// The OpenAI error shape, and the request id every answer of the gateway carries.
json::object error_of(const Response& r) {
  EXPECT_FALSE(r.header("x-request-id").empty());
  return openai_error(r);
}

class ErrorsTest : public ::testing::Test {
 protected:
  void start(const std::string& extra_providers = "", const std::string& extra_models = "") {
    mock_ = start_mock(dir_);
    gateway_ = start_gateway(dir_, R"(
providers:
  - name: up
    kind: openai
    base_url: )" + mock_.base_url() + R"(
    forward_headers: [x-mock-*]
    timeouts: {first_byte: 1s, idle: 1s}
  - name: dead
    kind: openai
    base_url: http://127.0.0.1:)" + std::to_string(closed_port()) +
                                       R"(/v1
)" + extra_providers + R"(
models:
  - name: fast
    deployments: [{provider: up}]
  - name: broken
    deployments: [{provider: dead}]
)" + extra_models);
  }

  Response post(const std::string& body, const std::map<std::string, std::string>& headers = {},
                const std::string& path = "/v1/chat/completions") {
    auto r = request(gateway_.port, "POST", path, body, headers);
    EXPECT_TRUE(r);
    return r.value_or(Response{});
  }

  TempDir dir_;
  MockUpstream mock_;
  Gateway gateway_;
};

constexpr const char* kChat = R"({"model":"fast","messages":[{"role":"user","content":"hi"}]})";

TEST_F(ErrorsTest, UnknownPathIs404) {
  start();
  auto r = request(gateway_.port, "POST", "/v1/chat/complete", kChat);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  auto e = error_of(*r);
  EXPECT_EQ(e.at("type"), "invalid_request_error");
  EXPECT_NE(std::string(e.at("message").as_string()).find("/v1/chat/complete"), std::string::npos);
}

TEST_F(ErrorsTest, WrongMethodIs405WithAllow) {
  start();
  auto r = request(gateway_.port, "GET", "/v1/chat/completions");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "POST");
  error_of(*r);
  auto m = request(gateway_.port, "DELETE", "/v1/models");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 405);
  EXPECT_EQ(m->header("allow"), "GET, HEAD");
}

TEST_F(ErrorsTest, InvalidJsonSaysWhereItBroke) {
  start();
  auto r = post("{\"model\": \"fast\",\n \"messages\": [oops]}");
  EXPECT_EQ(r.status, 400);
  auto e = error_of(r);
  EXPECT_EQ(e.at("type"), "invalid_request_error");
  std::string message(e.at("message").as_string());
  EXPECT_NE(message.find("line 2, column 15"), std::string::npos) << message;
  auto stats = request(mock_.port, "GET", "/mock/stats");  // never sent upstream
  ASSERT_TRUE(stats);
  EXPECT_EQ(json::parse(stats->body).at("requests"), 0);
}

TEST_F(ErrorsTest, BodyMustBeAnObject) {
  start();
  auto r = post("[1,2]");
  EXPECT_EQ(r.status, 400);
  error_of(r);
  auto empty = post("");
  EXPECT_EQ(empty.status, 400);
  error_of(empty);
}

TEST_F(ErrorsTest, MissingOrUnknownModelIs404ModelNotFound) {
  start();
  auto missing = post(R"({"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(missing.status, 404);
  auto e = error_of(missing);
  EXPECT_EQ(e.at("code"), "model_not_found");
  EXPECT_EQ(e.at("param"), "model");

  auto unknown = post(R"({"model":"gpt-nope","messages":[]})");
  EXPECT_EQ(unknown.status, 404);
  auto u = error_of(unknown);
  EXPECT_EQ(u.at("code"), "model_not_found");
  EXPECT_NE(std::string(u.at("message").as_string()).find("gpt-nope"), std::string::npos);

  auto retrieve = request(gateway_.port, "GET", "/v1/models/gpt-nope");
  ASSERT_TRUE(retrieve);
  EXPECT_EQ(retrieve->status, 404);
  EXPECT_EQ(error_of(*retrieve).at("code"), "model_not_found");
}

TEST_F(ErrorsTest, WrongFieldTypesAre400) {
  start();
  auto model = post(R"({"model":42,"messages":[]})");
  EXPECT_EQ(model.status, 400);
  EXPECT_EQ(error_of(model).at("param"), "model");
  auto stream = post(R"({"model":"fast","stream":"yes","messages":[]})");
  EXPECT_EQ(stream.status, 400);
  EXPECT_EQ(error_of(stream).at("param"), "stream");
}

TEST_F(ErrorsTest, UpstreamUnreachableIs502) {
  start();
  auto r = post(R"({"model":"broken","messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(r.status, 502);
  auto e = error_of(r);
  EXPECT_EQ(e.at("code"), "upstream_unreachable");
  EXPECT_NE(std::string(e.at("message").as_string()).find("dead"), std::string::npos);
}

TEST_F(ErrorsTest, UpstreamTimeoutIs504) {
  start();
  auto began = std::chrono::steady_clock::now();
  auto r = post(kChat, {{"x-mock-hang", "1"}});
  auto took = std::chrono::steady_clock::now() - began;
  EXPECT_EQ(r.status, 504);
  auto e = error_of(r);
  EXPECT_EQ(e.at("code"), "upstream_timeout");
  EXPECT_NE(std::string(e.at("message").as_string()).find("first-byte"), std::string::npos);
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 5s);
}

TEST_F(ErrorsTest, UpstreamErrorStatusPassesThroughInOpenAIShape) {
  start();
  auto r = post(kChat, {{"x-mock-status", "429"}, {"x-mock-retry-after", "7"}});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.header("retry-after"), "7");
  auto e = error_of(r);
  EXPECT_NE(std::string(e.at("message").as_string()).find("injected"), std::string::npos);

  auto unavailable = post(kChat, {{"x-mock-status", "503"}});
  EXPECT_EQ(unavailable.status, 503);
  error_of(unavailable);
}

TEST_F(ErrorsTest, ForeignUpstreamErrorBodiesAreTranslated) {
  FakeUpstream plain([](const std::string&) {
    return std::string(
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
        "Content-Length: 21\r\n\r\nsomething went wrong!");
  });
  FakeUpstream detail([](const std::string&) {
    std::string body = R"({"detail":"Model is loading"})";
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
           "Content-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  });
  start(R"(
  - name: plain
    kind: openai
    base_url: )" +
            plain.base_url() + R"(
  - name: detail
    kind: openai
    base_url: )" +
            detail.base_url(),
        R"(
  - name: plain-model
    deployments: [{provider: plain}]
  - name: detail-model
    deployments: [{provider: detail}]
)");
  auto a = post(R"({"model":"plain-model","messages":[]})");
  EXPECT_EQ(a.status, 500);
  auto ea = error_of(a);
  EXPECT_NE(std::string(ea.at("message").as_string()).find("something went wrong!"),
            std::string::npos);
  EXPECT_EQ(ea.at("type"), "server_error");

  auto b = post(R"({"model":"detail-model","messages":[]})");
  EXPECT_EQ(b.status, 503);
  EXPECT_EQ(error_of(b).at("message"), "Model is loading");
}

TEST_F(ErrorsTest, MalformedUpstreamResponseIs502) {
  FakeUpstream garbage([](const std::string&) { return std::string("SMTP ready\r\n\r\n"); });
  FakeUpstream truncated([](const std::string&) {
    return std::string(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        "{\"id\":\"x\"");
  });
  start(R"(
  - name: garbage
    kind: openai
    base_url: )" +
            garbage.base_url() + R"(
  - name: truncated
    kind: openai
    base_url: )" +
            truncated.base_url(),
        R"(
  - name: g
    deployments: [{provider: garbage}]
  - name: t
    deployments: [{provider: truncated}]
)");
  auto g = post(R"({"model":"g","messages":[]})");
  EXPECT_EQ(g.status, 502);
  EXPECT_EQ(error_of(g).at("code"), "upstream_protocol_error");
  // A cut answer is never passed on as if it were whole.
  auto t = post(R"({"model":"t","messages":[]})");
  EXPECT_EQ(t.status, 502);
  EXPECT_EQ(error_of(t).at("code"), "upstream_protocol_error");
}

TEST_F(ErrorsTest, UpstreamClosingIdleConnectionsIsInvisible) {
  // The fake upstream answers with keep-alive and then closes every connection at once, as
  // servers with short keep-alive timeouts do: the gateway must never use a dead connection.
  FakeUpstream closer([](const std::string&) {
    std::string body = R"({"ok":true})";
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  });
  start(R"(
  - name: closer
    kind: openai
    base_url: )" +
            closer.base_url(),
        R"(
  - name: c
    deployments: [{provider: closer}]
)");
  for (int i = 0; i < 5; ++i) {
    auto r = post(R"({"model":"c","messages":[]})");
    EXPECT_EQ(r.status, 200) << i << ": " << r.body;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(closer.requests(), 5);
}

TEST_F(ErrorsTest, ClientAuthorizationIsNeverForwarded) {
  std::string seen;
  FakeUpstream spy([&](const std::string& request) {
    seen = request;
    std::string body = R"({"ok":true})";
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  });
  start(R"(
  - name: spy
    kind: openai
    base_url: )" +
            spy.base_url() + R"(
    api_key: sk-upstream-secret
    forward_headers: [x-*, authorization]
)",
        R"(
  - name: s
    deployments: [{provider: spy, model: upstream-name}]
)");
  auto r = post(R"({"model":"s","messages":[]})", {{"Authorization", "Bearer sk-client-key"},
                                                   {"X-Trace-Id", "abc"},
                                                   {"X-Request-Id", "client-id-1"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(seen.find("authorization: Bearer sk-upstream-secret\r\n"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("sk-client-key"), std::string::npos) << seen;
  EXPECT_NE(seen.find("X-Trace-Id: abc\r\n"), std::string::npos) << seen;
  // The request id goes upstream once: the gateway's own header, which carries the client's id.
  auto id_at = seen.find("x-request-id: client-id-1\r\n");
  EXPECT_NE(id_at, std::string::npos) << seen;
  EXPECT_EQ(core::to_lower(seen).find("x-request-id", id_at + 1), std::string::npos) << seen;
  EXPECT_NE(seen.find(R"({"model":"upstream-name","messages":[]})"), std::string::npos) << seen;
  EXPECT_EQ(seen.rfind("POST /v1/chat/completions HTTP/1.1\r\n", 0), 0u) << seen;
}

}  // namespace
}  // namespace sluice::testing
