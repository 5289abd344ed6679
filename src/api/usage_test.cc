#include "api/usage.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::api {
namespace {

TEST(FindUsage, ReadsTheAnswersUsageWithCachedTokens) {
  auto u = find_usage(R"({"id":"c","choices":[{"message":{"content":"the \"usage\": {1} of it"}}],)"
                      R"("usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17,)"
                      R"("prompt_tokens_details":{"cached_tokens":4}},"system_fingerprint":"fp"})");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 12u);
  EXPECT_EQ(u->completion_tokens, 5u);
  EXPECT_EQ(u->cached_tokens, 4u);
  EXPECT_EQ(u->total(), 17u);
}

TEST(FindUsage, EmbeddingsAndImages) {
  auto e = find_usage(R"({"data":[],"usage":{"prompt_tokens":8,"total_tokens":8}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->prompt_tokens, 8u);
  EXPECT_EQ(e->completion_tokens, 0u);
  auto i = find_usage(R"({"data":[],"usage":{"input_tokens":3,"output_tokens":4160}})");
  ASSERT_TRUE(i);
  EXPECT_EQ(i->prompt_tokens, 3u);
  EXPECT_EQ(i->completion_tokens, 4160u);
}

TEST(FindUsage, NoneOrNullOrMalformed) {
  EXPECT_FALSE(find_usage(R"({"choices":[]})"));
  EXPECT_FALSE(find_usage(R"({"usage":null})"));
  EXPECT_FALSE(find_usage(R"({"usage":{"prompt_tokens":)"));
  EXPECT_FALSE(find_usage(""));
  EXPECT_FALSE(find_usage(R"({"content":"\"usage\"","usage"})"));
}

TEST(FindUsage, TheLastUsageObjectWinsOverEarlierOnesAndLaterNulls) {
  auto u = find_usage(
      "data: {\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}\n\n"
      "data: {\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,"
      "\"prompt_tokens_details\":{\"cached_tokens\":3}}}\n\n"
      "data: {\"choices\":[],\"usage\":null}\n\ndata: [DONE]\n\n");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 9u);
  EXPECT_EQ(u->completion_tokens, 2u);
  EXPECT_EQ(u->cached_tokens, 3u);
  // An unclosed last object (a batch cut short) leaves the one before it.
  auto cut = find_usage(R"({"usage":{"prompt_tokens":4}} {"usage":{"prompt_tokens":5)");
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->prompt_tokens, 4u);
}

TEST(FindUsage, BracesInStringsAndSpacesDoNotConfuseIt) {
  auto u = find_usage(
      "{\"usage\" : {\"note\":\"} {\\\"\", \"prompt_tokens\" :\t7 ,\n \"completion_tokens\":3}}");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 7u);
  EXPECT_EQ(u->completion_tokens, 3u);
}

TEST(FindUsage, OpenAIsLayoutAndAnyOtherReadTheSame) {
  // OpenAI's order is matched byte for byte; the same counts in another order, with spaces, or
  // with a part of the layout changed are scanned for, and read alike.
  for (std::string_view usage : {
           R"({"prompt_tokens":52,"completion_tokens":38,"total_tokens":90,)"
           R"("prompt_tokens_details":{"cached_tokens":7,"audio_tokens":0}})",
           R"({"prompt_tokens":52,"total_tokens":90,"completion_tokens":38,)"
           R"("prompt_tokens_details":{"cached_tokens":7}})",
           R"({ "prompt_tokens": 52, "completion_tokens": 38, "total_tokens": 90,)"
           R"( "prompt_tokens_details": {"cached_tokens": 7}})",
           R"({"prompt_tokens":52,"completion_tokens":38,"total_tokens":null,)"
           R"("prompt_tokens_details":{"cached_tokens":7}})",
           R"({"prompt_tokens":52,"completion_tokens":38,"total_tokens":90,)"
           R"("prompt_tokens_details":{"audio_tokens":0,"cached_tokens":7}})",
       }) {
    auto u = find_usage(R"({"choices":[],"usage":)" + std::string(usage) + "}");
    ASSERT_TRUE(u) << usage;
    EXPECT_EQ(u->prompt_tokens, 52u) << usage;
    EXPECT_EQ(u->completion_tokens, 38u) << usage;
    EXPECT_EQ(u->cached_tokens, 7u) << usage;
  }
}

