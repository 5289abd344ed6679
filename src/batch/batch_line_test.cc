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
       }) {
    auto r = parse_batch_line(c.line);
    ASSERT_FALSE(r) << c.line;
    EXPECT_THAT(r.error().message, HasSubstr(c.message)) << c.line;
  }
}

}  // namespace
}  // namespace sluice::batch
