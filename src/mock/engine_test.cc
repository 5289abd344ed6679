#include "mock/engine.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "core/asio.h"
#include "mock/text.h"

namespace sluice::mock {
namespace {

using api::Endpoint;

config::MockSettings default_settings() { return config::MockSettings{}; }

json::object parse_object(std::string_view text) {
  json::value v = json::parse(text);
  EXPECT_TRUE(v.is_object()) << text;
  return v.is_object() ? v.get_object() : json::object();
}

// Answers `body` and expects a 200.
json::object answer(const Engine& e, Endpoint ep, std::string_view body, const Faults& f = {}) {
  Reply r = e.respond(ep, body, f);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(r.content_type, "application/json");
  return parse_object(r.body);
}

// Checks the SSE framing and the [DONE] terminator, and returns the chunks before it.
std::vector<json::object> stream_chunks(const Reply& r) {
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.stream);
  EXPECT_EQ(r.content_type, "text/event-stream; charset=utf-8");
  EXPECT_TRUE(r.body.empty());
  std::vector<json::object> chunks;
  if (r.events.empty()) {
    ADD_FAILURE() << "no events";
    return chunks;
  }
  EXPECT_EQ(r.events.back(), "data: [DONE]\n\n");
  for (std::size_t i = 0; i + 1 < r.events.size(); ++i) {
    const std::string& ev = r.events[i];
    EXPECT_EQ(ev.rfind("data: ", 0), 0u) << ev;
    EXPECT_TRUE(ev.size() >= 8 && ev.substr(ev.size() - 2) == "\n\n") << ev;
    EXPECT_EQ(ev.find('\n'), ev.size() - 2) << "one line per event: " << ev;
    chunks.push_back(parse_object(std::string_view(ev).substr(6, ev.size() - 8)));
  }
  return chunks;
}

std::vector<std::string> keys(const json::object& o) {
  std::vector<std::string> out;
  for (const auto& kv : o) out.emplace_back(kv.key());
  return out;
}

std::string str(const json::value& v) { return std::string(v.as_string()); }

std::string chat_body(std::string_view extra = "",
                      std::string_view messages = R"([{"role":"user","content":"Hello there!"}])") {
  std::string body = R"({"model":"mock","messages":)" + std::string(messages);
  if (!extra.empty()) body += "," + std::string(extra);
  return body + "}";
}

std::string content_of(const json::object& completion, std::size_t choice = 0) {
  return str(completion.at("choices").at(choice).at("message").at("content"));
}

std::int64_t usage_field(const json::object& o, std::string_view key) {
  return o.at("usage").at(key).as_int64();
}

std::size_t word_count(std::string_view text) {
  if (text.empty()) return 0;
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), ' ')) + 1;
}

std::string base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  EXPECT_EQ(in.size() % 4, 0u);
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = value(c);
    EXPECT_GE(v, 0) << "bad base64 character " << c;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// Bit-by-bit CRC-32, independent of the table-driven one under test.
std::uint32_t reference_crc32(std::string_view bytes) {
  std::uint32_t crc = 0xffffffffU;
  for (unsigned char b : bytes) {
    crc ^= b;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320U & (0U - (crc & 1)));
  }
  return ~crc;
}

