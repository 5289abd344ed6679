// The response cache through a real `sluice serve` in front of a real `sluice mock`: hits after
// misses, the policy headers, streams replayed and converted, what is never cached, and the
// admin endpoints. The mock's request counter shows what reached the upstream.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <thread>

#include "support/http_client.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override { mock_ = start_mock(dir_); }

  void start(const std::string& cache_yaml = "cache: {enabled: true}\n") {
    gateway_ = start_gateway(dir_, cache_yaml + R"(
providers:
  - name: local
    kind: openai
    base_url: )" + mock_.base_url() + R"(
    forward_headers: [x-mock-*]
models:
  - name: fast
    deployments:
      - provider: local
        model: llama-3.1-8b
  - name: twin
    deployments:
      - provider: local
        model: llama-3.1-8b
)");
  }

  Response post(const std::string& body, const std::map<std::string, std::string>& headers = {},
                const std::string& path = "/v1/chat/completions") {
    auto r = request(gateway_.port, "POST", path, body, headers);
    EXPECT_TRUE(r);
    return r ? *r : Response{};
  }

  json::object admin_cache() {
    auto r = request(gateway_.port, "GET", "/admin/cache");
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    return json::parse(r->body).as_object();
  }

  TempDir dir_;
  MockUpstream mock_;
  Gateway gateway_;
};

const std::string kChat =
    R"({"model":"fast","messages":[{"role":"user","content":"Tell me about caches"}],"max_tokens":16})";
const std::string kStreamChat =
    R"({"model":"fast","messages":[{"role":"user","content":"Tell me about caches"}],"max_tokens":16,"stream":true})";

TEST_F(CacheTest, SecondIdenticalRequestIsAHitAndNeverReachesUpstream) {
  start();
  Response first = post(kChat);
  EXPECT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("x-sluice-cache"), "miss");
  Response second = post(kChat);
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.header("x-sluice-cache"), "hit");
  EXPECT_EQ(second.header("x-sluice-cache-tier"), "memory");
  EXPECT_EQ(second.header("age"), "0");
  EXPECT_EQ(second.header("content-type"), "application/json");
  EXPECT_FALSE(second.header("x-request-id").empty());
  EXPECT_EQ(json::parse(second.body), json::parse(first.body));
  EXPECT_EQ(mock_.requests(), 1);
}

TEST_F(CacheTest, SpellingOfTheRequestDoesNotMatterButItsContentDoes) {
  start();
  post(kChat);
  Response reordered = post(
      R"({ "max_tokens": 16.0, "messages": [{"content": "Tell me about caches", "role": "user"}],
           "model": "fast", "user": "someone-else" })");
  EXPECT_EQ(reordered.header("x-sluice-cache"), "hit");
  Response other = post(
      R"({"model":"fast","messages":[{"role":"user","content":"Tell me about caches!"}],"max_tokens":16})");
  EXPECT_EQ(other.header("x-sluice-cache"), "miss");
  // The alias is part of the key even when it routes to the same upstream model.
  Response twin = post(
      R"({"model":"twin","messages":[{"role":"user","content":"Tell me about caches"}],"max_tokens":16})");
  EXPECT_EQ(twin.header("x-sluice-cache"), "miss");
  EXPECT_EQ(mock_.requests(), 3);
}

TEST_F(CacheTest, StreamReplaysTheSameEventsAndEndsWithDone) {
  start();
  Response first = post(kStreamChat);
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.header("x-sluice-cache"), "miss");
  Response second = post(kStreamChat);
  EXPECT_EQ(second.header("x-sluice-cache"), "hit");
  EXPECT_EQ(second.header("content-type"), "text/event-stream");
  EXPECT_TRUE(second.chunked);
  EXPECT_EQ(second.body, first.body);  // byte for byte
  auto events = sse_data(second.body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back(), "[DONE]");
  EXPECT_EQ(mock_.requests(), 1);
}

TEST_F(CacheTest, StreamedAnswerServesANonStreamRequestAssembled) {
  start();
  Response streamed = post(kStreamChat);
  ASSERT_EQ(streamed.status, 200);
  Response whole = post(kChat);
  EXPECT_EQ(whole.header("x-sluice-cache"), "hit");
  auto body = json::parse(whole.body).as_object();
  EXPECT_EQ(body.at("object"), "chat.completion");
  // The assembled content is the concatenation of the streamed deltas.
  std::string content;
  for (const auto& e : sse_data(streamed.body)) {
    if (e == "[DONE]") continue;
    auto chunk = json::parse(e).as_object();
    for (const auto& c : chunk.at("choices").as_array()) {
      const auto& delta = c.at("delta").as_object();
      if (auto* s = delta.if_contains("content"); s && s->is_string()) content += s->as_string();
    }
  }
  const auto& message = body.at("choices").at(0).at("message").as_object();
  EXPECT_EQ(message.at("role"), "assistant");
  EXPECT_EQ(message.at("content").as_string(), content);
  EXPECT_TRUE(body.at("choices").at(0).at("finish_reason").is_string());
  EXPECT_EQ(mock_.requests(), 1);
}

