#include "batch/batch_line.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sluice::batch {
namespace {

using ::testing::HasSubstr;

TEST(BatchLineTest, ParsesTheOpenAIFormat) {
  auto line = parse_batch_line(
      R"({"custom_id":"r-1","method":"POST","url":"/v1/chat/completions",)"
      R"("body":{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}})");
  ASSERT_TRUE(line) << line.error().message;
  EXPECT_EQ(line->custom_id, "r-1");
  EXPECT_EQ(line->endpoint, api::Endpoint::kChatCompletions);
  EXPECT_EQ(line->url, "/v1/chat/completions");
  EXPECT_EQ(boost::json::parse(line->body).at("model"), "gpt-4o-mini");
  EXPECT_EQ(line->model, "gpt-4o-mini");
  EXPECT_EQ(line->max_tokens, 0);
  auto embed = parse_batch_line(
      R"({"custom_id":"e","method":"POST","url":"/v1/embeddings","body":{"model":"m","input":"x"}})");
  ASSERT_TRUE(embed);
  EXPECT_EQ(embed->endpoint, api::Endpoint::kEmbeddings);
  // What the runner's tokens-per-minute pacing counts on.
  auto capped =
      parse_batch_line(R"({"custom_id":"c","method":"POST","url":"/v1/chat/completions",)"
                       R"("body":{"model":"m","max_completion_tokens":77,"messages":[]}})");
  ASSERT_TRUE(capped);
  EXPECT_EQ(capped->max_tokens, 77);
  auto both =
      parse_batch_line(R"({"custom_id":"c","method":"POST","url":"/v1/chat/completions",)"
                       R"("body":{"model":"m","max_completion_tokens":77,"max_tokens":5}})");
  ASSERT_TRUE(both);
  EXPECT_EQ(both->max_tokens, 77) << "the newer name counts";
}

// The body goes upstream as it was written; escapes, duplicates and depth read as JSON reads them.
TEST(BatchLineTest, TheBodyIsKeptAsWrittenAndEscapesReadAsJSON) {
  auto spaced = parse_batch_line(
      R"({ "body" : { "model" : "m" , "temperature":1.50, "messages":[{"content":"}"}] } ,)"
      R"( "custom_id":"a\"b\u00e9", "method":"POST", "url":"/v1/chat/completions" })");
  ASSERT_TRUE(spaced) << spaced.error().message;
  EXPECT_EQ(spaced->body,
            R"({ "model" : "m" , "temperature":1.50, "messages":[{"content":"}"}] })");
  EXPECT_EQ(spaced->custom_id, "a\"b\xc3\xa9");
  EXPECT_EQ(spaced->model, "m");

  auto escaped =
      parse_batch_line(R"({"custom_\u0069d":"e","method":"POST","url":"/v1/embeddings",)"
                       R"("bo\u0064y":{"mod\u0065l":"m\u0031","input":"x","max_tokens":5}})");
  ASSERT_TRUE(escaped) << escaped.error().message;
  EXPECT_EQ(escaped->custom_id, "e");
  EXPECT_EQ(escaped->model, "m1");
  EXPECT_EQ(escaped->max_tokens, 5);
  EXPECT_EQ(boost::json::parse(escaped->body).at("input"), "x");

  // A second body replaces the first, its stream and its cap with it.
  auto twice = parse_batch_line(
      R"({"custom_id":"t","method":"POST","url":"/v1/chat/completions",)"
      R"("body":{"model":"a","stream":true,"max_tokens":9},"body":{"model":"b"}})");
  ASSERT_TRUE(twice) << twice.error().message;
  EXPECT_EQ(twice->model, "b");
  EXPECT_EQ(twice->max_tokens, 0);
  EXPECT_EQ(twice->body, R"({"model":"b"})");

  // As deep as the gateway reads a request (128), deeper than Boost.JSON's default of 32.
  std::string deep = std::string(60, '[') + std::string(60, ']');
  auto nested = parse_batch_line(
      R"({"custom_id":"d","method":"POST","url":"/v1/chat/completions","body":{"model":"m","x":)" +
      deep + "}}");
  ASSERT_TRUE(nested) << nested.error().message;
  EXPECT_EQ(nested->body, R"({"model":"m","x":)" + deep + "}");
}

TEST(BatchLineTest, EveryBadShapeNamesItsField) {
  struct Case {
    const char* line;
    const char* message;
  };
  for (const Case& c : {
           Case{"not json", "not valid JSON"},
           Case{"[1,2]", "must be a JSON object"},
           Case{R"({"method":"POST","url":"/v1/embeddings","body":{"model":"m"}})", "custom_id"},
           Case{R"({"custom_id":"","method":"POST","url":"/v1/embeddings","body":{"model":"m"}})",
                "custom_id"},
           Case{R"({"custom_id":"a","method":"GET","url":"/v1/embeddings","body":{"model":"m"}})",
                "method must be \"POST\""},
           Case{R"({"custom_id":"a","method":"POST","url":"/v1/files","body":{"model":"m"}})",
                "url /v1/files is not an inference endpoint"},
           Case{R"({"custom_id":"a","method":"POST","url":"/v1/embeddings","body":"x"})",
                "body must be a JSON object"},
           Case{R"({"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{}})",
                "body.model"},
           Case{R"({"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"model":"m"},)"
                R"("extra":1})",
                "unknown field \"extra\""},
           Case{R"({"custom_id":"a","method":"POST","url":"/v1/chat/completions",)"
                R"("body":{"model":"m","stream":true}})",
                "body.stream must not be true"},
           Case{R"({"custom_id":7,"method":"POST","url":"/v1/embeddings","body":{"model":"m"}})",
                "custom_id"},
           Case{R"({"custom_id":"a","method":"POST","url":["/v1/embeddings"],"body":{}})",
                "url must be a string"},
           Case{R"({"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"model":{}}})",
                "body.model"},
           Case{R"({"custom_id":"a","method":"POST","url":"/v1/embeddings"})",
                "body must be a JSON object"},
           Case{
               R"({"custom_id":"a","method":"POST","url":"/v1/embeddings","body":{"model":"m"}} x)",
               "not valid JSON"},
           Case{R"("just a string")", "must be a JSON object"},
       }) {
    auto r = parse_batch_line(c.line);
    ASSERT_FALSE(r) << c.line;
    EXPECT_THAT(r.error().message, HasSubstr(c.message)) << c.line;
  }
}

}  // namespace
}  // namespace sluice::batch