std::uint32_t be32(std::string_view s, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Chat completions

TEST(MockChat, SameRequestSameTextDifferentMessagesDifferentText) {
  Engine e(default_settings());
  json::object a = answer(e, Endpoint::kChatCompletions, chat_body());
  json::object b = answer(e, Endpoint::kChatCompletions, chat_body());
  json::object c = answer(e, Endpoint::kChatCompletions,
                          chat_body("", R"([{"role":"user","content":"Something else"}])"));
  EXPECT_EQ(content_of(a), content_of(b));
  EXPECT_EQ(a.at("id"), b.at("id"));
  EXPECT_NE(content_of(a), content_of(c));
  EXPECT_NE(a.at("id"), c.at("id"));

  // seed, temperature and the model all change the text.
  for (std::string_view extra : {R"("seed":1)", R"("temperature":0.5)"}) {
    EXPECT_NE(content_of(a), content_of(answer(e, Endpoint::kChatCompletions, chat_body(extra))));
  }
  std::string other_model = chat_body();
  other_model.replace(other_model.find("\"mock\""), 6, "\"other\"");
  EXPECT_NE(content_of(a), content_of(answer(e, Endpoint::kChatCompletions, other_model)));
}

TEST(MockChat, NonStreamShape) {
  Engine e(default_settings());
  json::object o = answer(e, Endpoint::kChatCompletions, chat_body());
  EXPECT_EQ(keys(o), (std::vector<std::string>{"id", "object", "created", "model", "choices",
                                               "usage", "system_fingerprint"}));
  EXPECT_EQ(str(o.at("id")).rfind("chatcmpl-", 0), 0u);
  EXPECT_EQ(o.at("object"), "chat.completion");
  EXPECT_TRUE(o.at("created").is_int64());
  EXPECT_GT(o.at("created").as_int64(), 1'600'000'000);
  EXPECT_EQ(o.at("model"), "mock");
  EXPECT_EQ(o.at("system_fingerprint"), "fp_sluice_mock");
  const json::array& choices = o.at("choices").as_array();
  ASSERT_EQ(choices.size(), 1u);
  const json::object& choice = choices[0].as_object();
  EXPECT_EQ(keys(choice),
            (std::vector<std::string>{"index", "message", "logprobs", "finish_reason"}));
  EXPECT_EQ(choice.at("index"), 0);
  EXPECT_TRUE(choice.at("logprobs").is_null());
  EXPECT_EQ(choice.at("finish_reason"), "stop");
  const json::object& message = choice.at("message").as_object();
  EXPECT_EQ(keys(message), (std::vector<std::string>{"role", "content", "refusal"}));
  EXPECT_EQ(message.at("role"), "assistant");
  EXPECT_TRUE(message.at("refusal").is_null());

  std::string text = content_of(o);
  std::size_t words = word_count(text);
  // The natural length is 8 + seed % settings.max_tokens.
  EXPECT_GE(words, 8u);
  EXPECT_LT(words, 8u + 64u);
  EXPECT_EQ(usage_field(o, "completion_tokens"), static_cast<std::int64_t>(words));
  EXPECT_EQ(keys(o.at("usage").as_object()),
            (std::vector<std::string>{"prompt_tokens", "completion_tokens", "total_tokens"}));
  // "Hello there!" is 3 tokens, "user" 1, framing 3 per message, priming 3.
  EXPECT_EQ(usage_field(o, "prompt_tokens"), 3 + 1 + 3 + 3);
  EXPECT_EQ(usage_field(o, "total_tokens"),
            usage_field(o, "prompt_tokens") + usage_field(o, "completion_tokens"));
  for (char c : text) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == ' ') << text;
}

TEST(MockChat, PromptTokensCountEveryMessageAndTextPart) {
  Engine e(default_settings());
  json::object o = answer(e, Endpoint::kChatCompletions,
                          chat_body("", R"([{"role":"system","content":"Be brief."},
                        {"role":"user","name":"bob","content":[{"type":"text","text":"one two"},
                          {"type":"image_url","image_url":{"url":"https://x.invalid/a.png"}}]},
                        {"role":"assistant","content":null}])"));
  // system: 3 + 1 + 3; user: 3 + 1 + (1 + 1) + 2; assistant: 3 + 1; priming 3.
  EXPECT_EQ(usage_field(o, "prompt_tokens"), 7 + 8 + 4 + 3);
}

TEST(MockChat, StreamDeltasEqualNonStreamContent) {
  Engine e(default_settings());
  json::object whole = answer(e, Endpoint::kChatCompletions, chat_body());
  Reply r = e.respond(Endpoint::kChatCompletions, chat_body(R"("stream":true)"), {});
  std::vector<json::object> chunks = stream_chunks(r);
  ASSERT_GE(chunks.size(), 3u);

  const json::object& first = chunks.front();
  EXPECT_EQ(keys(first), (std::vector<std::string>{"id", "object", "created", "model",
                                                   "system_fingerprint", "choices"}));
  EXPECT_EQ(first.at("id"), whole.at("id"));
  EXPECT_EQ(first.at("object"), "chat.completion.chunk");
  EXPECT_EQ(first.at("model"), "mock");
  EXPECT_EQ(first.at("system_fingerprint"), "fp_sluice_mock");
  EXPECT_EQ(json::serialize(first.at("choices")),
            R"([{"index":0,"delta":{"role":"assistant","content":"","refusal":null},)"
            R"("logprobs":null,"finish_reason":null}])");

  std::string text;
  for (std::size_t i = 1; i + 1 < chunks.size(); ++i) {
    const json::object& choice = chunks[i].at("choices").at(0).as_object();
    EXPECT_TRUE(choice.at("finish_reason").is_null());
    EXPECT_EQ(keys(choice.at("delta").as_object()), std::vector<std::string>{"content"});
    std::string token = str(choice.at("delta").at("content"));
    EXPECT_EQ(token.front() == ' ', i > 1) << "leading space on every token after the first";
    text += token;
    EXPECT_FALSE(chunks[i].contains("usage"));
  }
  EXPECT_EQ(text, content_of(whole));
  EXPECT_EQ(chunks.size() - 2, static_cast<std::size_t>(usage_field(whole, "completion_tokens")));
  EXPECT_EQ(json::serialize(chunks.back().at("choices")),
            R"([{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}])");
}

TEST(MockChat, StreamIncludeUsage) {
  Engine e(default_settings());
  json::object whole = answer(e, Endpoint::kChatCompletions, chat_body());
  Reply r = e.respond(Endpoint::kChatCompletions,
                      chat_body(R"("stream":true,"stream_options":{"include_usage":true})"), {});
  std::vector<json::object> chunks = stream_chunks(r);
  ASSERT_GE(chunks.size(), 4u);
  for (std::size_t i = 0; i + 1 < chunks.size(); ++i) {
    ASSERT_TRUE(chunks[i].contains("usage"));
    EXPECT_TRUE(chunks[i].at("usage").is_null());
    EXPECT_EQ(keys(chunks[i]).back(), "usage");
  }
  const json::object& last = chunks.back();
  EXPECT_TRUE(last.at("choices").as_array().empty());
  EXPECT_EQ(last.at("usage"), whole.at("usage"));
  EXPECT_EQ(chunks[chunks.size() - 2].at("choices").at(0).at("finish_reason"), "stop");

  // include_usage false behaves like no stream_options.
  Reply off = e.respond(Endpoint::kChatCompletions,
                        chat_body(R"("stream":true,"stream_options":{"include_usage":false})"), {});
  for (const json::object& c : stream_chunks(off)) EXPECT_FALSE(c.contains("usage"));
}

TEST(MockChat, MaxTokensCutsWithFinishReasonLength) {
  Engine e(default_settings());
  std::string natural = content_of(answer(e, Endpoint::kChatCompletions, chat_body()));
  for (std::string_view field : {"max_tokens", "max_completion_tokens"}) {
    json::object o =
        answer(e, Endpoint::kChatCompletions, chat_body("\"" + std::string(field) + "\":3"));
    EXPECT_EQ(o.at("choices").at(0).at("finish_reason"), "length");
    EXPECT_EQ(usage_field(o, "completion_tokens"), 3);
    std::string cut = content_of(o);
    EXPECT_EQ(word_count(cut), 3u);
    EXPECT_EQ(natural.rfind(cut, 0), 0u) << "a cut answer is a prefix of the natural one";
  }
  json::object roomy = answer(e, Endpoint::kChatCompletions, chat_body(R"("max_tokens":1000)"));
  EXPECT_EQ(roomy.at("choices").at(0).at("finish_reason"), "stop");
  EXPECT_EQ(content_of(roomy), natural);

  Reply r = e.respond(Endpoint::kChatCompletions, chat_body(R"("stream":true,"max_tokens":2)"), {});
  std::vector<json::object> chunks = stream_chunks(r);
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks.back().at("choices").at(0).at("finish_reason"), "length");
}

