#include "cache/cache_key.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::cache {
namespace {

using api::Endpoint;

// The key info of `body` decoded as a request to `endpoint` (bodies here always have a model).
KeyInfo info(std::string_view body, std::string_view ns = "default",
             Endpoint endpoint = Endpoint::kChatCompletions) {
  auto request = api::decode_inference(endpoint, body, true);
  EXPECT_TRUE(request) << body;
  return request ? make_key(ns, *request) : KeyInfo{};
}

Key key(std::string_view body, std::string_view ns = "default",
        Endpoint endpoint = Endpoint::kChatCompletions) {
  return info(body, ns, endpoint).key;
}

constexpr std::string_view kBase =
    R"({"model":"fast","messages":[{"role":"user","content":"Hi"}],"temperature":0.5})";

TEST(CacheKeyTest, MemberOrderAndWhitespaceDoNotMatter) {
  EXPECT_EQ(key(kBase), key(R"({ "temperature" : 0.5,
      "messages": [ { "content": "Hi", "role": "user" } ],
      "model": "fast" })"));
}

TEST(CacheKeyTest, NumberSpellingDoesNotMatter) {
  EXPECT_EQ(key(R"({"model":"m","max_tokens":100})"), key(R"({"model":"m","max_tokens":100.0})"));
  EXPECT_EQ(key(R"({"model":"m","max_tokens":100})"), key(R"({"model":"m","max_tokens":1e2})"));
  EXPECT_EQ(key(R"({"model":"m","temperature":0.5})"), key(R"({"model":"m","temperature":5e-1})"));
  EXPECT_EQ(key(R"({"model":"m","temperature":0})"), key(R"({"model":"m","temperature":-0.0})"));
  EXPECT_NE(key(R"({"model":"m","temperature":0.5})"),
            key(R"({"model":"m","temperature":0.50001})"));
}

TEST(CacheKeyTest, StringEscapesDoNotMatter) {
  EXPECT_EQ(key(R"({"model":"m","prompt":"A\u00e9\/"})"),
            key("{\"model\":\"m\",\"prompt\":\"A\xc3\xa9/\"}"));
}

TEST(CacheKeyTest, DeliveryFieldsAreIgnored) {
  std::string with_all =
      R"({"model":"fast","messages":[{"role":"user","content":"Hi"}],"temperature":0.5,)"
      R"("stream":true,"stream_options":{"include_usage":true},"user":"u-42",)"
      R"("metadata":{"team":"x"},"store":false,"safety_identifier":"s",)"
      R"("prompt_cache_key":"k","prompt_cache_retention":"24h"})";
  EXPECT_EQ(key(kBase), key(with_all));
}

TEST(CacheKeyTest, EveryOutputAffectingFieldMatters) {
  const Key base = key(kBase);
  for (
      std::string_view other : {
          R"({"model":"slow","messages":[{"role":"user","content":"Hi"}],"temperature":0.5})",
          R"({"model":"fast","messages":[{"role":"user","content":"Hi!"}],"temperature":0.5})",
          R"({"model":"fast","messages":[{"role":"system","content":"Hi"}],"temperature":0.5})",
          R"({"model":"fast","messages":[{"role":"user","content":"Hi"}],"temperature":0.7})",
          R"({"model":"fast","messages":[{"role":"user","content":"Hi"}]})",
          R"({"model":"fast","messages":[{"role":"user","content":"Hi"}],"temperature":0.5,"max_tokens":5})",
          R"({"model":"fast","messages":[{"role":"user","content":"Hi"}],"temperature":0.5,"seed":1})",
          R"({"model":"fast","messages":[{"role":"user","content":"Hi"}],"temperature":0.5,"n":2})",
          R"({"model":"fast","messages":[{"role":"user","content":"Hi"}],"temperature":0.5,"tools":[]})",
          R"({"model":"fast","messages":[{"role":"user","content":"Hi"}],"temperature":"0.5"})",
          R"({"model":"fast","messages":[{"role":"user","content":"Hi","name":"a"}],"temperature":0.5})",
      }) {
    EXPECT_NE(base, key(other)) << other;
  }
}

TEST(CacheKeyTest, ArrayOrderMatters) {
  EXPECT_NE(
      key(R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]})"),
      key(R"({"model":"m","messages":[{"role":"user","content":"b"},{"role":"user","content":"a"}]})"));
}

