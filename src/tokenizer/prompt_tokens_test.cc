#include "tokenizer/prompt_tokens.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "tokenizer/tokenizer.h"

namespace sluice::tokenizer {
namespace {

namespace json = boost::json;

json::array messages(std::string_view text) { return json::parse(text).as_array(); }

// The cookbook's example conversation. Its num_tokens_from_messages, transcribed to JavaScript
// over js-tiktoken 1.0.21, gives 129 (cl100k_base) and 124 (o200k_base); the cookbook prints the
// same counts from the API for gpt-4 and gpt-4o.
constexpr std::string_view kCookbook = R"([
  {"role": "system", "content": "You are a helpful, pattern-following assistant that translates corporate jargon into plain English."},
  {"role": "system", "name": "example_user", "content": "New synergies will help drive top-line growth."},
  {"role": "system", "name": "example_assistant", "content": "Things working well together will increase revenue."},
  {"role": "system", "name": "example_user", "content": "Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage."},
  {"role": "system", "name": "example_assistant", "content": "Let's talk later when we're less busy about how to do better."},
  {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for the client deliverable."}
])";

TEST(PromptTokensTest, CookbookExample) {
  EXPECT_EQ(count_chat(messages(kCookbook), Encoding::kCl100kBase), 129u);
  EXPECT_EQ(count_chat(messages(kCookbook), Encoding::kO200kBase), 124u);
  const PromptTokens p = count_prompt_tokens("gpt-4o-mini", messages(kCookbook));
  EXPECT_TRUE(p.exact);
  EXPECT_EQ(p.tokens, 124u);
}

TEST(PromptTokensTest, Framing) {
  // No messages: only the reply's priming.
  EXPECT_EQ(count_chat(json::array(), Encoding::kO200kBase), 3u);
  // 3 for the message, "user" and "Hi!" (1 and 2 tokens in o200k_base), 3 for the reply.
  EXPECT_EQ(count_chat(messages(R"([{"role":"user","content":"Hi!"}])"), Encoding::kO200kBase),
            3u + 1 + 2 + 3);
  // A name adds its own tokens ("bob": 1) and one more.
  EXPECT_EQ(count_chat(messages(R"([{"role":"user","name":"bob","content":"Hi!"}])"),
                       Encoding::kO200kBase),
            3u + 1 + 1 + 1 + 2 + 3);
  // Elements that are not messages add nothing; neither do values that are not text.
  EXPECT_EQ(count_chat(messages(R"([1, "x", null, {"role":"user","content":null,"n":7}])"),
                       Encoding::kO200kBase),
            3u + 1 + 3);
}

TEST(PromptTokensTest, ContentParts) {
  const Tokenizer& t = Tokenizer::get(Encoding::kO200kBase);
  const std::size_t text = t.count("What is in this image?") + t.count("Describe both.");
  const auto parts = messages(R"([{"role":"user","content":[
    {"type":"text","text":"What is in this image?"},
    {"type":"image_url","image_url":{"url":"https://example.com/a.png"}},
    {"type":"image_url","image_url":{"url":"https://example.com/b.png","detail":"low"}},
    {"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}},
    {"type":"text","text":"Describe both."}]}])");
  EXPECT_EQ(count_chat(parts, Encoding::kO200kBase),
            3u + 1 + text + kImageTokens + kLowDetailImageTokens + 3);
}

TEST(PromptTokensTest, ToolCallsCountNamesAndArguments) {
  const Tokenizer& t = Tokenizer::get(Encoding::kO200kBase);
  const auto conversation = messages(R"([
    {"role":"user","content":"What's the weather in Paris?"},
    {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
      "function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
    {"role":"tool","tool_call_id":"call_1","content":"Sunny, 21 °C"}])");
  const std::size_t expected = 3 + t.count("user") + t.count("What's the weather in Paris?") + 3 +
                               t.count("assistant") + t.count("get_weather") +
                               t.count(R"({"city":"Paris"})") + 3 + t.count("tool") +
                               t.count("call_1") + t.count("Sunny, 21 °C") + 3;
  EXPECT_EQ(count_chat(conversation, Encoding::kO200kBase), expected);
  // The same figures as js-tiktoken gives for each string (6, 2, 5, 1, 3, 6).
  EXPECT_EQ(expected, 3u + 1 + 6 + 3 + 1 + 2 + 5 + 3 + 1 + 3 + 6 + 3);
}

TEST(PromptTokensTest, EstimateForOtherModels) {
  EXPECT_EQ(estimate(""), 0u);
  EXPECT_EQ(estimate("abc"), 1u);
  EXPECT_EQ(estimate("abcd"), 1u);
  EXPECT_EQ(estimate("abcde"), 2u);
  const PromptTokens text = count_prompt_tokens("claude-3-5-sonnet", "twelve bytes");
  EXPECT_FALSE(text.exact);
  EXPECT_EQ(text.tokens, 3u);
  // Messages keep the framing; each text is estimated ("user" 1, "Hi there" 2).
  const PromptTokens chat =
      count_prompt_tokens("llama3", messages(R"([{"role":"user","content":"Hi there"}])"));
  EXPECT_FALSE(chat.exact);
  EXPECT_EQ(chat.tokens, 3u + 1 + 2 + 3);
}

TEST(PromptTokensTest, ExactForKnownModels) {
  const PromptTokens p = count_prompt_tokens("gpt-4", "hello world");
  EXPECT_TRUE(p.exact);
  EXPECT_EQ(p.tokens, 2u);
}

}  // namespace
}  // namespace sluice::tokenizer