TEST(MockChat, ForcedTokensWinOverMaxTokens) {
  Engine e(default_settings());
  Faults f;
  f.tokens = 100;
  json::object o = answer(e, Endpoint::kChatCompletions, chat_body(R"("max_tokens":3)"), f);
  EXPECT_EQ(usage_field(o, "completion_tokens"), 100);
  EXPECT_EQ(word_count(content_of(o)), 100u);
  EXPECT_EQ(o.at("choices").at(0).at("finish_reason"), "stop");

  f.tokens = 0;
  json::object empty = answer(e, Endpoint::kChatCompletions, chat_body(), f);
  EXPECT_EQ(content_of(empty), "");
  EXPECT_EQ(usage_field(empty, "completion_tokens"), 0);
}

TEST(MockChat, NaturalLengthFollowsSettings) {
  config::MockSettings s;
  s.max_tokens = 1;
  Engine e(s);
  for (int i = 0; i < 5; ++i) {
    std::string body = chat_body("\"seed\":" + std::to_string(i));
    EXPECT_EQ(usage_field(answer(e, Endpoint::kChatCompletions, body), "completion_tokens"), 8);
  }
}

TEST(MockChat, NChoices) {
  Engine e(default_settings());
  json::object o = answer(e, Endpoint::kChatCompletions, chat_body(R"("n":3)"));
  const json::array& choices = o.at("choices").as_array();
  ASSERT_EQ(choices.size(), 3u);
  std::set<std::string> texts;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(choices[i].at("index"), static_cast<std::int64_t>(i));
    texts.insert(content_of(o, i));
    total += static_cast<std::int64_t>(word_count(content_of(o, i)));
  }
  EXPECT_EQ(texts.size(), 3u);
  EXPECT_EQ(usage_field(o, "completion_tokens"), total);

  Reply r = e.respond(Endpoint::kChatCompletions, chat_body(R"("n":3,"stream":true)"), {});
  std::map<std::int64_t, std::string> streamed;
  std::map<std::int64_t, int> finished;
  for (const json::object& c : stream_chunks(r)) {
    const json::object& choice = c.at("choices").at(0).as_object();
    std::int64_t index = choice.at("index").as_int64();
    if (const json::value* t = choice.at("delta").as_object().if_contains("content")) {
      streamed[index] += str(*t);
    }
    if (!choice.at("finish_reason").is_null()) ++finished[index];
  }
  ASSERT_EQ(streamed.size(), 3u);
  for (std::int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(streamed[i], content_of(o, static_cast<std::size_t>(i)));
    EXPECT_EQ(finished[i], 1);
  }
}

constexpr std::string_view kTools = R"("tools":[
  {"type":"function","function":{"name":"get_weather","parameters":{"type":"object",
    "properties":{"location":{"type":"string"},"unit":{"type":"string","enum":["c","f"]},
                  "days":{"type":"integer"},"exact":{"type":"boolean"},
                  "tags":{"type":"array","items":{"type":"string"}}},
    "required":["location"]}}},
  {"type":"function","function":{"name":"get_time"}}])";

TEST(MockChat, ToolCallWhenRequired) {
  Engine e(default_settings());
  json::object o = answer(e, Endpoint::kChatCompletions,
                          chat_body(std::string(kTools) + R"(,"tool_choice":"required")"));
  const json::object& choice = o.at("choices").at(0).as_object();
  EXPECT_EQ(choice.at("finish_reason"), "tool_calls");
  const json::object& message = choice.at("message").as_object();
  EXPECT_EQ(keys(message), (std::vector<std::string>{"role", "content", "tool_calls", "refusal"}));
  EXPECT_TRUE(message.at("content").is_null());
  const json::array& calls = message.at("tool_calls").as_array();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(keys(calls[0].as_object()), (std::vector<std::string>{"id", "type", "function"}));
  EXPECT_EQ(str(calls[0].at("id")).rfind("call_", 0), 0u);
  EXPECT_EQ(calls[0].at("type"), "function");
  EXPECT_EQ(calls[0].at("function").at("name"), "get_weather");
  json::object args = parse_object(str(calls[0].at("function").at("arguments")));
  EXPECT_TRUE(args.at("location").is_string());
  EXPECT_TRUE(args.at("unit") == "c" || args.at("unit") == "f");
  EXPECT_TRUE(args.at("days").is_int64());
  EXPECT_TRUE(args.at("exact").is_bool());
  EXPECT_TRUE(args.at("tags").at(0).is_string());
  EXPECT_GT(usage_field(o, "completion_tokens"), 0);
  // The tool definitions count towards the prompt.
  json::object plain = answer(e, Endpoint::kChatCompletions, chat_body());
  EXPECT_GT(usage_field(o, "prompt_tokens"), usage_field(plain, "prompt_tokens"));

  // Deterministic, like text.
  json::object again = answer(e, Endpoint::kChatCompletions,
                              chat_body(std::string(kTools) + R"(,"tool_choice":"required")"));
  EXPECT_EQ(again.at("choices"), o.at("choices"));
}