TEST(CacheKeyTest, IgnoredNamesCountBelowTheTopLevel) {
  // A tool parameter called "stream" is part of the request's meaning.
  EXPECT_NE(
      key(R"({"model":"m","tools":[{"type":"function","function":{"name":"f","parameters":{"stream":true}}}]})"),
      key(R"({"model":"m","tools":[{"type":"function","function":{"name":"f","parameters":{}}}]})"));
}

TEST(CacheKeyTest, ValuesOfDifferentTypesNeverCollide) {
  EXPECT_NE(key(R"({"model":"m","x":null})"), key(R"({"model":"m","x":false})"));
  EXPECT_NE(key(R"({"model":"m","x":[]})"), key(R"({"model":"m","x":{}})"));
  EXPECT_NE(key(R"({"model":"m","x":"1"})"), key(R"({"model":"m","x":1})"));
  EXPECT_NE(key(R"({"model":"m","x":["ab"]})"), key(R"({"model":"m","x":["a","b"]})"));
  EXPECT_NE(key(R"({"model":"m","x":18446744073709551615})"), key(R"({"model":"m","x":-1})"));
}

TEST(CacheKeyTest, NamespaceAndEndpointAreParts) {
  EXPECT_NE(key(kBase, "default"), key(kBase, "team-b"));
  EXPECT_NE(key(R"({"model":"m","prompt":"x"})", "default", Endpoint::kCompletions),
            key(R"({"model":"m","prompt":"x"})", "default", Endpoint::kChatCompletions));
}

TEST(CacheKeyTest, DeterministicMeansTemperatureZeroOrASeed) {
  auto det = [](std::string_view body, Endpoint e = Endpoint::kChatCompletions) {
    return info(body, "default", e).deterministic;
  };
  EXPECT_FALSE(det(kBase));
  EXPECT_FALSE(det(R"({"model":"m"})"));
  EXPECT_TRUE(det(R"({"model":"m","temperature":0})"));
  EXPECT_TRUE(det(R"({"model":"m","temperature":0.0})"));
  EXPECT_TRUE(det(R"({"model":"m","temperature":1,"seed":7})"));
  EXPECT_FALSE(det(R"({"model":"m","seed":"7"})"));
  EXPECT_TRUE(det(R"({"model":"m","input":"x"})", Endpoint::kEmbeddings));
}

TEST(CacheKeyTest, IncludeUsageIsReported) {
  EXPECT_FALSE(info(kBase).include_usage);
  EXPECT_TRUE(info(R"({"model":"m","stream_options":{"include_usage":true}})").include_usage);
  EXPECT_FALSE(info(R"({"model":"m","stream_options":{"include_usage":"yes"}})").include_usage);
}

TEST(CacheKeyTest, WithoutTheCanonicalFormThereIsNone) {
  auto request = api::decode_inference(Endpoint::kChatCompletions, kBase);
  ASSERT_TRUE(request);
  EXPECT_FALSE(request->has_canonical);
  EXPECT_TRUE(request->canonical.empty());
}

TEST(CacheKeyTest, LargeBodiesHashLikeSmallOnes) {
  std::string content(100000, 'x');
  std::string a = R"({"model":"m","messages":[{"role":"user","content":")" + content + R"("}]})";
  std::string b = R"({"messages":[{"content":")" + content + R"(","role":"user"}],"model":"m"})";
  EXPECT_EQ(key(a), key(b));
}

TEST(CacheKeyTest, HexIsThirtyTwoDigitsHighHalfFirst) {
  EXPECT_EQ((Key{0x0123456789abcdefULL, 0xfedcba9876543210ULL}).hex(),
            "0123456789abcdeffedcba9876543210");
}

}  // namespace
}  // namespace sluice::cache
