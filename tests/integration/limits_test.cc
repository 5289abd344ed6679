// The server's limits, each with a clear answer: 431, 413, 408, 400 and close for bad framing,
// quiet close of idle keep-alive connections, 100-continue, HTTP/1.0.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/http_client.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gateway_ = start_gateway(dir_, R"(
limits:
  max_header_bytes: 1KiB
  max_body_bytes: 2KiB
  header_timeout: 1s
  body_timeout: 1s
  idle_timeout: 1s
providers:
  - name: sim
    kind: mock
models:
  - name: m
    deployments: [{provider: sim}]
)");
  }

  std::string error_code(const Response& r) {
    auto v = json::parse(r.body);
    const auto& code = v.at("error").at("code");
    return code.is_string() ? std::string(code.as_string()) : "";
  }

  TempDir dir_;
  Gateway gateway_;
};

constexpr const char* kChat = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";

TEST_F(LimitsTest, OversizedHeadersAre431) {
  HttpClient c(gateway_.port);
  ASSERT_TRUE(c.send("POST", "/v1/chat/completions", kChat, {{"X-Big", std::string(2000, 'a')}}));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(error_code(*r), "headers_too_large");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.wait_closed(2s));
}

TEST_F(LimitsTest, OversizedBodyIs413BeforeItIsRead) {
  HttpClient c(gateway_.port);
  std::string body(3000, ' ');
  ASSERT_TRUE(c.send("POST", "/v1/chat/completions", body));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(error_code(*r), "request_too_large");
  EXPECT_NE(json::parse(r->body).at("error").at("message").as_string().find("2KiB"),
            std::string::npos);
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST_F(LimitsTest, OversizedChunkedBodyIs413) {
  HttpClient c(gateway_.port);
  std::string chunk(1500, 'x');
  std::string req =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  req += "5dc\r\n" + chunk + "\r\n5dc\r\n" + chunk + "\r\n0\r\n\r\n";
  ASSERT_TRUE(c.send_raw(req));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(LimitsTest, ChunkedBodyWithinLimitsIsAccepted) {
  HttpClient c(gateway_.port);
  std::string body = kChat;
  std::string req =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  std::string a = body.substr(0, 10), b = body.substr(10);
  char size_a[16], size_b[16];
  std::snprintf(size_a, sizeof size_a, "%zx", a.size());
  std::snprintf(size_b, sizeof size_b, "%zx", b.size());
  req += std::string(size_a) + "\r\n" + a + "\r\n" + size_b + "\r\n" + b + "\r\n0\r\n\r\n";
  ASSERT_TRUE(c.send_raw(req));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(LimitsTest, SlowHeadersGet408) {
  HttpClient c(gateway_.port, 5s);
  ASSERT_TRUE(c.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"));
  auto began = std::chrono::steady_clock::now();
  auto r = c.read_response();
  auto took = std::chrono::steady_clock::now() - began;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(error_code(*r), "request_timeout");
  EXPECT_GE(took, 800ms);
  EXPECT_LT(took, 3s);
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST_F(LimitsTest, SlowBodyGets408) {
  HttpClient c(gateway_.port, 5s);
  ASSERT_TRUE(c.send_raw(
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mo"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
}

TEST_F(LimitsTest, IdleKeepAliveConnectionIsClosedQuietly) {
  HttpClient c(gateway_.port, 5s);
  ASSERT_TRUE(c.send("GET", "/healthz"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto began = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.wait_closed(4s));
  EXPECT_GE(std::chrono::steady_clock::now() - began, 800ms);
  // Nothing was sent before the close: no 408 to a client that sent nothing.
  EXPECT_FALSE(c.read_response());
}

TEST_F(LimitsTest, ContentLengthWithTransferEncodingIs400AndClose) {
  HttpClient c(gateway_.port);
  ASSERT_TRUE(
      c.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST_F(LimitsTest, MalformedFramingIs400AndClose) {
  const std::vector<std::string> bad = {
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc",
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: "
      "6\r\n\r\nhello!",
      "GARBAGE\r\n\r\n",
      "GET /healthz HTTP/1.1\r\nNo colon here\r\n\r\n",
      "GET /healthz HTTP/1.1\r\n\r\n",  // HTTP/1.1 without Host
      "GET healthz HTTP/1.1\r\nHost: x\r\n\r\n",
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  };
  for (const auto& raw : bad) {
    HttpClient c(gateway_.port);
    ASSERT_TRUE(c.send_raw(raw));
    auto r = c.read_response();
    ASSERT_TRUE(r) << raw;
    EXPECT_EQ(r->status, 400) << raw;
    EXPECT_EQ(r->header("content-type"), "application/json") << raw;
    EXPECT_TRUE(json::parse(r->body).at("error").is_object()) << raw;
    EXPECT_TRUE(c.wait_closed(3s)) << raw;
  }
}

TEST_F(LimitsTest, ExpectContinueGets100First) {
  HttpClient c(gateway_.port);
  std::string body = kChat;
  ASSERT_TRUE(
      c.send_raw("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 "application/json\r\nExpect: 100-continue\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n"));
  auto interim = c.read_head();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send_raw(body));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
}

TEST_F(LimitsTest, Http10GetsAnAnswerAndAClose) {
  HttpClient c(gateway_.port);
  ASSERT_TRUE(c.send_raw("GET /healthz HTTP/1.0\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(c.wait_closed(2s));
}

TEST_F(LimitsTest, Http10KeepAliveIsHonoured) {
  HttpClient c(gateway_.port);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send_raw("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("connection"), "keep-alive");
  }
}

TEST_F(LimitsTest, Http10StreamEndsWithTheConnection) {
  HttpClient c(gateway_.port);
  std::string body = R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";
  ASSERT_TRUE(
      c.send_raw("POST /v1/chat/completions HTTP/1.0\r\nContent-Type: application/json\r\n"
                 "Content-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->chunked);
  EXPECT_EQ(sse_data(r->body).back(), "[DONE]");
}

TEST_F(LimitsTest, ConnectionCloseIsHonoured) {
  HttpClient c(gateway_.port);
  ASSERT_TRUE(c.send("GET", "/healthz", "", {{"Connection", "close"}}));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.wait_closed(2s));
}

TEST_F(LimitsTest, HeadRequestGetsHeadersOnly) {
  HttpClient c(gateway_.port);
  ASSERT_TRUE(
      c.send_raw("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                 "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string raw = c.read_raw(500ms);
  // Two heads, one body: the HEAD answer has a Content-Length but no body bytes.
  EXPECT_EQ(raw.find("HTTP/1.1 200 OK"), 0u) << raw;
  EXPECT_NE(raw.find("HTTP/1.1 200 OK", 10), std::string::npos) << raw;
  std::size_t bodies = 0;
  for (auto pos = raw.find(R"({"status":"ok"})"); pos != std::string::npos;
       pos = raw.find(R"({"status":"ok"})", pos + 1)) {
    ++bodies;
  }
  EXPECT_EQ(bodies, 1u) << raw;
}

}  // namespace
}  // namespace sluice::testing