TEST(MockChat, ToolChoiceNamedAndAuto) {
  Engine e(default_settings());
  json::object named =
      answer(e, Endpoint::kChatCompletions,
             chat_body(std::string(kTools) +
                       R"(,"tool_choice":{"type":"function","function":{"name":"get_time"}})"));
  const json::object& call =
      named.at("choices").at(0).at("message").at("tool_calls").at(0).as_object();
  EXPECT_EQ(call.at("function").at("name"), "get_time");
  EXPECT_EQ(call.at("function").at("arguments"), "{}");

  for (std::string_view choice : {R"("auto")", R"("none")"}) {
    json::object text =
        answer(e, Endpoint::kChatCompletions,
               chat_body(std::string(kTools) + ",\"tool_choice\":" + std::string(choice)));
    EXPECT_EQ(text.at("choices").at(0).at("finish_reason"), "stop");
    EXPECT_FALSE(content_of(text).empty());
  }
}

TEST(MockChat, ToolCallStream) {
  Engine e(default_settings());
  std::string body = chat_body(std::string(kTools) + R"(,"tool_choice":"required")");
  json::object whole = answer(e, Endpoint::kChatCompletions, body);
  const json::object& expected =
      whole.at("choices").at(0).at("message").at("tool_calls").at(0).as_object();

  body.insert(body.size() - 1, R"(,"stream":true)");
  std::vector<json::object> chunks = stream_chunks(e.respond(Endpoint::kChatCompletions, body, {}));
  ASSERT_GE(chunks.size(), 3u);
  const json::object& first = chunks.front().at("choices").at(0).at("delta").as_object();
  EXPECT_EQ(keys(first), (std::vector<std::string>{"role", "content", "tool_calls", "refusal"}));
  EXPECT_TRUE(first.at("content").is_null());
  const json::object& head = first.at("tool_calls").at(0).as_object();
  EXPECT_EQ(keys(head), (std::vector<std::string>{"index", "id", "type", "function"}));
  EXPECT_EQ(head.at("index"), 0);
  EXPECT_EQ(head.at("id"), expected.at("id"));
  EXPECT_EQ(head.at("type"), "function");
  EXPECT_EQ(head.at("function").at("name"), "get_weather");
  EXPECT_EQ(head.at("function").at("arguments"), "");

  std::string arguments;
  for (std::size_t i = 1; i + 1 < chunks.size(); ++i) {
    const json::object& delta = chunks[i].at("choices").at(0).at("delta").as_object();
    const json::object& fragment = delta.at("tool_calls").at(0).as_object();
    EXPECT_EQ(keys(fragment), (std::vector<std::string>{"index", "function"}));
    EXPECT_EQ(keys(fragment.at("function").as_object()), std::vector<std::string>{"arguments"});
    arguments += str(fragment.at("function").at("arguments"));
  }
  EXPECT_EQ(arguments, str(expected.at("function").at("arguments")));
  EXPECT_EQ(chunks.size() - 2, static_cast<std::size_t>(usage_field(whole, "completion_tokens")));
  EXPECT_EQ(json::serialize(chunks.back().at("choices")),
            R"([{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}])");
}

// ---------------------------------------------------------------------------------------------
// Text completions

TEST(MockCompletions, NonStreamAndStreamAgree) {
  Engine e(default_settings());
  std::string body = R"({"model":"mock-instruct","prompt":"Say this is a test."})";
  json::object o = answer(e, Endpoint::kCompletions, body);
  EXPECT_EQ(keys(o), (std::vector<std::string>{"id", "object", "created", "model", "choices",
                                               "usage", "system_fingerprint"}));
  EXPECT_EQ(str(o.at("id")).rfind("cmpl-", 0), 0u);
  EXPECT_EQ(o.at("object"), "text_completion");
  EXPECT_EQ(o.at("model"), "mock-instruct");
  const json::object& choice = o.at("choices").at(0).as_object();
  EXPECT_EQ(keys(choice), (std::vector<std::string>{"text", "index", "logprobs", "finish_reason"}));
  EXPECT_EQ(choice.at("finish_reason"), "stop");
  std::string text = str(choice.at("text"));
  EXPECT_EQ(usage_field(o, "completion_tokens"), static_cast<std::int64_t>(word_count(text)));
  EXPECT_EQ(usage_field(o, "prompt_tokens"), 6);  // Say this is a test .
  EXPECT_EQ(answer(e, Endpoint::kCompletions, body).at("choices"), o.at("choices"));

  std::string stream_body = R"({"model":"mock-instruct","prompt":"Say this is a test.",)"
                            R"("stream":true,"stream_options":{"include_usage":true}})";
  std::vector<json::object> chunks =
      stream_chunks(e.respond(Endpoint::kCompletions, stream_body, {}));
  ASSERT_GE(chunks.size(), 3u);
  std::string streamed;
  for (std::size_t i = 0; i + 2 < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].at("object"), "text_completion");
    EXPECT_TRUE(chunks[i].at("usage").is_null());
    const json::object& c = chunks[i].at("choices").at(0).as_object();
    EXPECT_EQ(keys(c), (std::vector<std::string>{"text", "index", "logprobs", "finish_reason"}));
    EXPECT_TRUE(c.at("finish_reason").is_null());
    streamed += str(c.at("text"));
  }
  EXPECT_EQ(streamed, text);
  const json::object& end = chunks[chunks.size() - 2].at("choices").at(0).as_object();
  EXPECT_EQ(end.at("text"), "");
  EXPECT_EQ(end.at("finish_reason"), "stop");
  EXPECT_TRUE(chunks.back().at("choices").as_array().empty());
  EXPECT_EQ(chunks.back().at("usage"), o.at("usage"));
}