TEST(FindUsage, OnlyTheExactNamesCount) {
  // Names of the same length and first letter, and longer names that start with a wanted one.
  auto u = find_usage(
      R"({"usage":{"prompt_tokenz":1,"promptXtokens":2,"prompt_tokens_details":{"cached_tokenz":3,)"
      R"("cachedtokens_":4},"completion_tokenS":5,"prompt_tokens":6,"completion_tokens":7}})");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 6u);
  EXPECT_EQ(u->completion_tokens, 7u);
  EXPECT_EQ(u->cached_tokens, 0u);
}

TEST(FindUsage, NumbersReadAsFromCharsReadsThem) {
  auto u = find_usage(
      R"({"usage":{"prompt_tokens":18446744073709551615,"completion_tokens":18446744073709551616,)"
      R"("cached_tokens":0000000000000000000000042}})");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 18446744073709551615u);  // 2^64 - 1
  EXPECT_EQ(u->completion_tokens, 0u);                 // past it
  EXPECT_EQ(u->cached_tokens, 42u);
  // Not a whole number: the first of a name counts as 0 and a later one does not replace it.
  auto odd = find_usage(R"({"usage":{"prompt_tokens":null,"completion_tokens":-3,"x":{)"
                        R"("prompt_tokens":5},"completion_tokens":"4","cached_tokens":2.9}})");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->prompt_tokens, 0u);
  EXPECT_EQ(odd->completion_tokens, 0u);
  EXPECT_EQ(odd->cached_tokens, 2u);
}

TEST(FindUsage, StopsOnceTheCountsAreKnown) {
  // Cut after its three counts: nothing later in the object could change them.
  auto cut = find_usage(R"({"usage":{"prompt_tokens":9,"completion_tokens":2,)"
                        R"("prompt_tokens_details":{"cached_tokens":3},"completion_tokens_det)");
  ASSERT_TRUE(cut);
  EXPECT_EQ(cut->prompt_tokens, 9u);
  EXPECT_EQ(cut->completion_tokens, 2u);
  EXPECT_EQ(cut->cached_tokens, 3u);
  // Cut before them: malformed, as before.
  EXPECT_FALSE(find_usage(R"({"usage":{"prompt_tokens":9,"completion_tokens":2,"prompt_tok)"));
  // With prompt and completion at 0 an image answer's counts may still follow: read on.
  auto image = find_usage(R"({"usage":{"prompt_tokens":0,"completion_tokens":0,)"
                          R"("prompt_tokens_details":{"cached_tokens":0},"input_tokens":3,)"
                          R"("output_tokens":4}})");
  ASSERT_TRUE(image);
  EXPECT_EQ(image->prompt_tokens, 3u);
  EXPECT_EQ(image->completion_tokens, 4u);
}

TEST(StreamUsageTap, KeepsTheUsageChunkAndSkipsNulls) {
  StreamUsageTap tap;
  tap.feed("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n");
  EXPECT_FALSE(tap.usage());
  tap.feed(
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2}}\n\n"
      "data: [DONE]\n\n");
  ASSERT_TRUE(tap.usage());
  EXPECT_EQ(tap.usage()->total(), 11u);
}

TEST(StreamUsageTap, ALongBatchIsReadFromItsTail) {
  std::string chunk = "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"usage\":null}\n\n";
  std::string batch;
  while (batch.size() < 3 * StreamUsageTap::kTailBytes) batch += chunk;
  batch += "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":4,\"completion_tokens\":500}}\n\n";
  batch += "data: [DONE]\n\n";
  StreamUsageTap tap;
  EXPECT_TRUE(tap.feed(batch));
  ASSERT_TRUE(tap.usage());
  EXPECT_EQ(tap.usage()->completion_tokens, 500u);
  EXPECT_FALSE(tap.feed(chunk));  // a batch without usage keeps what was seen
  EXPECT_EQ(tap.usage()->completion_tokens, 500u);
}

}  // namespace
}  // namespace sluice::api
