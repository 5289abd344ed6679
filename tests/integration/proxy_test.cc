// Round trips through a real `sluice serve` in front of a real `sluice mock`: JSON and streamed
// answers, alias rewriting, the model endpoints, and headers passed on.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/http_client.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = start_mock(dir_);
    gateway_ = start_gateway(dir_, R"(
providers:
  - name: local
    kind: openai
    base_url: )" + mock_.base_url() + R"(
    forward_headers: [x-mock-*]
  - name: sim
    kind: mock
models:
  - name: fast
    deployments:
      - provider: local
        model: llama-3.1-8b
  - name: same-name
    deployments:
      - provider: local
  - name: inproc
    deployments:
      - provider: sim
        model: sim-model
)");
  }

  TempDir dir_;
  MockUpstream mock_;
  Gateway gateway_;
};

constexpr const char* kChat =
    R"({"model":"fast","messages":[{"role":"user","content":"Say hello"}],"max_tokens":12})";

TEST_F(ProxyTest, ChatCompletionRoundTripRewritesTheAlias) {
  auto r = request(gateway_.port, "POST", "/v1/chat/completions", kChat);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(r->header("x-request-id").rfind("req_", 0), 0u);
  auto body = json::parse(r->body).as_object();
  EXPECT_EQ(body.at("object"), "chat.completion");
  // The upstream saw the deployment's model name, not the alias.
  EXPECT_EQ(body.at("model"), "llama-3.1-8b");
  auto usage = body.at("usage").as_object();
  EXPECT_GT(usage.at("completion_tokens").as_int64(), 0);
  EXPECT_EQ(mock_.stats().at("requests").as_int64(), 1);
}

TEST_F(ProxyTest, SameAnswerAsTheUpstreamDirectly) {
  std::string direct_body =
      R"({"model":"llama-3.1-8b","messages":[{"role":"user","content":"Say hello"}],"max_tokens":12})";
  auto direct = request(mock_.port, "POST", "/v1/chat/completions", direct_body);
  auto via = request(gateway_.port, "POST", "/v1/chat/completions", kChat);
  ASSERT_TRUE(direct && via);
  auto a = json::parse(direct->body).as_object();
  auto b = json::parse(via->body).as_object();
  EXPECT_EQ(a.at("choices"), b.at("choices"));
  EXPECT_EQ(a.at("usage"), b.at("usage"));
}

TEST_F(ProxyTest, ModelWithoutUpstreamNameIsSentAsIs) {
  auto r = request(gateway_.port, "POST", "/v1/chat/completions",
                   R"({"model":"same-name","messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).at("model"), "same-name");
}

