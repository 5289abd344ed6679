#include "batch/step_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "mock/png.h"
#include "mock/text.h"

namespace sluice::batch {
namespace {

namespace json = boost::json;
using ::testing::HasSubstr;

StepSpec step_of(const std::string& yaml) {
  return parse_pipeline("steps:\n  - " + yaml + "\n", "p.yaml").steps.at(0);
}

TEST(StepRequestTest, BodiesHaveAFixedFieldOrderSoReRunsAreIdentical) {
  StepSpec chat =
      step_of("{name: a, model: fast, system: sys, prompt: p, params: {temperature: 0, n: 1}}");
  std::string body = step_body(chat, "Be brief.", "Hello");
  EXPECT_EQ(body, R"({"model":"fast","messages":[{"role":"system","content":"Be brief."},)"
                  R"({"role":"user","content":"Hello"}],"temperature":0,"n":1})");
  EXPECT_EQ(step_body(chat, "Be brief.", "Hello"), body);
  // No system message when there is none.
  EXPECT_EQ(
      step_body(chat, "", "Hi"),
      R"({"model":"fast","messages":[{"role":"user","content":"Hi"}],"temperature":0,"n":1})");

  EXPECT_EQ(step_body(step_of("{name: a, model: m, type: completion, prompt: p}"), "", "Once"),
            R"({"model":"m","prompt":"Once"})");
  EXPECT_EQ(step_body(step_of("{name: a, model: e, type: embedding, prompt: p, params: "
                              "{dimensions: 8}}"),
                      "", "text"),
            R"({"model":"e","input":"text","dimensions":8})");
  EXPECT_EQ(step_body(step_of("{name: a, model: i, type: image, prompt: p}"), "", "a cat"),
            R"({"model":"i","prompt":"a cat","response_format":"b64_json"})");
}

TEST(StepRequestTest, ReadsEachKindOfAnswer) {
  auto chat = read_answer(
      StepType::kChat, R"({"choices":[{"message":{"role":"assistant","content":"Hi there"}}],)"
                       R"("usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}})");
  ASSERT_TRUE(chat) << chat.error().message;
  EXPECT_EQ(chat->output, "Hi there");
  EXPECT_EQ(chat->extension, "txt");
  EXPECT_EQ(chat->prompt_tokens, 9);
  EXPECT_EQ(chat->completion_tokens, 2);

  auto completion = read_answer(StepType::kCompletion, R"({"choices":[{"text":"upon a time"}]})");
  ASSERT_TRUE(completion);
  EXPECT_EQ(completion->output, "upon a time");

  auto embedding = read_answer(
      StepType::kEmbedding,
      R"({"data":[{"index":0,"embedding":[0.5,-0.25]}],"usage":{"prompt_tokens":3,"total_tokens":3}})");
  ASSERT_TRUE(embedding);
  EXPECT_EQ(json::parse(embedding->output), json::parse("[[0.5,-0.25]]"));
  EXPECT_EQ(embedding->extension, "json");
  EXPECT_EQ(embedding->prompt_tokens, 3);

  std::string png = mock::solid_png(2, 2, {0, 128, 255});
  auto image = read_answer(StepType::kImage,
                           R"({"data":[{"b64_json":")" + mock::base64_encode(png) + R"("}]})");
  ASSERT_TRUE(image);
  EXPECT_EQ(image->image, png);
  EXPECT_EQ(image->extension, "png");
  auto jpeg =
      read_answer(StepType::kImage, R"({"data":[{"b64_json":")" +
                                        mock::base64_encode("\xFF\xD8\xFF\xE0rest") + R"("}]})");
  ASSERT_TRUE(jpeg);
  EXPECT_EQ(jpeg->extension, "jpg");
}

TEST(StepRequestTest, AnAnswerWithoutWhatTheStepNeedsIsAnError) {
  struct Case {
    StepType type;
    const char* body;
    const char* message;
  };
  for (const Case& c : {
           Case{StepType::kChat, "not json", "not a JSON object"},
           Case{StepType::kChat, R"({"choices":[]})", "no text in choices[0].message.content"},
           Case{StepType::kChat, R"({"choices":[{"message":{"content":null}}]})", "no text"},
           Case{StepType::kCompletion, R"({"choices":[{}]})", "no choices[0].text"},
           Case{StepType::kEmbedding, R"({"data":[]})", "no data[] of embeddings"},
           Case{StepType::kImage, R"({"data":[{"url":"http://x"}]})", "no data[0].b64_json"},
           Case{StepType::kImage, R"({"data":[{"b64_json":"$$$"}]})", "is not base64"},
       }) {
    auto a = read_answer(c.type, c.body);
    ASSERT_FALSE(a) << c.body;
    EXPECT_THAT(a.error().message, HasSubstr(c.message)) << c.body;
  }
}

TEST(StepRequestTest, ErrorsReadOpenAIsShape) {
  EXPECT_EQ(answer_error(429, R"({"error":{"message":"slow down","type":"rate_limit_error"}})"),
            "HTTP 429: slow down");
  EXPECT_EQ(answer_error(502, "Bad Gateway"), "HTTP 502: Bad Gateway");
  EXPECT_EQ(answer_error(500, ""), "HTTP 500");
}

TEST(StepRequestTest, Base64RoundTripsAndRejectsOtherText) {
  for (std::string bytes : {std::string(""), std::string("M"), std::string("Ma"),
                            std::string("Man"), std::string("\x00\xff\x10", 3)}) {
    auto back = base64_decode(mock::base64_encode(bytes));
    ASSERT_TRUE(back) << bytes;
    EXPECT_EQ(*back, bytes);
  }
  EXPECT_FALSE(base64_decode("TWFu!"));
  EXPECT_FALSE(base64_decode("TW Fu"));
  EXPECT_FALSE(base64_decode("TQ==="));
}

}  // namespace
}  // namespace sluice::batch
