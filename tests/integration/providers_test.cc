// The provider kinds beyond plain OpenAI, end to end through a real gateway: what each sends
// upstream (URL, credentials, version, body) and what the client gets back. The upstream is a
// FakeUpstream that records every request and answers with the vendor's exact wire format.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/fake_upstream.h"
#include "support/http_client.h"
#include "support/openai_error.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;

std::string http_answer(std::string_view status, std::string_view content_type,
                        std::string_view body) {
  return "HTTP/1.1 " + std::string(status) + "\r\ncontent-type: " + std::string(content_type) +
         "\r\ncontent-length: " + std::to_string(body.size()) + "\r\nconnection: close\r\n\r\n" +
         std::string(body);
}

// A recording upstream answering every request with `answer`.
class Recorder {
 public:
  explicit Recorder(std::string answer)
      : answer_(std::move(answer)), upstream_([this](const std::string& request) {
          std::lock_guard lock(mu_);
          seen_.push_back(request);
          return answer_;
        }) {}

  std::string last() {
    std::lock_guard lock(mu_);
    return seen_.empty() ? std::string() : seen_.back();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(upstream_.port()); }

 private:
  std::string answer_;
  std::mutex mu_;
  std::vector<std::string> seen_;
  FakeUpstream upstream_;
};

std::string body_of(const std::string& raw_request) {
  auto at = raw_request.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : raw_request.substr(at + 4);
}

constexpr std::string_view kOpenAIAnswer =
    R"({"id":"chatcmpl-az","object":"chat.completion","created":1,"model":"gpt-4o",)"
    R"("choices":[{"index":0,"message":{"role":"assistant","content":"hello from azure"},)"
    R"("finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}})";