TEST_F(ProxyTest, StreamedChatArrivesAsServerSentEvents) {
  auto r = request(gateway_.port, "POST", "/v1/chat/completions",
                   R"({"model":"fast","stream":true,"max_tokens":8,
                       "messages":[{"role":"user","content":"Say hello"}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
  EXPECT_TRUE(r->chunked);
  auto events = sse_data(r->body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text;
  for (std::size_t i = 0; i + 1 < events.size(); ++i) {
    auto chunk = json::parse(events[i]).as_object();
    EXPECT_EQ(chunk.at("object"), "chat.completion.chunk");
    EXPECT_EQ(chunk.at("model"), "llama-3.1-8b");
    const auto& delta = chunk.at("choices").as_array().at(0).at("delta").as_object();
    if (auto* c = delta.if_contains("content"); c && c->is_string()) text += c->as_string();
  }
  // The streamed text is the same as the non-streamed answer.
  auto whole = request(gateway_.port, "POST", "/v1/chat/completions",
                       R"({"model":"fast","max_tokens":8,
                           "messages":[{"role":"user","content":"Say hello"}]})");
  ASSERT_TRUE(whole);
  EXPECT_EQ(text, json::parse(whole->body)
                      .at("choices")
                      .as_array()
                      .at(0)
                      .at("message")
                      .at("content")
                      .as_string());
}

TEST_F(ProxyTest, EveryEndpointIsProxied) {
  auto c = request(gateway_.port, "POST", "/v1/completions",
                   R"({"model":"fast","prompt":"Once upon a time","max_tokens":5})");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 200) << c->body;
  EXPECT_EQ(json::parse(c->body).at("object"), "text_completion");

  auto e = request(gateway_.port, "POST", "/v1/embeddings",
                   R"({"model":"fast","input":["a","b"],"dimensions":8})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 200) << e->body;
  auto data = json::parse(e->body).at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[0].at("embedding").as_array().size(), 8u);

  auto i = request(gateway_.port, "POST", "/v1/images/generations",
                   R"({"model":"fast","prompt":"a lighthouse","n":1})");
  ASSERT_TRUE(i);
  EXPECT_EQ(i->status, 200) << i->body;
  EXPECT_EQ(json::parse(i->body).at("data").as_array().size(), 1u);

  auto stats = mock_.stats().at("endpoints").as_object();
  EXPECT_EQ(stats.at("completions").as_int64(), 1);
  EXPECT_EQ(stats.at("embeddings").as_int64(), 1);
  EXPECT_EQ(stats.at("images").as_int64(), 1);
}

TEST_F(ProxyTest, InProcessMockProviderAnswersWithoutNetwork) {
  auto r = request(gateway_.port, "POST", "/v1/chat/completions",
                   R"({"model":"inproc","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).at("model"), "sim-model");
  EXPECT_EQ(mock_.stats().at("requests").as_int64(), 0);

  auto s =
      request(gateway_.port, "POST", "/v1/chat/completions",
              R"({"model":"inproc","stream":true,"messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(s);
  EXPECT_EQ(sse_data(s->body).back(), "[DONE]");
}

TEST_F(ProxyTest, ModelsComeFromConfiguration) {
  auto r = request(gateway_.port, "GET", "/v1/models");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto list = json::parse(r->body).as_object();
  EXPECT_EQ(list.at("object"), "list");
  std::vector<std::string> ids;
  for (const auto& m : list.at("data").as_array()) {
    ids.emplace_back(m.at("id").as_string());
    EXPECT_EQ(m.at("object"), "model");
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"fast", "same-name", "inproc"}));

  auto one = request(gateway_.port, "GET", "/v1/models/fast");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 200);
  EXPECT_EQ(json::parse(one->body).at("id"), "fast");
  EXPECT_EQ(json::parse(one->body).at("owned_by"), "local");
}

TEST_F(ProxyTest, HealthCheck) {
  auto r = request(gateway_.port, "GET", "/healthz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body).at("status"), "ok");
}

TEST_F(ProxyTest, ClientRequestIdIsEchoedAndSentUpstream) {
  auto r = request(gateway_.port, "POST", "/v1/chat/completions", kChat,
                   {{"X-Request-Id", "my-trace-42"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("x-request-id"), "my-trace-42");
}

TEST_F(ProxyTest, KeepAliveServesManyRequestsOnOneConnection) {
  HttpClient client(gateway_.port);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(client.send("POST", "/v1/chat/completions", kChat));
    auto r = client.read_response();
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(ProxyTest, PipelinedRequestsAreAnsweredInOrder) {
  HttpClient client(gateway_.port);
  std::string one =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(std::strlen(kChat)) + "\r\n\r\n" + kChat;
  std::string health = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string missing = "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(client.send_raw(one + health + missing + one));
  auto a = client.read_response();
  auto b = client.read_response();
  auto c = client.read_response();
  auto d = client.read_response();
  ASSERT_TRUE(a && b && c && d);
  EXPECT_EQ(a->status, 200);
  EXPECT_EQ(json::parse(a->body).at("object"), "chat.completion");
  EXPECT_EQ(b->status, 200);
  EXPECT_EQ(json::parse(b->body).at("status"), "ok");
  EXPECT_EQ(c->status, 404);
  EXPECT_EQ(d->status, 200);
  EXPECT_EQ(json::parse(d->body).at("object"), "chat.completion");
}

}  // namespace
}  // namespace sluice::testing