TEST_F(CacheTest, WholeAnswerServesAStreamRequestAsChunks) {
  start();
  Response whole = post(kChat);
  ASSERT_EQ(whole.status, 200);
  Response streamed = post(kStreamChat);
  EXPECT_EQ(streamed.header("x-sluice-cache"), "hit");
  EXPECT_EQ(streamed.header("content-type"), "text/event-stream");
  auto events = sse_data(streamed.body);
  ASSERT_GE(events.size(), 3u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string content;
  std::string finish;
  for (const auto& e : events) {
    if (e == "[DONE]") continue;
    auto chunk = json::parse(e).as_object();
    EXPECT_EQ(chunk.at("object"), "chat.completion.chunk");
    for (const auto& c : chunk.at("choices").as_array()) {
      const auto& delta = c.at("delta").as_object();
      if (auto* s = delta.if_contains("content"); s && s->is_string()) content += s->as_string();
      if (c.at("finish_reason").is_string()) finish = c.at("finish_reason").as_string();
    }
  }
  json::value answer = json::parse(whole.body);
  EXPECT_EQ(content, answer.at("choices").at(0).at("message").at("content").as_string());
  EXPECT_FALSE(finish.empty());
  EXPECT_EQ(mock_.requests(), 1);
}

TEST_F(CacheTest, UsageChunkOnlyForClientsThatAskForIt) {
  start();
  const std::string with_usage =
      R"({"model":"fast","messages":[{"role":"user","content":"usage please"}],"stream":true,)"
      R"("stream_options":{"include_usage":true}})";
  const std::string without_usage =
      R"({"model":"fast","messages":[{"role":"user","content":"usage please"}],"stream":true})";
  auto has_usage_chunk = [](const Response& r) {
    for (const auto& e : sse_data(r.body)) {
      if (e == "[DONE]") continue;
      auto chunk = json::parse(e).as_object();
      if (chunk.at("choices").as_array().empty() && chunk.contains("usage")) return true;
    }
    return false;
  };
  Response first = post(with_usage);
  EXPECT_TRUE(has_usage_chunk(first));
  Response replay_without = post(without_usage);
  EXPECT_EQ(replay_without.header("x-sluice-cache"), "hit");
  EXPECT_FALSE(has_usage_chunk(replay_without));
  Response replay_with = post(with_usage);
  EXPECT_EQ(replay_with.header("x-sluice-cache"), "hit");
  EXPECT_EQ(replay_with.body, first.body);
  EXPECT_EQ(mock_.requests(), 1);
}

TEST_F(CacheTest, NoCacheRefreshesNoStoreLeavesNoTrace) {
  start();
  Response no_store = post(kChat, {{"Cache-Control", "no-store"}});
  EXPECT_EQ(no_store.header("x-sluice-cache"), "bypass");
  EXPECT_EQ(post(kChat).header("x-sluice-cache"), "miss");  // nothing was stored
  Response no_cache = post(kChat, {{"Cache-Control", "no-cache"}});
  EXPECT_EQ(no_cache.header("x-sluice-cache"), "bypass");
  EXPECT_EQ(post(kChat).header("x-sluice-cache"), "hit");
  EXPECT_EQ(mock_.requests(), 3);
}

TEST_F(CacheTest, MaxAgeRefusesOlderEntries) {
  start();
  post(kChat);
  std::this_thread::sleep_for(1100ms);  // entries count their age in whole seconds
  Response fresh_enough = post(kChat, {{"Cache-Control", "max-age=60"}});
  EXPECT_EQ(fresh_enough.header("x-sluice-cache"), "hit");
  EXPECT_EQ(fresh_enough.header("age"), "1");
  Response too_old = post(kChat, {{"Cache-Control", "max-age=1"}});
  EXPECT_EQ(too_old.header("x-sluice-cache"), "miss");
  EXPECT_EQ(mock_.requests(), 2);
}

TEST_F(CacheTest, TtlHeaderAndConfiguredTtlExpireEntries) {
  start("cache: {enabled: true, ttl: 1s}\n");
  post(kChat);
  EXPECT_EQ(post(kChat).header("x-sluice-cache"), "hit");
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(post(kChat).header("x-sluice-cache"), "miss");  // expired
  const std::string other =
      R"({"model":"fast","messages":[{"role":"user","content":"longer"}],"max_tokens":4})";
  post(other, {{"x-sluice-cache-ttl", "60"}});
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(post(other).header("x-sluice-cache"), "hit");  // stored for 60 s, not 1 s
}

TEST_F(CacheTest, MalformedCacheHeadersAre400) {
  start();
  Response r = post(kChat, {{"Cache-Control", "max-age=soon"}});
  EXPECT_EQ(r.status, 400);
  auto error = json::parse(r.body).at("error").as_object();
  EXPECT_NE(std::string(error.at("message").as_string()).find("Cache-Control"), std::string::npos);
  EXPECT_EQ(post(kChat, {{"x-sluice-cache-ttl", "-3"}}).status, 400);
  EXPECT_EQ(mock_.requests(), 0);
}

TEST_F(CacheTest, ErrorsAreNeverCached) {
  start();
  Response failed = post(kChat, {{"x-mock-status", "500"}});
  EXPECT_EQ(failed.status, 500);
  EXPECT_EQ(failed.header("x-sluice-cache"), "miss");
  const int attempts = std::stoi(failed.header("x-sluice-attempts"));
  EXPECT_EQ(attempts, 3);  // a 500 is retried, up to max_attempts
  Response again = post(kChat);
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.header("x-sluice-cache"), "miss");
  EXPECT_EQ(mock_.requests(), attempts + 1);
}