TEST(AzureProviderTest, SendsToTheDeploymentsUrlWithApiVersionAndApiKey) {
  Recorder upstream(http_answer("200 OK", "application/json", kOpenAIAnswer));
  TempDir dir;
  Gateway gateway = start_gateway(dir, R"(
providers:
  - name: az
    kind: azure
    base_url: )" + upstream.base_url() + R"(
    api_key: az-secret
models:
  - name: gpt-4o
    deployments: [{provider: az, model: gpt4o-prod}]
  - name: embed
    deployments: [{provider: az, model: "emb 3"}]
)");
  ASSERT_NE(gateway.port, 0) << gateway.process->log();

  const std::string chat = R"({"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]})";
  auto r = request(gateway.port, "POST", "/v1/chat/completions", chat,
                   {{"authorization", "Bearer client-key"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(json::parse(r->body).at("choices").at(0).at("message").at("content"),
            "hello from azure");
  std::string seen = upstream.last();
  EXPECT_TRUE(seen.starts_with(
      "POST /openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21 HTTP/1.1\r\n"))
      << seen;
  EXPECT_NE(seen.find("api-key: az-secret\r\n"), std::string::npos) << seen;
  // The client's own key never reaches the provider, and Azure gets no bearer token.
  EXPECT_EQ(seen.find("authorization"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("client-key"), std::string::npos) << seen;
  EXPECT_EQ(json::parse(body_of(seen)).at("model"), "gpt4o-prod");

  // Deployment names are escaped into the path.
  auto e = request(gateway.port, "POST", "/v1/embeddings", R"({"model":"embed","input":"x"})");
  ASSERT_TRUE(e);
  EXPECT_TRUE(upstream.last().starts_with(
      "POST /openai/deployments/emb%203/embeddings?api-version=2024-10-21 HTTP/1.1\r\n"))
      << upstream.last();
}

// The text of an OpenAI stream's content deltas, and whether it ended with [DONE].
struct StreamText {
  std::string content;
  bool done = false;
  json::value usage;
  std::string error;
};

StreamText read_openai_stream(const std::string& body) {
  StreamText out;
  std::size_t at = 0;
  while ((at = body.find("data: ", at)) != std::string::npos) {
    std::size_t end = body.find("\n\n", at);
    std::string data = body.substr(at + 6, end - at - 6);
    at = end;
    if (data == "[DONE]") {
      out.done = true;
      continue;
    }
    json::object chunk = json::parse(data).as_object();
    if (auto* e = chunk.if_contains("error")) {
      out.error = std::string(e->at("message").as_string());
      continue;
    }
    if (auto* u = chunk.if_contains("usage"); u && !u->is_null()) out.usage = *u;
    for (const auto& c : chunk.at("choices").as_array()) {
      const json::value* content = c.at("delta").as_object().if_contains("content");
      if (content && content->is_string()) out.content += content->as_string();
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Anthropic

constexpr std::string_view kAnthropicMessage =
    R"({"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant",)"
    R"("model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Hi! How can I help?"}],)"
    R"("stop_reason":"end_turn","stop_sequence":null,)"
    R"("usage":{"input_tokens":12,"cache_read_input_tokens":4,"output_tokens":6}})";

// A stream as Anthropic sends it, with "日本語 🌊" cut inside its characters and an event cut
// between its lines, so the gateway gets them in separate reads.
std::string anthropic_stream(bool with_error = false) {
  const std::string flush(FakeUpstream::kFlush);
  std::string s =
      "event: message_start\n"
      R"(data: {"type":"message_start","message":{"id":"msg_s1","type":"message","role":"assistant",)"
      R"("model":"claude-sonnet-4-5-20250929","content":[],"stop_reason":null,"stop_sequence":null,)"
      R"("usage":{"input_tokens":25,"output_tokens":1}}})"
      "\n\n"
      "event: content_block_start\n"
      R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
      "\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n"
      "event: content_block_delta\n"
      R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"日)" +
      flush + "\xe6\x9c" + flush + "\xac語 \xf0\x9f" + flush +
      "\x8c\x8a\"}}\n\nevent: content_block_delta\n" + flush +
      R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" ok"}})"
      "\n\n";
  if (with_error) {
    return s +
           "event: error\n"
           R"(data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"
           "\n\n";
  }
  return s +
         "event: content_block_stop\n"
         R"(data: {"type":"content_block_stop","index":0})"
         "\n\nevent: message_delta\n"
         R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
         R"("usage":{"output_tokens":9}})"
         "\n\nevent: message_stop\n"
         R"(data: {"type":"message_stop"})"
         "\n\n";
}

std::string anthropic_config(const std::string& base_url, const std::string& extra = "") {
  return R"(
cache: {enabled: true}
providers:
  - name: claude
    kind: anthropic
    base_url: )" +
         base_url + R"(
    api_key: sk-ant-secret
)" + extra +
         R"(
models:
  - name: claude
    deployments: [{provider: claude, model: claude-sonnet-4-5}]
)";
}