TEST(MockCompletions, PromptShapesAndChoiceNumbering) {
  Engine e(default_settings());
  json::object tokens = answer(e, Endpoint::kCompletions, R"({"model":"m","prompt":[1,2,3]})");
  EXPECT_EQ(tokens.at("choices").as_array().size(), 1u);
  EXPECT_EQ(usage_field(tokens, "prompt_tokens"), 3);

  json::object many = answer(e, Endpoint::kCompletions,
                             R"({"model":"m","prompt":["a b","c"],"n":2,"max_tokens":4})");
  const json::array& choices = many.at("choices").as_array();
  ASSERT_EQ(choices.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(choices[i].at("index"), static_cast<std::int64_t>(i));
    EXPECT_EQ(choices[i].at("finish_reason"), "length");
  }
  EXPECT_EQ(usage_field(many, "prompt_tokens"), 3);
  EXPECT_EQ(usage_field(many, "completion_tokens"), 16);

  json::object nested = answer(e, Endpoint::kCompletions, R"({"model":"m","prompt":[[1,2],[3]]})");
  EXPECT_EQ(nested.at("choices").as_array().size(), 2u);
  EXPECT_EQ(usage_field(nested, "prompt_tokens"), 3);
}

// ---------------------------------------------------------------------------------------------
// Embeddings

std::vector<double> float_embedding(const json::value& data) {
  std::vector<double> out;
  for (const json::value& x : data.at("embedding").as_array()) out.push_back(x.to_number<double>());
  return out;
}

double norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

TEST(MockEmbeddings, FloatVectorsAreDeterministicUnitLength) {
  Engine e(default_settings());
  std::string body = R"({"model":"mock-embedding","input":["The food was delicious.","Hi"]})";
  json::object o = answer(e, Endpoint::kEmbeddings, body);
  EXPECT_EQ(keys(o), (std::vector<std::string>{"object", "data", "model", "usage"}));
  EXPECT_EQ(o.at("object"), "list");
  EXPECT_EQ(o.at("model"), "mock-embedding");
  EXPECT_EQ(json::serialize(o.at("usage")), R"({"prompt_tokens":6,"total_tokens":6})");
  const json::array& data = o.at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(keys(data[i].as_object()),
              (std::vector<std::string>{"object", "index", "embedding"}));
    EXPECT_EQ(data[i].at("object"), "embedding");
    EXPECT_EQ(data[i].at("index"), static_cast<std::int64_t>(i));
    std::vector<double> v = float_embedding(data[i]);
    EXPECT_EQ(v.size(), 256u);  // settings.embedding_dimensions
    EXPECT_NEAR(norm(v), 1.0, 1e-5);
  }
  EXPECT_NE(float_embedding(data[0]), float_embedding(data[1]));
  // Same input, same vector, whatever else is in the batch.
  json::object single =
      answer(e, Endpoint::kEmbeddings, R"({"model":"mock-embedding","input":"Hi"})");
  EXPECT_EQ(float_embedding(single.at("data").at(0)), float_embedding(data[1]));
}

TEST(MockEmbeddings, Base64DecodesToTheSameFloats) {
  Engine e(default_settings());
  json::object f =
      answer(e, Endpoint::kEmbeddings, R"({"model":"m","input":"hello","dimensions":16})");
  json::object b =
      answer(e, Endpoint::kEmbeddings,
             R"({"model":"m","input":"hello","dimensions":16,"encoding_format":"base64"})");
  std::vector<double> floats = float_embedding(f.at("data").at(0));
  ASSERT_EQ(floats.size(), 16u);
  std::string bytes = base64_decode(str(b.at("data").at(0).at("embedding")));
  ASSERT_EQ(bytes.size(), 16u * 4u);
  for (std::size_t i = 0; i < 16; ++i) {
    std::uint32_t bits = 0;
    for (int k = 3; k >= 0; --k) bits = (bits << 8) | static_cast<unsigned char>(bytes[i * 4 + k]);
    float x = 0;
    std::memcpy(&x, &bits, sizeof x);
    // The JSON text is the shortest form of the float32, so it reads back as the same float.
    EXPECT_EQ(x, static_cast<float>(floats[i])) << i;
  }
}

TEST(MockEmbeddings, DimensionsAndTokenInput) {
  config::MockSettings s;
  s.embedding_dimensions = 32;
  Engine e(s);
  json::object o = answer(e, Endpoint::kEmbeddings, R"({"model":"m","input":[[5,6,7],[8]]})");
  ASSERT_EQ(o.at("data").as_array().size(), 2u);
  EXPECT_EQ(float_embedding(o.at("data").at(0)).size(), 32u);
  EXPECT_EQ(usage_field(o, "prompt_tokens"), 4);
  json::object big = answer(e, Endpoint::kEmbeddings,
                            R"({"model":"m","input":[1,2],"dimensions":8192,"stream":true})");
  std::vector<double> v = float_embedding(big.at("data").at(0));
  EXPECT_EQ(v.size(), 8192u);
  EXPECT_NEAR(norm(v), 1.0, 1e-4);
}

// ---------------------------------------------------------------------------------------------
// Images

TEST(MockImages, UrlsByDefault) {
  Engine e(default_settings());
  json::object o = answer(e, Endpoint::kImageGenerations, R"({"prompt":"a red fox","n":2})");
  EXPECT_EQ(keys(o), (std::vector<std::string>{"created", "data"}));
  const json::array& data = o.at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(keys(data[0].as_object()), (std::vector<std::string>{"url", "revised_prompt"}));
  std::string url = str(data[0].at("url"));
  EXPECT_EQ(url.rfind("https://mock.sluice.invalid/images/", 0), 0u);
  EXPECT_EQ(url.substr(url.size() - 4), ".png");
  EXPECT_NE(data[0].at("url"), data[1].at("url"));
  EXPECT_EQ(data[0].at("revised_prompt"), "a red fox");
  EXPECT_EQ(answer(e, Endpoint::kImageGenerations, R"({"prompt":"a red fox","n":2})").at("data"),
            o.at("data"));
}