TEST_F(CacheTest, CutStreamsAndCutAnswersAreNeverCached) {
  start();
  Response cut = post(kStreamChat, {{"x-mock-cut-after", "3"}});
  auto events = sse_data(cut.body);
  ASSERT_FALSE(events.empty());
  EXPECT_NE(events.back(), "[DONE]");
  EXPECT_EQ(post(kStreamChat).header("x-sluice-cache"), "miss");
  auto r = request(gateway_.port, "POST", "/v1/chat/completions",
                   R"({"model":"fast","messages":[{"role":"user","content":"cut me"}]})",
                   {{"x-mock-cut-after", "1"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(post(R"({"model":"fast","messages":[{"role":"user","content":"cut me"}]})")
                .header("x-sluice-cache"),
            "miss");
  auto stats = admin_cache();
  EXPECT_GE(stats.at("not_stored").at("incomplete").as_int64(), 1);
}

TEST_F(CacheTest, LengthLimitedAnswersAreCompleteAndCached) {
  start();
  const std::string body =
      R"({"model":"fast","messages":[{"role":"user","content":"go on"}],"max_tokens":2})";
  Response first = post(body);
  EXPECT_EQ(json::parse(first.body).at("choices").at(0).at("finish_reason"), "length");
  EXPECT_EQ(post(body).header("x-sluice-cache"), "hit");
}

TEST_F(CacheTest, OversizedAnswersAreServedButNotStored) {
  start("cache: {enabled: true, max_entry_bytes: 200}\n");
  Response first = post(kChat);
  EXPECT_EQ(first.status, 200);
  EXPECT_GT(first.body.size(), 200u);
  EXPECT_EQ(post(kChat).header("x-sluice-cache"), "miss");
  EXPECT_EQ(admin_cache().at("not_stored").at("oversized").as_int64(), 2);
}

TEST_F(CacheTest, OnlyDeterministicCachesTemperatureZeroOrASeed) {
  start("cache: {enabled: true, only_deterministic: true}\n");
  EXPECT_EQ(post(kChat).header("x-sluice-cache"), "bypass");
  EXPECT_EQ(post(kChat).header("x-sluice-cache"), "bypass");
  const std::string cold =
      R"({"model":"fast","messages":[{"role":"user","content":"Tell me about caches"}],"temperature":0})";
  EXPECT_EQ(post(cold).header("x-sluice-cache"), "miss");
  EXPECT_EQ(post(cold).header("x-sluice-cache"), "hit");
}

TEST_F(CacheTest, EmbeddingsAreCachedImagesAreNotByDefault) {
  start();
  const std::string embed = R"({"model":"fast","input":"vector me"})";
  EXPECT_EQ(post(embed, {}, "/v1/embeddings").header("x-sluice-cache"), "miss");
  EXPECT_EQ(post(embed, {}, "/v1/embeddings").header("x-sluice-cache"), "hit");
  const std::string image =
      R"({"model":"fast","prompt":"a lighthouse","response_format":"b64_json"})";
  EXPECT_EQ(post(image, {}, "/v1/images/generations").header("x-sluice-cache"), "");
  EXPECT_EQ(post(image, {}, "/v1/images/generations").header("x-sluice-cache"), "");
  EXPECT_EQ(mock_.requests(), 3);
}

TEST_F(CacheTest, CacheOffMeansNoHeaderAndNoHits) {
  start("");
  EXPECT_EQ(post(kChat).header("x-sluice-cache"), "");
  EXPECT_EQ(post(kChat).header("x-sluice-cache"), "");
  EXPECT_EQ(mock_.requests(), 2);
  auto r = request(gateway_.port, "GET", "/admin/cache");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body).at("enabled"), false);
}

TEST_F(CacheTest, AdminReportsFiguresAndClears) {
  start("cache: {enabled: true, namespace: team-a}\n");
  post(kChat);
  post(kChat);
  post(kStreamChat);  // a hit as well: stream and non-stream share the entry
  auto stats = admin_cache();
  EXPECT_EQ(stats.at("lookups").as_int64(), 3);
  EXPECT_EQ(stats.at("hits").as_int64(), 2);
  EXPECT_EQ(stats.at("misses").as_int64(), 1);
  EXPECT_NEAR(stats.at("hit_rate").as_double(), 2.0 / 3, 1e-9);
  EXPECT_EQ(stats.at("stores").as_int64(), 1);
  const auto& memory = stats.at("tiers").at("memory").as_object();
  EXPECT_EQ(memory.at("entries").as_int64(), 1);
  EXPECT_GT(memory.at("bytes").as_int64(), 0);
  const auto& saved = stats.at("saved").as_object();
  EXPECT_EQ(saved.at("requests").as_int64(), 2);
  EXPECT_GT(saved.at("completion_tokens").as_int64(), 0);

  auto other_ns = request(gateway_.port, "DELETE", "/admin/cache?namespace=team-b");
  ASSERT_TRUE(other_ns);
  EXPECT_EQ(json::parse(other_ns->body).at("deleted"), 0);
  EXPECT_EQ(post(kChat).header("x-sluice-cache"), "hit");
  auto mine = request(gateway_.port, "DELETE", "/admin/cache?namespace=team-a");
  ASSERT_TRUE(mine);
  EXPECT_EQ(json::parse(mine->body).at("deleted"), 1);
  EXPECT_EQ(post(kChat).header("x-sluice-cache"), "miss");
  auto all = request(gateway_.port, "DELETE", "/admin/cache");
  ASSERT_TRUE(all);
  EXPECT_EQ(json::parse(all->body).at("deleted"), 1);
  EXPECT_EQ(post(kChat).header("x-sluice-cache"), "miss");

  auto wrong = request(gateway_.port, "POST", "/admin/cache");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  EXPECT_EQ(wrong->header("allow"), "GET, HEAD, DELETE");
  auto unknown = request(gateway_.port, "GET", "/admin/nothing");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_TRUE(json::parse(unknown->body).as_object().contains("error"));
}

TEST_F(CacheTest, WarmFillsTheCacheFromABatchFile) {
  start();
  std::string lines;
  for (int i = 0; i < 20; ++i) {
    lines += R"({"custom_id":"r-)" + std::to_string(i) +
             R"(","method":"POST","url":"/v1/chat/completions","body":{"model":"fast",)"
             R"("messages":[{"role":"user","content":"warm )" +
             std::to_string(i) + R"("}],"max_tokens":8}})" + "\n";
  }
  lines += "\n";  // blank lines are skipped
  lines +=
      R"({"custom_id":"e","method":"POST","url":"/v1/embeddings","body":{"model":"fast","input":"x"}})"
      "\n";
  std::string file = dir_.write("warm.jsonl", lines);
  std::string url = "http://127.0.0.1:" + std::to_string(gateway_.port);
  auto warm =
      Process::start({sluice_binary(), "cache", "warm", file, "--url", url, "--concurrency", "4"},
                     dir_.file("warm.log").string());
  ASSERT_EQ(warm->wait(30s), 0) << warm->log();
  EXPECT_NE(warm->log().find("stored 21, already cached 0"), std::string::npos) << warm->log();
  EXPECT_EQ(mock_.requests(), 21);
  Response r =
      post(R"({"model":"fast","messages":[{"role":"user","content":"warm 7"}],"max_tokens":8})");
  EXPECT_EQ(r.header("x-sluice-cache"), "hit");

  // Running it again finds everything cached; a bad line is reported with its number.
  std::string again = dir_.write("again.jsonl", lines + R"({"custom_id":"x","method":"GET"})"
                                                        "\n");
  auto second = Process::start({sluice_binary(), "cache", "warm", again, "--url", url},
                               dir_.file("again.log").string());
  EXPECT_EQ(second->wait(30s), 1);
  EXPECT_NE(second->log().find("already cached 21"), std::string::npos) << second->log();
  EXPECT_NE(second->log().find("again.jsonl:23: method must be \"POST\""), std::string::npos)
      << second->log();
  EXPECT_EQ(mock_.requests(), 21);  // the second run and the check above were all hits
}

}  // namespace
}  // namespace sluice::testing