TEST(AnthropicProviderTest, TranslatesTheRequestAndTheAnswerAndCachesTheTranslation) {
  Recorder upstream(http_answer("200 OK", "application/json", kAnthropicMessage));
  TempDir dir;
  Gateway gateway = start_gateway(dir, anthropic_config(upstream.base_url()));
  ASSERT_NE(gateway.port, 0) << gateway.process->log();
  const std::string chat =
      R"({"model":"claude","messages":[{"role":"system","content":"Be brief."},)"
      R"({"role":"user","content":"Hello"}],"temperature":0})";
  auto r = request(gateway.port, "POST", "/v1/chat/completions", chat);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json::object answer = json::parse(r->body).as_object();
  EXPECT_EQ(answer.at("object"), "chat.completion");
  EXPECT_EQ(answer.at("choices").at(0).at("message").at("content"), "Hi! How can I help?");
  EXPECT_EQ(answer.at("choices").at(0).at("finish_reason"), "stop");
  EXPECT_EQ(answer.at("usage").at("prompt_tokens"), 16);  // input + cache reads
  EXPECT_EQ(answer.at("usage").at("completion_tokens"), 6);

  std::string seen = upstream.last();
  EXPECT_TRUE(seen.starts_with("POST /v1/messages HTTP/1.1\r\n")) << seen;
  EXPECT_NE(seen.find("x-api-key: sk-ant-secret\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("anthropic-version: 2023-06-01\r\n"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("authorization"), std::string::npos) << seen;
  json::object sent = json::parse(body_of(seen)).as_object();
  EXPECT_EQ(sent.at("model"), "claude-sonnet-4-5");
  EXPECT_EQ(sent.at("max_tokens"), 4096);  // the provider's default_max_tokens
  EXPECT_EQ(sent.at("messages").as_array().size(), 1u);
  EXPECT_NE(json::serialize(sent.at("system")).find("Be brief."), std::string::npos);

  // The translated answer is what the cache keeps and serves.
  auto again = request(gateway.port, "POST", "/v1/chat/completions", chat);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->header("x-sluice-cache"), "hit");
  EXPECT_EQ(json::parse(again->body), json::parse(r->body));
}

TEST(AnthropicProviderTest, StreamsTranslatedEventsWithMultiByteTextSplitAcrossReads) {
  Recorder upstream(
      "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n" +
      anthropic_stream());
  TempDir dir;
  Gateway gateway = start_gateway(dir, anthropic_config(upstream.base_url()));
  ASSERT_NE(gateway.port, 0) << gateway.process->log();
  auto r = request(gateway.port, "POST", "/v1/chat/completions",
                   R"({"model":"claude","stream":true,"stream_options":{"include_usage":true},)"
                   R"("messages":[{"role":"user","content":"Hello"}]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->header("content-type"), "text/event-stream");
  StreamText s = read_openai_stream(r->body);
  EXPECT_EQ(s.content, "日本語 🌊 ok");
  EXPECT_TRUE(s.done);
  ASSERT_TRUE(s.usage.is_object()) << r->body;
  EXPECT_EQ(s.usage.at("prompt_tokens"), 25);
  EXPECT_EQ(s.usage.at("completion_tokens"), 9);
  EXPECT_EQ(json::parse(body_of(upstream.last())).at("stream"), true);
}

TEST(AnthropicProviderTest, AMidStreamErrorEndsTheClientsStreamWithAnErrorAndNoDone) {
  Recorder upstream(
      "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n" +
      anthropic_stream(/*with_error=*/true));
  TempDir dir;
  Gateway gateway = start_gateway(dir, anthropic_config(upstream.base_url()));
  ASSERT_NE(gateway.port, 0) << gateway.process->log();
  auto r =
      request(gateway.port, "POST", "/v1/chat/completions",
              R"({"model":"claude","stream":true,"messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_TRUE(r);
  StreamText s = read_openai_stream(r->body);
  EXPECT_EQ(s.content, "日本語 🌊 ok");
  EXPECT_FALSE(s.done) << r->body;
  EXPECT_NE(s.error.find("Overloaded"), std::string::npos) << r->body;
}

TEST(AnthropicProviderTest, ErrorsComeBackInOpenAIsShapeAndAFailingDeploymentFallsBack) {
  Recorder overloaded(http_answer(
      "529 Overloaded", "application/json",
      R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"));
  TempDir dir;
  MockUpstream mock = start_mock(dir);
  Gateway gateway = start_gateway(dir, R"(
routing: {retries: {max_attempts: 1}}
providers:
  - name: claude
    kind: anthropic
    base_url: )" + overloaded.base_url() + R"(
  - name: local
    kind: openai
    base_url: )" + mock.base_url() + R"(
models:
  - name: claude-only
    deployments: [{provider: claude, model: claude-sonnet-4-5}]
  - name: claude-then-local
    deployments: [{provider: claude, model: claude-sonnet-4-5}]
    fallbacks: [local]
  - name: local
    deployments: [{provider: local, model: llama-3.1-8b}]
)");
  ASSERT_NE(gateway.port, 0) << gateway.process->log();
  auto e = request(gateway.port, "POST", "/v1/chat/completions",
                   R"({"model":"claude-only","messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 503) << e->body;
  json::object error = openai_error(*e);
  EXPECT_NE(std::string(error.at("message").as_string()).find("Overloaded"), std::string::npos)
      << e->body;

  auto f = request(gateway.port, "POST", "/v1/chat/completions",
                   R"({"model":"claude-then-local","messages":[{"role":"user","content":"Hi"}]})");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->status, 200) << f->body;
  EXPECT_EQ(json::parse(f->body).at("model"), "llama-3.1-8b");

  // Anthropic has no embeddings: the client is told which provider cannot serve it.
  auto n =
      request(gateway.port, "POST", "/v1/embeddings", R"({"model":"claude-only","input":"x"})");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->status, 400) << n->body;
  EXPECT_NE(std::string(openai_error(*n).at("message").as_string()).find("kind anthropic"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Gemini

constexpr std::string_view kGeminiAnswer =
    R"({"candidates":[{"content":{"parts":[{"text":"Rivers carve valleys."}],"role":"model"},)"
    R"("finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":7,)"
    R"("candidatesTokenCount":4,"totalTokenCount":11},"modelVersion":"gemini-2.0-flash"})";

std::string gemini_config(const std::string& base_url) {
  return R"(
providers:
  - name: gem
    kind: gemini
    base_url: )" +
         base_url + R"(/v1beta
    api_key: g-secret
models:
  - name: flash
    deployments: [{provider: gem, model: gemini-2.0-flash}]
  - name: embed
    deployments: [{provider: gem, model: models/text-embedding-004}]
)";
}

TEST(GeminiProviderTest, ChatGoesToGenerateContentAndComesBackAsAChatCompletion) {
  Recorder upstream(http_answer("200 OK", "application/json", kGeminiAnswer));
  TempDir dir;
  Gateway gateway = start_gateway(dir, gemini_config(upstream.base_url()));
  ASSERT_NE(gateway.port, 0) << gateway.process->log();
  auto r = request(
      gateway.port, "POST", "/v1/chat/completions",
      R"({"model":"flash","max_tokens":20,"messages":[{"role":"system","content":"Be brief."},)"
      R"({"role":"user","content":"Rivers?"}]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json::object answer = json::parse(r->body).as_object();
  EXPECT_EQ(answer.at("choices").at(0).at("message").at("content"), "Rivers carve valleys.");
  EXPECT_EQ(answer.at("choices").at(0).at("finish_reason"), "stop");
  EXPECT_EQ(answer.at("usage").at("prompt_tokens"), 7);
  EXPECT_EQ(answer.at("usage").at("completion_tokens"), 4);
  std::string seen = upstream.last();
  EXPECT_TRUE(seen.starts_with("POST /v1beta/models/gemini-2.0-flash:generateContent HTTP/1.1\r\n"))
      << seen;
  EXPECT_NE(seen.find("x-goog-api-key: g-secret\r\n"), std::string::npos) << seen;
  json::object sent = json::parse(body_of(seen)).as_object();
  EXPECT_EQ(sent.at("generationConfig").at("maxOutputTokens"), 20);
  EXPECT_TRUE(sent.contains("systemInstruction")) << body_of(seen);
  EXPECT_EQ(sent.at("contents").at(0).at("role"), "user");
}

TEST(GeminiProviderTest, StreamsFromStreamGenerateContentAsOpenAIChunks) {
  const std::string flush(FakeUpstream::kFlush);
  Recorder upstream(
      "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n"
      R"(data: {"candidates":[{"content":{"parts":[{"text":"Rivers 🌊"}],"role":"model"},"index":0}],)"
      R"("usageMetadata":{"promptTokenCount":7,"totalTokenCount":7},"modelVersion":"gemini-2.0-flash"})"
      "\r\n\r\n" +
      flush +
      R"(data: {"candidates":[{"content":{"parts":[{"text":" carve 谷"}],"role":"model"},)"
      R"("finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":7,)"
      R"("candidatesTokenCount":5,"totalTokenCount":12},"modelVersion":"gemini-2.0-flash"})"
      "\r\n\r\n");
  TempDir dir;
  Gateway gateway = start_gateway(dir, gemini_config(upstream.base_url()));
  ASSERT_NE(gateway.port, 0) << gateway.process->log();
  auto r = request(gateway.port, "POST", "/v1/chat/completions",
                   R"({"model":"flash","stream":true,"stream_options":{"include_usage":true},)"
                   R"("messages":[{"role":"user","content":"Rivers?"}]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  StreamText s = read_openai_stream(r->body);
  EXPECT_EQ(s.content, "Rivers 🌊 carve 谷");
  EXPECT_TRUE(s.done) << r->body;
  ASSERT_TRUE(s.usage.is_object()) << r->body;
  EXPECT_EQ(s.usage.at("completion_tokens"), 5);
  EXPECT_TRUE(upstream.last().starts_with(
      "POST /v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse HTTP/1.1\r\n"))
      << upstream.last();
}

TEST(GeminiProviderTest, EmbeddingsGoToBatchEmbedContents) {
  Recorder upstream(
      http_answer("200 OK", "application/json",
                  R"({"embeddings":[{"values":[0.1,-0.2,0.3]},{"values":[0.4,0.5,-0.6]}]})"));
  TempDir dir;
  Gateway gateway = start_gateway(dir, gemini_config(upstream.base_url()));
  ASSERT_NE(gateway.port, 0) << gateway.process->log();
  auto r =
      request(gateway.port, "POST", "/v1/embeddings", R"({"model":"embed","input":["a","b"]})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json::object answer = json::parse(r->body).as_object();
  EXPECT_EQ(answer.at("object"), "list");
  ASSERT_EQ(answer.at("data").as_array().size(), 2u);
  EXPECT_EQ(answer.at("data").at(1).at("index"), 1);
  EXPECT_EQ(answer.at("data").at(1).at("embedding").at(2).to_number<double>(), -0.6);
  EXPECT_TRUE(upstream.last().starts_with(
      "POST /v1beta/models/text-embedding-004:batchEmbedContents HTTP/1.1\r\n"))
      << upstream.last();
}

// ---------------------------------------------------------------------------------------------
// Anthropic's API in front

TEST(MessagesFrontTest, AnAnthropicClientIsAnsweredInItsShapeFromAuthToAnswer) {
  TempDir dir;
  MockUpstream mock = start_mock(dir);
  Gateway gateway = start_gateway(dir, "data_dir: " + dir.file("data").string() + R"(
auth: {mode: keys}
providers:
  - name: local
    kind: openai
    base_url: )" + mock.base_url() + R"(
models:
  - name: fast
    deployments: [{provider: local, model: llama-3.1-8b}]
)");
  ASSERT_NE(gateway.port, 0) << gateway.process->log();
  const std::string ask =
      R"({"model":"fast","max_tokens":8,"messages":[{"role":"user","content":"Hi"}]})";
  // No key: a 401 as Anthropic words it, not OpenAI's shape.
  auto denied = request(gateway.port, "POST", "/v1/messages", ask, {{"x-api-key", "sk-wrong"}});
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->status, 401) << denied->body;
  json::object e = json::parse(denied->body).as_object();
  EXPECT_EQ(e.at("type"), "error");
  EXPECT_EQ(e.at("error").at("type"), "authentication_error");

  // Without keys: GET is a 405 with Allow, and a body that is not JSON a 400, in the same shape.
  TempDir open_dir;
  Gateway open = start_gateway(open_dir, R"(
providers:
  - name: local
    kind: openai
    base_url: )" + mock.base_url() + R"(
models:
  - name: fast
    deployments: [{provider: local, model: llama-3.1-8b}]
)");
  ASSERT_NE(open.port, 0) << open.process->log();
  auto wrong = request(open.port, "GET", "/v1/messages");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->header("allow"), "POST");
  EXPECT_EQ(json::parse(wrong->body).at("type"), "error");
  auto bad = request(open.port, "POST", "/v1/messages", "{not json", {});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_EQ(json::parse(bad->body).at("error").at("type"), "invalid_request_error");
}

}  // namespace
}  // namespace sluice::testing