TEST(MockImages, B64JsonIsAValidPng) {
  Engine e(default_settings());
  json::object o = answer(e, Endpoint::kImageGenerations,
                          R"({"prompt":"a red fox","response_format":"b64_json"})");
  const json::object& image = o.at("data").at(0).as_object();
  EXPECT_EQ(keys(image), (std::vector<std::string>{"b64_json", "revised_prompt"}));
  std::string png = base64_decode(str(image.at("b64_json")));
  ASSERT_GT(png.size(), 8u + 25u + 12u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  // IHDR: length 13, then type, data and a CRC over type and data.
  EXPECT_EQ(be32(png, 8), 13u);
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_EQ(be32(png, 16), 8u);  // width
  EXPECT_EQ(be32(png, 20), 8u);  // height
  EXPECT_EQ(be32(png, 29), reference_crc32(std::string_view(png).substr(12, 17)));
  // Every chunk's CRC holds, and the file ends with the well-known IEND chunk.
  std::size_t at = 8;
  while (at + 12 <= png.size()) {
    std::uint32_t len = be32(png, at);
    ASSERT_LE(at + 12 + len, png.size());
    EXPECT_EQ(be32(png, at + 8 + len),
              reference_crc32(std::string_view(png).substr(at + 4, 4 + len)))
        << png.substr(at + 4, 4);
    at += 12 + len;
  }
  EXPECT_EQ(at, png.size());
  EXPECT_EQ(png.substr(png.size() - 12), std::string("\0\0\0\0IEND\xae\x42\x60\x82", 12));
}

// ---------------------------------------------------------------------------------------------
// Invalid requests

struct BadRequest {
  Endpoint endpoint;
  std::string body;
  std::string param;  // empty: param is null
};

TEST(MockErrors, EveryInvalidRequestIsAnOpenAIShaped400) {
  const Endpoint chat = Endpoint::kChatCompletions;
  const Endpoint text = Endpoint::kCompletions;
  const Endpoint emb = Endpoint::kEmbeddings;
  const Endpoint img = Endpoint::kImageGenerations;
  const std::vector<BadRequest> cases = {
      {chat, "{not json", ""},
      {chat, "", ""},
      {chat, "[1,2]", ""},
      {chat, R"({"messages":[{"role":"user","content":"x"}]})", "model"},
      {chat, R"({"model":5,"messages":[{"role":"user","content":"x"}]})", "model"},
      {chat, R"({"model":"m"})", "messages"},
      {chat, R"({"model":"m","messages":"hi"})", "messages"},
      {chat, R"({"model":"m","messages":[]})", "messages"},
      {chat, R"({"model":"m","messages":["hi"]})", "messages[0]"},
      {chat, R"({"model":"m","messages":[{"content":"x"}]})", "messages[0].role"},
      {chat, R"({"model":"m","messages":[{"role":7}]})", "messages[0].role"},
      {chat, R"({"model":"m","messages":[{"role":"robot"}]})", "messages[0].role"},
      {chat, R"({"model":"m","messages":[{"role":"user","content":5}]})", "messages[0].content"},
      {chat, R"({"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]})",
       "messages[0].content[0].text"},
      {chat, R"({"model":"m","messages":[{"role":"user","content":[{"text":"x"}]}]})",
       "messages[0].content[0].type"},
      {chat, chat_body(R"("n":0)"), "n"},
      {chat, chat_body(R"("n":17)"), "n"},
      {chat, chat_body(R"("n":"2")"), "n"},
      {chat, chat_body(R"("n":1.5)"), "n"},
      {chat, chat_body(R"("max_tokens":0)"), "max_tokens"},
      {chat, chat_body(R"("max_completion_tokens":-1)"), "max_completion_tokens"},
      {chat, chat_body(R"("temperature":3)"), "temperature"},
      {chat, chat_body(R"("temperature":"hot")"), "temperature"},
      {chat, chat_body(R"("seed":"x")"), "seed"},
      {chat, chat_body(R"("stream":"yes")"), "stream"},
      {chat, chat_body(R"("stream_options":{"include_usage":true})"), "stream_options"},
      {chat, chat_body(R"("stream":true,"stream_options":{"include_usage":1})"),
       "stream_options.include_usage"},
      {chat, chat_body(R"("tools":{})"), "tools"},
      {chat, chat_body(R"("tools":[{"type":"function"}])"), "tools[0].function"},
      {chat, chat_body(R"("tools":[{"type":"function","function":{}}])"), "tools[0].function.name"},
      {chat, chat_body(R"("tools":[{"type":"retrieval","function":{"name":"f"}}])"),
       "tools[0].type"},
      {chat, chat_body(R"("tool_choice":"required")"), "tool_choice"},
      {chat, chat_body(std::string(kTools) + R"(,"tool_choice":"sometimes")"), "tool_choice"},
      {chat,
       chat_body(std::string(kTools) +
                 R"(,"tool_choice":{"type":"function","function":{"name":"nope"}})"),
       "tool_choice"},
      {text, R"({"prompt":"x"})", "model"},
      {text, R"({"model":"m"})", "prompt"},
      {text, R"({"model":"m","prompt":[]})", "prompt"},
      {text, R"({"model":"m","prompt":[1,"a"]})", "prompt"},
      {text, R"({"model":"m","prompt":{"a":1}})", "prompt"},
      {text, R"({"model":"m","prompt":"x","n":20})", "n"},
      {text, R"({"model":"m","prompt":["a","b","c","d","e","f","g","h","i"],"n":16})", "prompt"},
      {emb, R"({"input":"x"})", "model"},
      {emb, R"({"model":"m"})", "input"},
      {emb, R"({"model":"m","input":""})", "input"},
      {emb, R"({"model":"m","input":[]})", "input"},
      {emb, R"({"model":"m","input":["a",""]})", "input"},
      {emb, R"({"model":"m","input":[[]]})", "input"},
      {emb, R"({"model":"m","input":[-1]})", "input"},
      {emb, R"({"model":"m","input":"x","dimensions":0})", "dimensions"},
      {emb, R"({"model":"m","input":"x","dimensions":8193})", "dimensions"},
      {emb, R"({"model":"m","input":"x","encoding_format":"int8"})", "encoding_format"},
      {img, R"({"n":1})", "prompt"},
      {img, R"({"prompt":""})", "prompt"},
      {img, R"({"prompt":3})", "prompt"},
      {img, R"({"prompt":"x","n":11})", "n"},
      {img, R"({"prompt":"x","n":0})", "n"},
      {img, R"({"prompt":"x","response_format":"jpeg"})", "response_format"},
      {img, R"({"prompt":"x","size":512})", "size"},
  };
  config::MockSettings s;
  s.fault_rate = 1.0;  // faults never replace a 400
  Engine e(s);
  for (const BadRequest& c : cases) {
    SCOPED_TRACE(c.body);
    Reply r = e.respond(c.endpoint, c.body, {});
    EXPECT_EQ(r.status, 400);
    EXPECT_FALSE(r.stream);
    EXPECT_EQ(r.content_type, "application/json");
    json::object o = parse_object(r.body);
    ASSERT_TRUE(o.contains("error"));
    const json::object& err = o.at("error").as_object();
    EXPECT_EQ(keys(err), (std::vector<std::string>{"message", "type", "param", "code"}));
    EXPECT_EQ(err.at("type"), "invalid_request_error");
    EXPECT_FALSE(str(err.at("message")).empty());
    if (c.param.empty()) {
      EXPECT_TRUE(err.at("param").is_null());
    } else {
      EXPECT_EQ(err.at("param"), c.param.c_str());
    }
  }
}

TEST(MockErrors, Messages) {
  Engine e(default_settings());
  auto message = [&](Endpoint ep, std::string_view body) {
    Reply r = e.respond(ep, body, {});
    return str(parse_object(r.body).at("error").at("message"));
  };
  EXPECT_EQ(message(Endpoint::kChatCompletions, "{oops"),
            "We could not parse the JSON body of your request.");
  EXPECT_EQ(message(Endpoint::kChatCompletions, R"({"model":"m"})"),
            "'messages' is a required property");
  EXPECT_EQ(message(Endpoint::kChatCompletions, chat_body(R"("n":"2")")),
            "Invalid type for 'n': expected an integer, but got a string instead.");
  EXPECT_EQ(
      message(Endpoint::kChatCompletions, chat_body(R"("n":17)")),
      "Invalid 'n': integer above maximum value. Expected a value <= 16, but got 17 instead.");
  EXPECT_EQ(message(Endpoint::kChatCompletions, chat_body(R"("temperature":2.5)")),
            "Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got "
            "2.5 instead.");
  EXPECT_EQ(message(Endpoint::kEmbeddings, R"({"model":"m","input":"x","encoding_format":"hex"})"),
            "Invalid value: 'hex'. Supported values are: 'float' and 'base64'.");
}

// ---------------------------------------------------------------------------------------------
// Faults and pacing

TEST(MockFaults, InjectedStatusWithRetryAfter) {
  Engine e(default_settings());
  Faults f;
  f.status = 503;
  f.retry_after = 7;
  for (std::string_view body : {std::string_view(chat_body()), std::string_view("{bad json")}) {
    Reply r = e.respond(Endpoint::kChatCompletions, body, f);
    EXPECT_EQ(r.status, 503);
    EXPECT_FALSE(r.stream);
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0].first, "retry-after");
    EXPECT_EQ(r.headers[0].second, "7");
    json::object err = parse_object(r.body).at("error").as_object();
    EXPECT_EQ(err.at("message"), "mock: injected HTTP 503");
    EXPECT_EQ(err.at("type"), "server_error");
  }
  f.status = 429;
  f.retry_after = -1;
  Reply r = e.respond(Endpoint::kEmbeddings, R"({"model":"m","input":"x"})", f);
  EXPECT_EQ(r.status, 429);
  EXPECT_TRUE(r.headers.empty());
  EXPECT_EQ(parse_object(r.body).at("error").at("type"), "rate_limit_error");
}

TEST(MockFaults, FaultRateOneAndZero) {
  config::MockSettings always;
  always.fault_rate = 1.0;
  Engine bad(always);
  Engine good(default_settings());
  for (int i = 0; i < 20; ++i) {
    Reply r = bad.respond(Endpoint::kChatCompletions, chat_body(), {});
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(parse_object(r.body).at("error").at("type"), "server_error");
    EXPECT_EQ(good.respond(Endpoint::kChatCompletions, chat_body(), {}).status, 200);
  }
}

TEST(MockFaults, FaultRateIsADeterministicSequence) {
  config::MockSettings s;
  s.fault_rate = 0.3;
  s.seed = 42;
  Engine a(s), b(s);
  int faults = 0;
  for (int i = 0; i < 1000; ++i) {
    int sa = a.respond(Endpoint::kEmbeddings, R"({"model":"m","input":"x"})", {}).status;
    int sb = b.respond(Endpoint::kEmbeddings, R"({"model":"m","input":"x"})", {}).status;
    EXPECT_EQ(sa, sb);
    faults += sa == 500;
  }
  EXPECT_GT(faults, 220);
  EXPECT_LT(faults, 380);
}

TEST(MockFaults, ConcurrentCallersDrawEachSequenceNumberOnce) {
  config::MockSettings s;
  s.fault_rate = 0.5;
  s.seed = 7;
  Engine serial(s), shared(s);
  constexpr int kThreads = 4, kEach = 250;
  int expected = 0;
  for (int i = 0; i < kThreads * kEach; ++i) {
    expected +=
        serial.respond(Endpoint::kEmbeddings, R"({"model":"m","input":"x"})", {}).status == 500;
  }
  std::atomic<int> faults{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        Reply r = shared.respond(Endpoint::kEmbeddings, R"({"model":"m","input":"x"})", {});
        if (r.status == 500) faults.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(faults.load(), expected);
}

TEST(MockFaults, PacingIsCopiedIntoTheReply) {
  config::MockSettings s;
  s.first_token_delay = std::chrono::milliseconds(30);
  s.tokens_per_second = 20;
  Engine e(s);
  Reply plain = e.respond(Endpoint::kChatCompletions, chat_body(R"("stream":true)"), {});
  EXPECT_EQ(plain.first_delay, Duration(30));
  EXPECT_EQ(plain.event_interval, Duration(50));
  EXPECT_EQ(plain.cut_after, -1);
  EXPECT_FALSE(plain.hang);

  Faults f;
  f.delay = Duration(250);
  f.tokens_per_second = 4;
  f.cut_after = 3;
  f.hang = true;
  Reply r = e.respond(Endpoint::kChatCompletions, chat_body(R"("stream":true)"), f);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.first_delay, Duration(250));
  EXPECT_EQ(r.event_interval, Duration(250));
  EXPECT_EQ(r.cut_after, 3);
  EXPECT_TRUE(r.hang);

  Engine unpaced(default_settings());
  Reply fast = unpaced.respond(Endpoint::kChatCompletions, chat_body(), {});
  EXPECT_EQ(fast.first_delay, Duration(0));
  EXPECT_EQ(fast.event_interval, Duration(0));
}

TEST(MockFaults, FromHeaders) {
  std::map<std::string, std::string> headers = {
      {"x-mock-status", "503"}, {"x-mock-retry-after", "2"}, {"x-mock-cut-after", "5"},
      {"x-mock-hang", "1"},     {"x-mock-delay-ms", "120"},  {"x-mock-tokens-per-second", "12.5"},
      {"x-mock-tokens", "9"},
  };
  auto get = [&](std::string_view name) -> std::string_view {
    auto it = headers.find(std::string(name));
    return it == headers.end() ? std::string_view() : std::string_view(it->second);
  };
  Faults f = Faults::from_headers(get);
  EXPECT_EQ(f.status, 503);
  EXPECT_EQ(f.retry_after, 2);
  EXPECT_EQ(f.cut_after, 5);
  EXPECT_TRUE(f.hang);
  EXPECT_EQ(f.delay, Duration(120));
  EXPECT_EQ(f.tokens_per_second, 12.5);
  EXPECT_EQ(f.tokens, 9);

  headers = {{"x-mock-status", "50x"},
             {"x-mock-hang", "false"},
             {"x-mock-tokens", "-1"},
             {"x-mock-tokens-per-second", "inf"},
             {"x-mock-delay-ms", " 5"}};
  Faults none = Faults::from_headers(get);
  EXPECT_EQ(none.status, 0);
  EXPECT_FALSE(none.hang);
  EXPECT_FALSE(none.tokens);
  EXPECT_FALSE(none.tokens_per_second);
  EXPECT_FALSE(none.delay);
}

TEST(MockFaults, HeadersOverDefaults) {
  Faults defaults;
  defaults.status = 500;
  defaults.retry_after = 3;
  defaults.hang = true;
  defaults.tokens = 4;
  std::map<std::string, std::string> headers;
  auto get = [&](std::string_view name) -> std::string_view {
    auto it = headers.find(std::string(name));
    return it == headers.end() ? std::string_view() : std::string_view(it->second);
  };
  EXPECT_EQ(Faults::from_headers(get, defaults), defaults);

  headers = {{"x-mock-status", "200"}, {"x-mock-hang", "0"}, {"x-mock-tokens", "x"}};
  Faults f = Faults::from_headers(get, defaults);
  EXPECT_EQ(f.status, 200);  // below 400: the engine answers normally
  EXPECT_EQ(f.retry_after, 3);
  EXPECT_FALSE(f.hang);
  EXPECT_EQ(f.tokens, 4);  // unparseable: the default stays
  Engine e(default_settings());
  EXPECT_EQ(e.respond(Endpoint::kChatCompletions, chat_body(), f).status, 200);
}

TEST(MockFaults, StrictNumberParsing) {
  EXPECT_EQ(detail::parse_int("42"), 42);
  EXPECT_EQ(detail::parse_int("-7"), -7);
  EXPECT_FALSE(detail::parse_int(""));
  EXPECT_FALSE(detail::parse_int("4 2"));
  EXPECT_FALSE(detail::parse_int("42abc"));
  EXPECT_FALSE(detail::parse_int("+42"));
  EXPECT_FALSE(detail::parse_int("99999999999999999999"));
  EXPECT_EQ(detail::parse_double("2.5"), 2.5);
  EXPECT_EQ(detail::parse_double("3"), 3.0);
  EXPECT_FALSE(detail::parse_double("2.5x"));
  EXPECT_FALSE(detail::parse_double("nan"));
  EXPECT_FALSE(detail::parse_double(""));
}

// ---------------------------------------------------------------------------------------------
// Helpers

TEST(MockText, TokenCountMatchesSplit) {
  for (std::string_view s :
       {"", "   ", "Hello there!", "  a,b  c.  ", "{\"x\":\"naïve café\"}", "one\ttwo\nthree"}) {
    std::vector<std::string> pieces = split_tokens(s);
    std::string joined;
    for (const std::string& p : pieces) joined += p;
    EXPECT_EQ(joined, s);
    if (count_tokens(s) > 0) {
      EXPECT_EQ(pieces.size(), count_tokens(s)) << s;
    }
  }
  EXPECT_EQ(count_tokens("Hello there!"), 3u);
  EXPECT_EQ(count_tokens("naïve café"), 2u);
  EXPECT_EQ(base64_encode("Man"), "TWFu");
  EXPECT_EQ(base64_encode("Ma"), "TWE=");
  EXPECT_EQ(base64_encode("M"), "TQ==");
  EXPECT_GE(vocabulary().size(), 300u);
}

TEST(MockEngine, DefaultModels) {
  std::vector<std::string> models = Engine::default_models();
  EXPECT_FALSE(models.empty());
  EXPECT_EQ(models.front(), "mock");
}

}  // namespace
}  // namespace sluice::mock
