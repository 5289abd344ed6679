#include "provider/anthropic_translate.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "api/endpoint.h"
#include "api/errors.h"
#include "api/usage.h"
#include "cache/stream_assembly.h"
#include "core/asio.h"
#include "http/sse.h"

namespace sluice::provider::anthropic {
namespace {

using api::Endpoint;
using core::Errc;

constexpr std::int64_t kCreated = 1735689600;

// ---------------------------------------------------------------------------------------------
// Helpers

std::string golden(std::string_view name) {
  std::filesystem::path path =
      std::filesystem::path(SLUICE_SOURCE_DIR) / "tests" / "golden" / "anthropic" / name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << path;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

json::value to_json(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << "not JSON: " << text;
  return v;
}

// The data of each event, parsed; "[DONE]" stays a string.
std::vector<json::value> events_of(std::string_view sse) {
  std::vector<json::value> out;
  http::SseEventReader reader(sse);
  http::SseEvent ev;
  while (reader.next(ev)) {
    EXPECT_TRUE(ev.whole) << "a stream that ends in the middle of an event";
    if (!ev.has_data) continue;
    if (ev.data == "[DONE]") {
      out.emplace_back("[DONE]");
    } else {
      out.push_back(to_json(ev.data));
    }
  }
  return out;
}

// The raw bytes of each event, as the gateway's SSE splitter cuts them.
std::vector<std::string_view> raw_events(std::string_view sse) {
  std::vector<std::string_view> out;
  http::SseEventReader reader(sse);
  http::SseEvent ev;
  while (reader.next(ev)) out.push_back(ev.raw);
  return out;
}

void expect_same_events(std::string_view actual, std::string_view expected) {
  std::vector<json::value> a = events_of(actual);
  std::vector<json::value> e = events_of(expected);
  ASSERT_EQ(a.size(), e.size()) << actual;
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i], e[i]) << "event " << i << ":\n  got      " << json::serialize(a[i])
                          << "\n  expected " << json::serialize(e[i]);
  }
}

void expect_same_json(std::string_view actual, std::string_view expected) {
  json::value a = to_json(actual);
  json::value e = to_json(expected);
  EXPECT_EQ(a, e) << "got      " << json::serialize(a) << "\nexpected " << json::serialize(e);
}

struct Streamed {
  std::string out;
  core::Result<void> result = core::ok();
};

// Feeds the whole stream in one call (or one event per call), then finishes it; stops at the
// first failure as the provider does.
Streamed translate_stream(std::string_view sse, bool include_usage, bool event_by_event = false) {
  Streamed s;
  StreamTranslator t(include_usage, kCreated);
  if (event_by_event) {
    for (std::string_view ev : raw_events(sse)) {
      s.result = t.feed(ev, s.out);
      if (!s.result) return s;
    }
  } else {
    s.result = t.feed(sse, s.out);
    if (!s.result) return s;
  }
  s.result = t.finish(s.out);
  return s;
}

json::object request(std::string_view openai_body, std::string_view model = "claude-sonnet-4-5") {
  RequestOptions options;
  options.model = model;
  auto r = translate_request(openai_body, options);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  if (!r) return {};
  json::value v = to_json(r->body);
  return v.is_object() ? v.get_object() : json::object();
}

core::Error refused(std::string_view openai_body) {
  RequestOptions options;
  options.model = "claude-sonnet-4-5";
  auto r = translate_request(openai_body, options);
  EXPECT_FALSE(r) << "accepted: " << (r ? r->body : "");
  return r ? core::Error() : r.error();
}

// A chat request around `messages` (a JSON array) and extra top-level members.
std::string chat(std::string_view messages, std::string_view extra = "") {
  std::string body = R"({"model":"claude","messages":)";
  body += messages;
  if (!extra.empty()) {
    body += ',';
    body += extra;
  }
  body += '}';
  return body;
}

constexpr std::string_view kHello = R"([{"role":"user","content":"Hello"}])";

// An Anthropic message with these content blocks and stop_reason.
std::string message(std::string_view content, std::string_view stop_reason = "end_turn",
                    std::string_view usage = R"({"input_tokens":10,"output_tokens":5})") {
  std::string out = R"({"id":"msg_01","type":"message","role":"assistant","model":"claude-x",)";
  out += R"("content":)";
  out += content;
  out += R"(,"stop_reason":")";
  out += stop_reason;
  out += R"(","stop_sequence":null,"usage":)";
  out += usage;
  out += '}';
  return out;
}

json::object answer(std::string_view anthropic_body) {
  auto r = translate_response(anthropic_body, kCreated);
  EXPECT_TRUE(r) << (r ? "" : r.error().message);
  if (!r) return {};
  EXPECT_TRUE(cache::complete_json_answer(Endpoint::kChatCompletions, *r)) << *r;
  return to_json(*r).get_object();
}

const json::object& message_of(const json::object& completion) {
  return completion.at("choices").at(0).at("message").get_object();
}

// A stream of Anthropic events, written compactly: message_start, then `body`.
std::string stream(std::string_view body) {
  std::string out =
      "event: message_start\n"
      R"(data: {"type":"message_start","message":{"id":"msg_s","type":"message",)"
      R"("role":"assistant","model":"claude-x","content":[],"stop_reason":null,)"
      R"("stop_sequence":null,"usage":{"input_tokens":7,"output_tokens":1}}})"
      "\n\n";
  out += body;
  return out;
}

std::string event(std::string_view name, std::string_view data) {
  std::string out = "event: ";
  out += name;
  out += "\ndata: ";
  out += data;
  out += "\n\n";
  return out;
}

std::string end_of_stream(std::string_view stop_reason = "end_turn") {
  return event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":")" +
                                    std::string(stop_reason) +
                                    R"(","stop_sequence":null},"usage":{"output_tokens":3}})") +
         event("message_stop", R"({"type":"message_stop"})");
}

std::string text_block(int index, std::string_view text_json) {
  const std::string i = std::to_string(index);
  return event("content_block_start", R"({"type":"content_block_start","index":)" + i +
                                          R"(,"content_block":{"type":"text","text":""}})") +
         event("content_block_delta", R"({"type":"content_block_delta","index":)" + i +
                                          R"(,"delta":{"type":"text_delta","text":)" +
                                          std::string(text_json) + "}}") +
         event("content_block_stop", R"({"type":"content_block_stop","index":)" + i + "}");
}

// ---------------------------------------------------------------------------------------------
// Golden files: Anthropic's documented examples

TEST(AnthropicGolden, Responses) {
  for (std::string_view name : {"message_text", "message_tool_use", "message_thinking"}) {
    SCOPED_TRACE(name);
    std::string input = golden(std::string(name) + ".json");
    auto r = translate_response(input, kCreated);
    ASSERT_TRUE(r) << r.error().message;
    expect_same_json(*r, golden(std::string(name) + ".expected.json"));
    EXPECT_TRUE(cache::complete_json_answer(Endpoint::kChatCompletions, *r));
  }
}

TEST(AnthropicGolden, Streams) {
  struct Case {
    std::string_view input;
    std::string_view expected;
    bool include_usage;
  };
  for (const Case& c : {Case{"stream_text.sse", "stream_text.expected.sse", false},
                        Case{"stream_text.sse", "stream_text.usage.expected.sse", true},
                        Case{"stream_tool_use.sse", "stream_tool_use.expected.sse", false},
                        Case{"stream_tool_use.sse", "stream_tool_use.usage.expected.sse", true},
                        Case{"stream_thinking.sse", "stream_thinking.expected.sse", false}}) {
    SCOPED_TRACE(c.expected);
    const std::string input = golden(c.input);
    Streamed whole = translate_stream(input, c.include_usage);
    ASSERT_TRUE(whole.result) << whole.result.error().message;
    expect_same_events(whole.out, golden(c.expected));
    EXPECT_TRUE(cache::complete_stream(Endpoint::kChatCompletions, whole.out));

    // The provider feeds whatever complete events one network read brought: one at a time or
    // all at once, the client gets the same bytes.
    Streamed one_by_one = translate_stream(input, c.include_usage, true);
    ASSERT_TRUE(one_by_one.result) << one_by_one.result.error().message;
    EXPECT_EQ(one_by_one.out, whole.out);

    // Every chunk is OpenAI's envelope: id, object, created, model, one choice at index 0 with
    // logprobs and finish_reason, and "usage": null before the usage chunk with include_usage.
    for (const json::value& ev : events_of(whole.out)) {
      if (ev.is_string()) continue;  // [DONE]
      const json::object& chunk = ev.get_object();
      EXPECT_EQ(chunk.at("object"), "chat.completion.chunk");
      EXPECT_EQ(chunk.at("created"), kCreated);
      EXPECT_TRUE(chunk.at("id").is_string());
      EXPECT_TRUE(chunk.at("model").is_string());
      const json::array& choices = chunk.at("choices").get_array();
      if (choices.empty()) {
        EXPECT_TRUE(c.include_usage);
        EXPECT_TRUE(chunk.at("usage").is_object());
        continue;
      }
      ASSERT_EQ(choices.size(), 1u);
      const json::object& choice = choices[0].get_object();
      EXPECT_EQ(choice.at("index"), 0);
      EXPECT_TRUE(choice.at("delta").is_object());
      EXPECT_TRUE(choice.at("logprobs").is_null());
      EXPECT_TRUE(choice.contains("finish_reason"));
      EXPECT_EQ(chunk.contains("usage"), c.include_usage);
      if (c.include_usage) {
        EXPECT_TRUE(chunk.at("usage").is_null());
      }
    }
  }
}

TEST(AnthropicGolden, StreamWithAnErrorMidWay) {
  const std::string input = golden("stream_error.sse");
  for (bool event_by_event : {false, true}) {
    Streamed s = translate_stream(input, false, event_by_event);
    ASSERT_FALSE(s.result);
    const core::Error& e = s.result.error();
    EXPECT_EQ(e.code, Errc::kUpstreamError);
    EXPECT_EQ(e.message, "Overloaded");
    EXPECT_EQ(e.status, 503);
    EXPECT_EQ(api::http_status(e), 503);
    // What the client sees: the chunks so far, then the gateway's error event, and no [DONE].
    expect_same_events(s.out + api::error_event(e), golden("stream_error.expected.sse"));
    EXPECT_FALSE(cache::complete_stream(Endpoint::kChatCompletions, s.out));
  }
}

TEST(AnthropicGolden, Errors) {
  struct Case {
    std::string_view name;
    int status;
    std::string_view ext;
  };
  for (const Case& c :
       {Case{"error_400_invalid_request", 400, ".json"},
        Case{"error_401_authentication", 401, ".json"}, Case{"error_403_permission", 403, ".json"},
        Case{"error_404_not_found", 404, ".json"}, Case{"error_413_cloudflare", 413, ".html"},
        Case{"error_429_rate_limit", 429, ".json"}, Case{"error_500_api", 500, ".json"},
        Case{"error_529_overloaded", 529, ".json"}}) {
    SCOPED_TRACE(c.name);
    TranslatedReply reply =
        translate_error(c.status, golden(std::string(c.name) + std::string(c.ext)));
    json::value expected = to_json(golden(std::string(c.name) + ".expected.json"));
    EXPECT_EQ(reply.status, expected.at("status"));
    expect_same_json(reply.body, json::serialize(expected.at("body")));
    // Already OpenAI's shape: the pipeline's normalize_upstream_error leaves it as it is.
    EXPECT_EQ(api::normalize_upstream_error(reply.status, reply.body), reply.body);
  }
}

TEST(AnthropicGolden, Requests) {
  struct Case {
    std::string_view name;
    std::string_view model;
    bool stream;
  };
  for (const Case& c : {Case{"request_tool_use", "claude-sonnet-4-5", true},
                        Case{"request_vision_url", "claude-opus-4-6", false},
                        Case{"request_conversation", "claude-3-7-sonnet-20250219", false}}) {
    SCOPED_TRACE(c.name);
    RequestOptions options;
    options.model = c.model;
    auto r = translate_request(golden(std::string(c.name) + ".openai.json"), options);
    ASSERT_TRUE(r) << r.error().message;
    expect_same_json(r->body, golden(std::string(c.name) + ".expected.json"));
    EXPECT_EQ(r->stream, c.stream);
    EXPECT_FALSE(r->include_usage);
  }
}

// ---------------------------------------------------------------------------------------------
// A stream assembled is the answer unstreamed

// The arguments of each tool call parsed, since a stream carries Anthropic's JSON text as it was
// typed and the whole answer carries its `input` re-serialized.
json::value comparable(std::string_view completion) {
  json::value v = to_json(completion);
  for (json::value& choice : v.at("choices").get_array()) {
    json::object& m = choice.at("message").get_object();
    if (json::value* calls = m.if_contains("tool_calls")) {
      for (json::value& call : calls->get_array()) {
        json::value& arguments = call.at("function").at("arguments");
        arguments = to_json(arguments.get_string());
      }
    }
  }
  return v;
}

TEST(AnthropicStream, AssemblesToTheAnswerOfTheSameMessageUnstreamed) {
  struct Case {
    std::string_view stream;
    std::string message;  // the same message as Anthropic answers it without streaming
  };
  const Case cases[] = {
      {"stream_text.sse",
       R"({"id":"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY","type":"message","role":"assistant",)"
       R"("content":[{"type":"text","text":"Hello!"}],"model":"claude-sonnet-4-5-20250929",)"
       R"("stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":25,)"
       R"("output_tokens":15}})"},
      {"stream_tool_use.sse",
       R"({"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant",)"
       R"("model":"claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Okay, let's )"
       R"(check the weather for San Francisco, CA:"},{"type":"tool_use","id":)"
       R"("toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{"location":)"
       R"("San Francisco, CA","unit":"fahrenheit"}}],"stop_reason":"tool_use",)"
       R"("stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":89}})"},
      {"stream_thinking.sse",
       R"({"id":"msg_01...","type":"message","role":"assistant","content":[{"type":"thinking",)"
       R"("thinking":"Let me solve this step by step:\n\n1. First break down 27 * 453\n2. 453 )"
       R"(= 400 + 50 + 3\n3. 27 * 400 = 10,800\n4. 27 * 50 = 1,350\n5. 27 * 3 = 81\n6. )"
       R"(10,800 + 1,350 + 81 = 12,231","signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkz)"
       R"(Loky3dl1pkiMOYds..."},{"type":"text","text":"27 * 453 = 12,231"}],"model":)"
       R"("claude-sonnet-4-5-20250929","stop_reason":"end_turn","stop_sequence":null})"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.stream);
    Streamed s = translate_stream(golden(c.stream), true);
    ASSERT_TRUE(s.result) << s.result.error().message;
    auto assembled = cache::assemble(Endpoint::kChatCompletions, s.out);
    ASSERT_TRUE(assembled) << assembled.error().message;
    auto whole = translate_response(c.message, kCreated);
    ASSERT_TRUE(whole) << whole.error().message;
    json::value a = comparable(*assembled);
    json::value w = comparable(*whole);
    EXPECT_EQ(a, w) << "assembled " << json::serialize(a) << "\nwhole     " << json::serialize(w);
  }
}

// ---------------------------------------------------------------------------------------------
// Usage

TEST(AnthropicUsage, TheGatewayReadsItFromTheAnswer) {
  auto r = translate_response(golden("message_text.json"), kCreated);
  ASSERT_TRUE(r);
  auto u = api::find_usage(*r);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 2095u);
  EXPECT_EQ(u->completion_tokens, 503u);
  EXPECT_EQ(u->cached_tokens, 0u);
  cache::Usage c = cache::usage_of(cache::Format::kJson, *r);
  EXPECT_EQ(c.prompt_tokens, 2095u);
  EXPECT_EQ(c.completion_tokens, 503u);
}

TEST(AnthropicUsage, CacheReadsAndWritesArePromptTokensAndReadsAreCached) {
  json::object a = answer(message(
      R"([{"type":"text","text":"ok"}])", "end_turn",
      R"({"input_tokens":10,"cache_creation_input_tokens":20,"cache_read_input_tokens":100,)"
      R"("output_tokens":5})"));
  const json::object& usage = a.at("usage").get_object();
  EXPECT_EQ(usage.at("prompt_tokens"), 130);
  EXPECT_EQ(usage.at("completion_tokens"), 5);
  EXPECT_EQ(usage.at("total_tokens"), 135);
  EXPECT_EQ(usage.at("prompt_tokens_details").at("cached_tokens"), 100);
  auto u = api::find_usage(json::serialize(a));
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 130u);
  EXPECT_EQ(u->completion_tokens, 5u);
  EXPECT_EQ(u->cached_tokens, 100u);
}

TEST(AnthropicUsage, TheGatewayReadsItFromTheStream) {
  Streamed s = translate_stream(golden("stream_tool_use.sse"), true);
  ASSERT_TRUE(s.result);
  auto u = api::find_usage(s.out);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 472u);
  EXPECT_EQ(u->completion_tokens, 89u);
  // The gateway's tap looks at the tail of each batch only: the last batch (finish()'s) has it.
  api::StreamUsageTap tap;
  std::string last;
  StreamTranslator t(true, kCreated);
  std::string ignored;
  ASSERT_TRUE(t.feed(golden("stream_tool_use.sse"), ignored));
  ASSERT_TRUE(t.finish(last));
  EXPECT_TRUE(tap.feed(last));
  EXPECT_EQ(tap.usage()->prompt_tokens, 472u);
}

TEST(AnthropicUsage, MessageDeltaCountsReplaceTheStartsWhenTheyAreGiven) {
  // As the documented web-search stream: the final input count differs from the first.
  std::string sse = stream(
      text_block(0, R"("hi")") +
      event("message_delta",
            R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
            R"("usage":{"input_tokens":10682,"cache_creation_input_tokens":0,)"
            R"("cache_read_input_tokens":300,"output_tokens":510,)"
            R"("server_tool_use":{"web_search_requests":1}}})") +
      event("message_stop", R"({"type":"message_stop"})"));
  Streamed s = translate_stream(sse, true);
  ASSERT_TRUE(s.result) << s.result.error().message;
  auto u = api::find_usage(s.out);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->prompt_tokens, 10982u);
  EXPECT_EQ(u->completion_tokens, 510u);
  EXPECT_EQ(u->cached_tokens, 300u);
}

TEST(AnthropicUsage, AStreamThatReportsNoneHasNoUsageChunk) {
  // The documented thinking stream carries no usage: nothing true to put in the chunk.
  Streamed s = translate_stream(golden("stream_thinking.sse"), true);
  ASSERT_TRUE(s.result);
  EXPECT_FALSE(api::find_usage(s.out));
  std::vector<json::value> evs = events_of(s.out);
  ASSERT_GE(evs.size(), 2u);
  EXPECT_EQ(evs.back(), "[DONE]");
  EXPECT_FALSE(evs[evs.size() - 2].at("choices").get_array().empty());
}

// ---------------------------------------------------------------------------------------------
// Request: messages

TEST(AnthropicRequest, SystemAndDeveloperMessagesBecomeTheSystemPrompt) {
  json::object r =
      request(chat(R"([{"role":"system","content":"Be terse."},)"
                   R"({"role":"developer","content":[{"type":"text","text":"Answer in French."},)"
                   R"({"type":"text","text":"No lists."}]},)"
                   R"({"role":"user","content":"Hello"},)"
                   R"({"role":"system","content":"Later instructions join too."}])"));
  EXPECT_EQ(r.at("system"),
            "Be terse.\n\nAnswer in French.\n\nNo lists.\n\nLater instructions join too.");
  ASSERT_EQ(r.at("messages").get_array().size(), 1u);
  EXPECT_EQ(r.at("messages").at(0), to_json(R"({"role":"user","content":"Hello"})"));
}

TEST(AnthropicRequest, ASystemMessageWithAnImageIsRefused) {
  core::Error e = refused(chat(
      R"([{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},)"
      R"({"role":"user","content":"Hi"}])"));
  EXPECT_EQ(e.code, Errc::kInvalidRequest);
  EXPECT_EQ(e.param, "messages[0].content[0].type");
}

TEST(AnthropicRequest, ConsecutiveMessagesOfOneRoleMerge) {
  json::object r = request(chat(
      R"([{"role":"user","content":"One."},{"role":"user","content":[{"type":"text","text":"Two."}]},)"
      R"({"role":"assistant","content":"Three."},{"role":"assistant","content":"Four."},)"
      R"({"role":"user","content":"Five."}])"));
  EXPECT_EQ(r.at("messages"), to_json(R"([
    {"role":"user","content":[{"type":"text","text":"One."},{"type":"text","text":"Two."}]},
    {"role":"assistant","content":[{"type":"text","text":"Three."},{"type":"text","text":"Four."}]},
    {"role":"user","content":"Five."}])"));
}

TEST(AnthropicRequest, ImagesFromDataUrlsAndFromTheWeb) {
  json::object r = request(chat(
      R"([{"role":"user","content":[{"type":"text","text":"What is in these?"},)"
      R"({"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/9j/4AAQSkZJRg...","detail":"high"}},)"
      R"({"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]}])"));
  EXPECT_EQ(r.at("messages").at(0).at("content"), to_json(R"([
    {"type":"text","text":"What is in these?"},
    {"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":"/9j/4AAQSkZJRg..."}},
    {"type":"image","source":{"type":"url","url":"https://example.com/cat.png"}}])"));
}

TEST(AnthropicRequest, ImagesAnthropicCannotTakeAreRefused) {
  core::Error bmp = refused(chat(
      R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/bmp;base64,Qk0="}}]}])"));
  EXPECT_EQ(bmp.code, Errc::kInvalidRequest);
  EXPECT_EQ(bmp.param, "messages[0].content[0].image_url.url");
  EXPECT_NE(bmp.message.find("image/bmp"), std::string::npos) << bmp.message;

  core::Error ftp = refused(chat(
      R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://example.com/a.png"}}]}])"));
  EXPECT_EQ(ftp.param, "messages[0].content[0].image_url.url");

  core::Error not_base64 = refused(chat(
      R"([{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}])"));
  EXPECT_EQ(not_base64.param, "messages[0].content[0].image_url.url");

  core::Error no_url =
      refused(chat(R"([{"role":"user","content":[{"type":"image_url","image_url":{}}]}])"));
  EXPECT_EQ(no_url.param, "messages[0].content[0].image_url.url");
}

TEST(AnthropicRequest, InlinePdfsAreDocumentsAndOpenAiFileIdsAreRefused) {
  json::object r = request(chat(
      R"([{"role":"user","content":[{"type":"file","file":{"filename":"a.pdf",)"
      R"("file_data":"data:application/pdf;base64,JVBERi0xLjQ="}},{"type":"text","text":"Summarise."}]}])"));
  EXPECT_EQ(r.at("messages").at(0).at("content").at(0), to_json(R"(
    {"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQ="}})"));

  core::Error id = refused(
      chat(R"([{"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]}])"));
  EXPECT_EQ(id.param, "messages[0].content[0].file.file_id");
}

TEST(AnthropicRequest, AudioPartsAreRefused) {
  core::Error e = refused(chat(
      R"([{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AAAA","format":"wav"}}]}])"));
  EXPECT_EQ(e.code, Errc::kInvalidRequest);
  EXPECT_EQ(e.param, "messages[0].content[0]");
}

TEST(AnthropicRequest, UnknownPartTypesAndRolesAreRefused) {
  EXPECT_EQ(refused(chat(R"([{"role":"user","content":[{"type":"video","video":{}}]}])")).param,
            "messages[0].content[0].type");
  EXPECT_EQ(refused(chat(R"([{"role":"narrator","content":"Once"}])")).param, "messages[0].role");
  EXPECT_EQ(refused(chat(R"([{"content":"Once"}])")).param, "messages[0].role");
  EXPECT_EQ(refused(chat(R"([{"role":"function","name":"f","content":"{}"}])")).param,
            "messages[0].role");
  EXPECT_EQ(refused(chat(R"([{"role":"user","content":42}])")).param, "messages[0].content");
  EXPECT_EQ(refused(chat(R"([{"role":"user"}])")).param, "messages[0].content");
  EXPECT_EQ(refused(chat(R"(["Hello"])")).param, "messages[0]");
}

TEST(AnthropicRequest, AssistantToolCallsBecomeToolUseBlocks) {
  json::object r = request(chat(
      R"([{"role":"user","content":"Weather in Paris and Tokyo?"},)"
      R"({"role":"assistant","content":null,"tool_calls":[)"
      R"({"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}},)"
      R"({"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},)"
      R"({"role":"tool","tool_call_id":"call_1","content":"18°C"},)"
      R"({"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"09:00"}]},)"
      R"({"role":"user","content":"Thanks. And Rome?"}])"));
  EXPECT_EQ(r.at("messages"), to_json(R"([
    {"role":"user","content":"Weather in Paris and Tokyo?"},
    {"role":"assistant","content":[
      {"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}},
      {"type":"tool_use","id":"call_2","name":"get_time","input":{}}]},
    {"role":"user","content":[
      {"type":"tool_result","tool_use_id":"call_1","content":"18°C"},
      {"type":"tool_result","tool_use_id":"call_2","content":[{"type":"text","text":"09:00"}]},
      {"type":"text","text":"Thanks. And Rome?"}]}])"));
}

TEST(AnthropicRequest, AssistantTextBeforeItsToolCallsIsKeptAndEmptyTextDropped) {
  json::object r = request(chat(
      R"([{"role":"user","content":"Hi"},)"
      R"({"role":"assistant","content":"Let me look.","tool_calls":[{"id":"c","type":"function",)"
      R"("function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":""},)"
      R"({"role":"assistant","content":"","tool_calls":[{"id":"d","type":"function",)"
      R"("function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"d","content":"x"}])"));
  EXPECT_EQ(r.at("messages"), to_json(R"([
    {"role":"user","content":"Hi"},
    {"role":"assistant","content":[{"type":"text","text":"Let me look."},
                                    {"type":"tool_use","id":"c","name":"f","input":{}}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"c"}]},
    {"role":"assistant","content":[{"type":"tool_use","id":"d","name":"f","input":{}}]},
    {"role":"user","content":[{"type":"tool_result","tool_use_id":"d","content":"x"}]}])"));
}

TEST(AnthropicRequest, ToolCallArgumentsThatAreNotAJsonObjectAreRefused) {
  for (std::string_view arguments : {R"("{\"city\": ")", R"("[1,2]")", R"("\"Paris\"")"}) {
    SCOPED_TRACE(arguments);
    core::Error e = refused(chat(
        R"([{"role":"user","content":"Hi"},{"role":"assistant","tool_calls":[{"id":"a","type":"function",)"
        R"("function":{"name":"f","arguments":"{}"}},{"id":"b","type":"function","function":{"name":"f",)"
        R"("arguments":)" +
        std::string(arguments) + "}}]}]"));
    EXPECT_EQ(e.code, Errc::kInvalidRequest);
    EXPECT_EQ(e.param, "messages[1].tool_calls[1].function.arguments");
  }
}

TEST(AnthropicRequest, MalformedToolCallsAndResultsAreRefused) {
  EXPECT_EQ(
      refused(
          chat(
              R"([{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f"}}]}])"))
          .param,
      "messages[0].tool_calls[0].id");
  EXPECT_EQ(
      refused(
          chat(R"([{"role":"assistant","tool_calls":[{"id":"a","type":"custom","custom":{}}]}])"))
          .param,
      "messages[0].tool_calls[0].type");
  EXPECT_EQ(refused(chat(R"([{"role":"tool","content":"18°C"}])")).param,
            "messages[0].tool_call_id");
  EXPECT_EQ(refused(chat(R"([{"role":"assistant","content":null}])")).param, "messages[0].content");
  EXPECT_EQ(
      refused(
          chat(
              R"([{"role":"assistant","content":"x","function_call":{"name":"f","arguments":"{}"}}])"))
          .param,
      "messages[0].function_call");
}

TEST(AnthropicRequest, MessagesThatSayNothingAreRefused) {
  EXPECT_EQ(refused(chat(R"([{"role":"user","content":""}])")).param, "messages[0].content");
  EXPECT_EQ(refused(chat(R"([{"role":"system","content":"Be terse."}])")).param, "messages");
  EXPECT_EQ(refused(chat("[]")).param, "messages");
}

// ---------------------------------------------------------------------------------------------
// Request: tools

TEST(AnthropicRequest, FunctionToolsHaveAnInputSchema) {
  json::object r = request(chat(kHello, R"("tools":[
    {"type":"function","function":{"name":"get_weather","description":"Weather now","strict":true,
     "parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
    {"type":"function","function":{"name":"ping"}}])"));
  EXPECT_EQ(r.at("tools"), to_json(R"([
    {"name":"get_weather","description":"Weather now",
     "input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},
    {"name":"ping","input_schema":{"type":"object","properties":{}}}])"));
  EXPECT_FALSE(r.contains("tool_choice"));
}

TEST(AnthropicRequest, ToolChoiceMapsToAnthropicsFourKinds) {
  const std::string tools = R"("tools":[{"type":"function","function":{"name":"f"}}])";
  struct Case {
    std::string_view openai;
    std::string_view anthropic;
  };
  for (const Case& c :
       {Case{R"("auto")", R"({"type":"auto"})"}, Case{R"("required")", R"({"type":"any"})"},
        Case{R"("none")", R"({"type":"none"})"},
        Case{R"({"type":"function","function":{"name":"f"}})", R"({"type":"tool","name":"f"})"}}) {
    SCOPED_TRACE(c.openai);
    json::object r = request(chat(kHello, tools + R"(,"tool_choice":)" + std::string(c.openai)));
    EXPECT_EQ(r.at("tool_choice"), to_json(c.anthropic));
  }
}

TEST(AnthropicRequest, ParallelToolCallsFalseDisablesParallelToolUse) {
  const std::string tools = R"("tools":[{"type":"function","function":{"name":"f"}}])";
  EXPECT_EQ(request(chat(kHello, tools + R"(,"parallel_tool_calls":false)")).at("tool_choice"),
            to_json(R"({"type":"auto","disable_parallel_tool_use":true})"));
  EXPECT_EQ(
      request(chat(kHello, tools + R"(,"tool_choice":"required","parallel_tool_calls":false)"))
          .at("tool_choice"),
      to_json(R"({"type":"any","disable_parallel_tool_use":true})"));
  EXPECT_EQ(request(chat(kHello, tools + R"(,"tool_choice":"none","parallel_tool_calls":false)"))
                .at("tool_choice"),
            to_json(R"({"type":"none"})"));
  EXPECT_FALSE(
      request(chat(kHello, tools + R"(,"parallel_tool_calls":true)")).contains("tool_choice"));
  EXPECT_EQ(refused(chat(kHello, tools + R"(,"parallel_tool_calls":"no")")).param,
            "parallel_tool_calls");
}

TEST(AnthropicRequest, BadToolsAndToolChoicesAreRefused) {
  const std::string tools = R"("tools":[{"type":"function","function":{"name":"f"}}])";
  EXPECT_EQ(refused(chat(kHello, R"("tools":[{"type":"custom","custom":{"name":"x"}}])")).param,
            "tools[0].type");
  EXPECT_EQ(refused(chat(kHello, R"("tools":[{"type":"function","function":{}}])")).param,
            "tools[0].function.name");
  EXPECT_EQ(
      refused(
          chat(kHello, R"("tools":[{"type":"function","function":{"name":"f","parameters":"x"}}])"))
          .param,
      "tools[0].function.parameters");
  EXPECT_EQ(refused(chat(kHello, tools + R"(,"tool_choice":"sometimes")")).param, "tool_choice");
  EXPECT_EQ(
      refused(chat(kHello, tools + R"(,"tool_choice":{"type":"allowed_tools","allowed_tools":{}})"))
          .param,
      "tool_choice");
  EXPECT_EQ(refused(chat(kHello, R"("tool_choice":"required")")).param, "tool_choice");
  // Without tools, "auto" and "none" ask for what happens anyway.
  EXPECT_FALSE(request(chat(kHello, R"("tool_choice":"none")")).contains("tool_choice"));
}

// ---------------------------------------------------------------------------------------------
// Request: the other fields

TEST(AnthropicRequest, TheModelIsTheDeployments) {
  EXPECT_EQ(request(chat(kHello), "claude-opus-4-1").at("model"), "claude-opus-4-1");
}

TEST(AnthropicRequest, MaxTokensComesFromEitherFieldOrTheDefault) {
  EXPECT_EQ(request(chat(kHello, R"("max_tokens":300)")).at("max_tokens"), 300);
  EXPECT_EQ(
      request(chat(kHello, R"("max_completion_tokens":200,"max_tokens":300)")).at("max_tokens"),
      200);
  EXPECT_EQ(request(chat(kHello)).at("max_tokens"), 4096);
  RequestOptions options;
  options.model = "m";
  options.default_max_tokens = 1000;
  auto r = translate_request(chat(kHello), options);
  ASSERT_TRUE(r);
  EXPECT_EQ(to_json(r->body).at("max_tokens"), 1000);

  EXPECT_EQ(refused(chat(kHello, R"("max_tokens":0)")).param, "max_tokens");
  EXPECT_EQ(refused(chat(kHello, R"("max_completion_tokens":-5)")).param, "max_completion_tokens");
  EXPECT_EQ(refused(chat(kHello, R"("max_tokens":"100")")).param, "max_tokens");
  EXPECT_EQ(refused(chat(kHello, R"("max_tokens":1.5)")).param, "max_tokens");
}

TEST(AnthropicRequest, TemperatureAboveOneIsAsHighAsAnthropicGoes) {
  auto number = [](std::string_view extra, std::string_view key) {
    return request(chat(kHello, extra)).at(key).to_number<double>();
  };
  EXPECT_EQ(number(R"("temperature":0.3)", "temperature"), 0.3);
  EXPECT_EQ(number(R"("temperature":1.7)", "temperature"), 1.0);
  EXPECT_EQ(number(R"("temperature":1)", "temperature"), 1.0);
  EXPECT_EQ(number(R"("temperature":0)", "temperature"), 0.0);
  EXPECT_EQ(number(R"("top_p":0.9)", "top_p"), 0.9);
  EXPECT_EQ(number(R"("top_p":1e-3)", "top_p"), 0.001);
  EXPECT_FALSE(request(chat(kHello, R"("temperature":null)")).contains("temperature"));
  EXPECT_EQ(refused(chat(kHello, R"("temperature":2.5)")).param, "temperature");
  EXPECT_EQ(refused(chat(kHello, R"("temperature":-0.1)")).param, "temperature");
  EXPECT_EQ(refused(chat(kHello, R"("temperature":"hot")")).param, "temperature");
  EXPECT_EQ(refused(chat(kHello, R"("top_p":1.5)")).param, "top_p");
}

TEST(AnthropicRequest, StopBecomesStopSequences) {
  EXPECT_EQ(request(chat(kHello, R"("stop":"END")")).at("stop_sequences"), to_json(R"(["END"])"));
  EXPECT_EQ(request(chat(kHello, R"("stop":["a","b"])")).at("stop_sequences"),
            to_json(R"(["a","b"])"));
  EXPECT_FALSE(request(chat(kHello, R"("stop":[])")).contains("stop_sequences"));
  EXPECT_FALSE(request(chat(kHello, R"("stop":null)")).contains("stop_sequences"));
  EXPECT_EQ(refused(chat(kHello, R"("stop":5)")).param, "stop");
  EXPECT_EQ(refused(chat(kHello, R"("stop":["a",1])")).param, "stop");
}

TEST(AnthropicRequest, StreamAndItsUsageChunk) {
  RequestOptions options;
  options.model = "m";
  auto r = translate_request(
      chat(kHello, R"("stream":true,"stream_options":{"include_usage":true})"), options);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(to_json(r->body).at("stream"), true);
  EXPECT_FALSE(to_json(r->body).get_object().contains("stream_options"));

  r = translate_request(chat(kHello, R"("stream_options":{"include_usage":true})"), options);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->stream);
  EXPECT_FALSE(r->include_usage);
  EXPECT_FALSE(to_json(r->body).get_object().contains("stream"));

  EXPECT_EQ(refused(chat(kHello, R"("stream":"yes")")).param, "stream");
  EXPECT_EQ(refused(chat(kHello, R"("stream":true,"stream_options":{"include_usage":1})")).param,
            "stream_options.include_usage");
}

TEST(AnthropicRequest, TheUserIsMetadataUserId) {
  EXPECT_EQ(request(chat(kHello, R"("user":"user-123")")).at("metadata"),
            to_json(R"({"user_id":"user-123"})"));
  EXPECT_EQ(request(chat(kHello, R"("safety_identifier":"hash-9")")).at("metadata"),
            to_json(R"({"user_id":"hash-9"})"));
  EXPECT_EQ(refused(chat(kHello, R"("user":7)")).param, "user");
}

TEST(AnthropicRequest, FieldsThatOnlyTuneOpenAisServiceAreDropped) {
  json::object r = request(chat(
      kHello,
      R"("seed":7,"frequency_penalty":0.5,"presence_penalty":0.2,"store":true,"service_tier":"flex",)"
      R"("metadata":{"team":"a"},"prediction":{"type":"content","content":"x"},"prompt_cache_key":"k",)"
      R"("reasoning_effort":"low","verbosity":"low","n":1,"logprobs":false,"top_logprobs":0,)"
      R"("logit_bias":{},"response_format":{"type":"text"},"modalities":["text"],"parallel_tool_calls":true)"));
  EXPECT_EQ(json::value(r), to_json(R"({"model":"claude-sonnet-4-5","max_tokens":4096,
                         "messages":[{"role":"user","content":"Hello"}]})"));
}

TEST(AnthropicRequest, AnthropicsOwnFieldsPassThrough) {
  json::object r =
      request(chat(kHello, R"("top_k":40,"thinking":{"type":"enabled","budget_tokens":2048})"));
  EXPECT_EQ(r.at("top_k"), 40);
  EXPECT_EQ(r.at("thinking"), to_json(R"({"type":"enabled","budget_tokens":2048})"));
  EXPECT_EQ(refused(chat(kHello, R"("top_k":"many")")).param, "top_k");
  EXPECT_EQ(refused(chat(kHello, R"("thinking":true)")).param, "thinking");
}

TEST(AnthropicRequest, WhatWouldChangeTheAnswerIsRefusedByName) {
  struct Case {
    std::string_view extra;
    std::string_view param;
  };
  for (const Case& c : {
           Case{R"("n":2)", "n"},
           Case{R"("logprobs":true)", "logprobs"},
           Case{R"("top_logprobs":3)", "top_logprobs"},
           Case{R"("response_format":{"type":"json_object"})", "response_format"},
           Case{
               R"("response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{}}})",
               "response_format"},
           Case{R"("audio":{"voice":"alloy","format":"wav"})", "audio"},
           Case{R"("modalities":["text","audio"])", "modalities"},
           Case{R"("functions":[{"name":"f"}])", "functions"},
           Case{R"("function_call":"auto")", "function_call"},
           Case{R"("logit_bias":{"50256":-100})", "logit_bias"},
           Case{R"("web_search_options":{})", "web_search_options"},
       }) {
    SCOPED_TRACE(c.extra);
    core::Error e = refused(chat(kHello, c.extra));
    EXPECT_EQ(e.code, Errc::kInvalidRequest);
    EXPECT_EQ(e.param, c.param);
    EXPECT_EQ(api::http_status(e), 400);
    EXPECT_NE(e.message.find("Anthropic"), std::string::npos) << e.message;
  }
  EXPECT_EQ(refused(chat(kHello, R"("n":0)")).param, "n");
  EXPECT_EQ(refused(chat(kHello, R"("response_format":{"type":"yaml"})")).param,
            "response_format.type");
}

TEST(AnthropicRequest, BodiesThatAreNotChatRequestsAreRefused) {
  for (std::string_view body :
       {"", "{", "not json", "[1,2]", "\"text\"", R"({"model":"m"})",
        R"({"model":"m","messages":null})", R"({"model":"m","messages":{"role":"user"}})"}) {
    SCOPED_TRACE(body);
    core::Error e = refused(body);
    EXPECT_EQ(e.code, Errc::kInvalidRequest);
    EXPECT_EQ(api::http_status(e), 400);
  }
  EXPECT_EQ(refused(R"({"model":"m"})").param, "messages");
}

TEST(AnthropicRequest, TextKeepsItsBytes) {
  json::object r = request(
      chat(R"([{"role":"user","content":"東京の天気は？ 🌧️ \"quoted\" \\ tab\t"}])"));
  EXPECT_EQ(r.at("messages").at(0).at("content"),
            "東京の天気は？ 🌧️ \"quoted\" \\ tab\t");
}

// ---------------------------------------------------------------------------------------------
// Response

TEST(AnthropicResponse, StopReasonsBecomeFinishReasons) {
  struct Case {
    std::string_view stop_reason;
    std::string_view finish_reason;
  };
  for (const Case& c :
       {Case{"end_turn", "stop"}, Case{"stop_sequence", "stop"}, Case{"max_tokens", "length"},
        Case{"tool_use", "tool_calls"}, Case{"refusal", "content_filter"},
        Case{"pause_turn", "stop"}, Case{"model_context_window_exceeded", "length"},
        Case{"a_reason_added_later", "stop"}}) {
    SCOPED_TRACE(c.stop_reason);
    json::object a = answer(message(R"([{"type":"text","text":"x"}])", c.stop_reason));
    EXPECT_EQ(a.at("choices").at(0).at("finish_reason"), json::value(c.finish_reason));
  }
}

TEST(AnthropicResponse, AReplyOfToolCallsOnlyHasNullContent) {
  json::object a = answer(
      message(R"([{"type":"tool_use","id":"toolu_1","name":"f","input":{"a":[1,{"b":"東京"}]}},)"
              R"({"type":"tool_use","id":"toolu_2","name":"g","input":{}}])",
              "tool_use"));
  const json::object& m = message_of(a);
  EXPECT_TRUE(m.at("content").is_null());
  ASSERT_EQ(m.at("tool_calls").get_array().size(), 2u);
  EXPECT_EQ(m.at("tool_calls").at(0).at("function").at("arguments"), R"({"a":[1,{"b":"東京"}]})");
  EXPECT_EQ(m.at("tool_calls").at(1).at("function").at("arguments"), "{}");
  EXPECT_EQ(m.at("tool_calls").at(1).at("id"), "toolu_2");
}

TEST(AnthropicResponse, TextBlocksConcatenateAndBlocksWithoutCounterpartAreLeftOut) {
  json::object a = answer(message(
      R"([{"type":"redacted_thinking","data":"EmwKAhgB..."},)"
      R"({"type":"text","text":"I'll search. "},)"
      R"({"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"x"}},)"
      R"({"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[]},)"
      R"({"type":"text","text":"Found it.","citations":[]}])"));
  const json::object& m = message_of(a);
  EXPECT_EQ(m.at("content"), "I'll search. Found it.");
  EXPECT_FALSE(m.contains("tool_calls"));
  EXPECT_FALSE(m.contains("reasoning_content"));
}

TEST(AnthropicResponse, AnEmptyAnswerHasEmptyContent) {
  json::object a = answer(message("[]", "max_tokens"));
  EXPECT_EQ(message_of(a).at("content"), "");
  EXPECT_EQ(a.at("choices").at(0).at("finish_reason"), "length");
}

TEST(AnthropicResponse, WhatIsNotAMessageIsAProtocolError) {
  for (
      std::string_view body :
      {"", "<html>", "[]", R"({"type":"error","error":{"type":"api_error","message":"boom"}})",
       R"({"type":"completion","id":"x"})", R"({"id":"m","model":"c","stop_reason":"end_turn"})",
       R"({"id":"m","model":"c","content":[],"stop_reason":null})",
       R"({"id":"m","model":"c","content":[1],"stop_reason":"end_turn"})",
       R"({"id":"m","model":"c","content":[{"type":"tool_use","input":{}}],"stop_reason":"tool_use"})"}) {
    SCOPED_TRACE(body);
    auto r = translate_response(body, kCreated);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kUpstreamProtocol);
  }
  auto r = translate_response(R"({"type":"error","error":{"type":"api_error","message":"boom"}})",
                              kCreated);
  EXPECT_NE(r.error().message.find("boom"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(AnthropicError, StatusesByWhoseFaultItIs) {
  struct Case {
    int anthropic;
    int client;
    std::string_view type;
  };
  for (const Case& c : {Case{400, 400, "invalid_request_error"}, Case{401, 502, "server_error"},
                        Case{402, 502, "server_error"}, Case{403, 502, "server_error"},
                        Case{404, 404, "invalid_request_error"},
                        Case{413, 413, "invalid_request_error"}, Case{429, 429, "rate_limit_error"},
                        Case{500, 502, "server_error"}, Case{503, 503, "server_error"},
                        Case{504, 504, "server_error"}, Case{529, 503, "server_error"},
                        Case{200, 502, "server_error"}, Case{600, 502, "server_error"}}) {
    SCOPED_TRACE(c.anthropic);
    TranslatedReply r =
        translate_error(c.anthropic, R"({"type":"error","error":{"type":"x","message":"m"}})");
    EXPECT_EQ(r.status, c.client);
    EXPECT_EQ(to_json(r.body).at("error").at("type"), json::value(c.type));
  }
}

TEST(AnthropicError, BodiesThatAreNotAnthropicsSayWhatCameBack) {
  json::value empty = to_json(translate_error(502, "").body);
  EXPECT_EQ(empty.at("error").at("message"), "Anthropic answered HTTP 502 with an empty body");

  json::value proxy = to_json(translate_error(503, R"({"message":"upstream connect error"})").body);
  EXPECT_EQ(proxy.at("error").at("message"), "Anthropic answered HTTP 503: upstream connect error");

  std::string long_body(500, 'x');
  std::string quoted =
      to_json(translate_error(502, long_body).body).at("error").at("message").as_string().c_str();
  EXPECT_EQ(quoted, "Anthropic answered HTTP 502 with a body that is not JSON: " +
                        std::string(200, 'x') + "...");

  json::value other = to_json(translate_error(500, R"({"status":"down"})").body);
  EXPECT_EQ(
      other.at("error").at("message"),
      R"(Anthropic answered HTTP 500 with a body that is not an Anthropic error: {"status":"down"})");
}

TEST(AnthropicError, ErrorTypesHaveTheStatusTheirHttpAnswerWouldGet) {
  EXPECT_EQ(error_type_status("invalid_request_error"), 400);
  EXPECT_EQ(error_type_status("authentication_error"), 502);
  EXPECT_EQ(error_type_status("billing_error"), 502);
  EXPECT_EQ(error_type_status("permission_error"), 502);
  EXPECT_EQ(error_type_status("not_found_error"), 404);
  EXPECT_EQ(error_type_status("request_too_large"), 413);
  EXPECT_EQ(error_type_status("rate_limit_error"), 429);
  EXPECT_EQ(error_type_status("api_error"), 502);
  EXPECT_EQ(error_type_status("overloaded_error"), 503);
  EXPECT_EQ(error_type_status("timeout_error"), 504);
  EXPECT_EQ(error_type_status("something_new"), 502);
}

// ---------------------------------------------------------------------------------------------
// Stream

TEST(AnthropicStream, MultiByteTextComesOutByteForByte) {
  const std::string text = "你好，世界 👋🏽 naïve — ∑";
  std::string sse = stream(text_block(0, "\"" + text + "\"") + end_of_stream());
  Streamed s = translate_stream(sse, false);
  ASSERT_TRUE(s.result) << s.result.error().message;
  // The bytes themselves, not an escaped form of them.
  EXPECT_NE(s.out.find(R"("content":")" + text + "\""), std::string::npos) << s.out;
  auto assembled = cache::assemble(Endpoint::kChatCompletions, s.out);
  ASSERT_TRUE(assembled);
  EXPECT_EQ(message_of(to_json(*assembled).get_object()).at("content"), json::value(text));

  // Escaped in Anthropic's JSON, the same characters come out as the same text.
  std::string escaped = stream(text_block(0, R"("\u4f60\u597d \ud83d\udc4b")") + end_of_stream());
  s = translate_stream(escaped, false);
  ASSERT_TRUE(s.result);
  EXPECT_NE(s.out.find(R"("content":"你好 👋")"), std::string::npos) << s.out;
}

TEST(AnthropicStream, SpecialCharactersAreEscaped) {
  std::string sse =
      stream(text_block(0, R"("quote \" backslash \\ newline \n tab \t bell \u0007 slash /")") +
             end_of_stream());
  Streamed s = translate_stream(sse, false);
  ASSERT_TRUE(s.result);
  auto assembled = cache::assemble(Endpoint::kChatCompletions, s.out);
  ASSERT_TRUE(assembled);
  EXPECT_EQ(message_of(to_json(*assembled).get_object()).at("content"),
            "quote \" backslash \\ newline \n tab \t bell \a slash /");
}

TEST(AnthropicStream, ToolsAreNumberedInOrderAndServerToolsAreLeftOut) {
  std::string sse = stream(
      text_block(0, R"("Searching.")") +
      event("content_block_start",
            R"({"type":"content_block_start","index":1,"content_block":{"type":"server_tool_use",)"
            R"("id":"srvtoolu_1","name":"web_search","input":{}}})") +
      event("content_block_delta",
            R"({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta",)"
            R"("partial_json":"{\"query\":\"x\"}"}})") +
      event("content_block_stop", R"({"type":"content_block_stop","index":1})") +
      event("content_block_start",
            R"({"type":"content_block_start","index":2,"content_block":{"type":"tool_use",)"
            R"("id":"toolu_a","name":"lookup","input":{}}})") +
      event("content_block_delta",
            R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta",)"
            R"("partial_json":"{\"city\": \"東"}})") +
      event("content_block_delta",
            R"({"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta",)"
            R"("partial_json":"京\"}"}})") +
      event("content_block_stop", R"({"type":"content_block_stop","index":2})") +
      // A tool without parameters: its input came whole at the start, no JSON streams.
      event("content_block_start",
            R"({"type":"content_block_start","index":3,"content_block":{"type":"tool_use",)"
            R"("id":"toolu_b","name":"now","input":{}}})") +
      event("content_block_delta",
            R"({"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta",)"
            R"("partial_json":""}})") +
      event("content_block_stop", R"({"type":"content_block_stop","index":3})") +
      end_of_stream("tool_use"));
  Streamed s = translate_stream(sse, false);
  ASSERT_TRUE(s.result) << s.result.error().message;
  auto assembled = cache::assemble(Endpoint::kChatCompletions, s.out);
  ASSERT_TRUE(assembled) << assembled.error().message;
  json::object a = to_json(*assembled).get_object();
  EXPECT_EQ(json::value(message_of(a)),
            to_json(R"({"role":"assistant","content":"Searching.","tool_calls":[
      {"id":"toolu_a","type":"function","function":{"name":"lookup","arguments":"{\"city\": \"東京\"}"}},
      {"id":"toolu_b","type":"function","function":{"name":"now","arguments":"{}"}}]})"));
  EXPECT_EQ(a.at("choices").at(0).at("finish_reason"), "tool_calls");
  // The indexes OpenAI's clients assemble by: 0 and 1, not Anthropic's block numbers 2 and 3.
  EXPECT_NE(s.out.find(R"({"tool_calls":[{"index":1,"id":"toolu_b")"), std::string::npos);
}

TEST(AnthropicStream, WhatHasNoCounterpartIsIgnored) {
  std::string sse = stream(
      ": a comment\n\n" + event("ping", R"({"type":"ping"})") +
      event("a_new_event", R"({"type":"a_new_event","detail":{"x":1}})") +
      event(
          "content_block_start",
          R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})") +
      event("content_block_delta",
            R"({"type":"content_block_delta","index":0,"delta":{"type":"citations_delta",)"
            R"("citation":{"type":"char_location","cited_text":"x"}}})") +
      event(
          "content_block_delta",
          R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}})") +
      event("content_block_stop", R"({"type":"content_block_stop","index":0})") +
      event(
          "content_block_start",
          R"({"type":"content_block_start","index":1,"content_block":{"type":"redacted_thinking",)"
          R"("data":"EmwK..."}})") +
      event("content_block_stop", R"({"type":"content_block_stop","index":1})") + end_of_stream() +
      event("ping", R"({"type":"ping"})"));
  Streamed s = translate_stream(sse, false);
  ASSERT_TRUE(s.result) << s.result.error().message;
  std::vector<json::value> evs = events_of(s.out);
  ASSERT_EQ(evs.size(), 4u) << s.out;  // role, "ok", finish, [DONE]
  EXPECT_EQ(evs[1].at("choices").at(0).at("delta"), to_json(R"({"content":"ok"})"));
}

TEST(AnthropicStream, ACutStreamIsNotPassedOffAsWhole) {
  std::string sse = stream(text_block(0, R"("Hel")"));
  Streamed s = translate_stream(sse, true);
  ASSERT_FALSE(s.result);
  EXPECT_EQ(s.result.error().code, Errc::kUpstreamProtocol);
  EXPECT_EQ(s.out.find("[DONE]"), std::string::npos);

  // message_delta came, message_stop did not.
  std::string no_stop = stream(
      text_block(0, R"("Hel")") +
      event("message_delta", R"({"type":"message_delta","delta":{"stop_reason":"end_turn"}})"));
  s = translate_stream(no_stop, false);
  ASSERT_FALSE(s.result);
  EXPECT_EQ(s.result.error().code, Errc::kUpstreamProtocol);

  // message_stop without a stop_reason first.
  std::string no_reason =
      stream(text_block(0, R"("Hel")") + event("message_stop", R"({"type":"message_stop"})"));
  s = translate_stream(no_reason, false);
  ASSERT_FALSE(s.result);
  EXPECT_EQ(s.result.error().code, Errc::kUpstreamProtocol);
}

TEST(AnthropicStream, MalformedEventsAreProtocolErrors) {
  const std::string before_start = event(
      "content_block_start",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
  for (
      const std::string& sse : {
          before_start,
          stream("data: {not json\n\n"),
          stream("data: [1]\n\n"),
          stream("event: content_block_delta\ndata: {\"type\":\"content_block_delta\""),
          stream(event(
              "content_block_delta",
              R"({"type":"content_block_delta","index":4,"delta":{"type":"text_delta","text":"x"}})")),
          stream(event(
              "content_block_start",
              R"({"type":"content_block_start","index":-1,"content_block":{"type":"text"}})")),
          stream(event(
              "content_block_start",
              R"({"type":"content_block_start","index":0,"content_block":{"type":"tool_use"}})")),
          stream(event("message_start",
                       R"({"type":"message_start","message":{"id":"a","model":"b"}})")),
          event("message_start", R"({"type":"message_start","message":{"id":"a"}})"),
      }) {
    SCOPED_TRACE(sse);
    Streamed s = translate_stream(sse, false);
    ASSERT_FALSE(s.result);
    EXPECT_EQ(s.result.error().code, Errc::kUpstreamProtocol);
  }
  // Pings may come before message_start.
  Streamed ping_first = translate_stream(
      event("ping", R"({"type":"ping"})") + stream(text_block(0, R"("x")") + end_of_stream()),
      false);
  EXPECT_TRUE(ping_first.result);
}

TEST(AnthropicStream, ErrorEventsCarryTheStatusOfTheirType) {
  struct Case {
    std::string_view error;
    int status;
    std::string_view message;
  };
  for (const Case& c :
       {Case{R"({"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}})", 429,
             "Slow down"},
        Case{R"({"type":"error","error":{"type":"api_error","message":"Internal"}})", 502,
             "Internal"},
        Case{R"({"type":"error","error":{"type":"overloaded_error"}})", 503,
             "Anthropic's stream failed with overloaded_error"},
        Case{R"({"type":"error"})", 502, "Anthropic's stream failed"}}) {
    SCOPED_TRACE(c.error);
    Streamed s = translate_stream(stream(text_block(0, R"("x")") + event("error", c.error)), false);
    ASSERT_FALSE(s.result);
    EXPECT_EQ(s.result.error().code, Errc::kUpstreamError);
    EXPECT_EQ(s.result.error().status, c.status);
    EXPECT_EQ(s.result.error().message, c.message);
  }
}

// The same stream without its `event:` lines: every event then goes through the parser, none
// through the compact-delta match.
std::string without_event_names(std::string_view sse) {
  std::string out;
  for (std::size_t at = 0; at < sse.size();) {
    std::size_t end = sse.find('\n', at);
    end = end == std::string_view::npos ? sse.size() : end + 1;
    std::string_view line = sse.substr(at, end - at);
    if (!line.starts_with("event:")) out += line;
    at = end;
  }
  return out;
}

TEST(AnthropicStream, CompactDeltasReadAsTheParserReadsThem) {
  // Each a text delta's JSON string as Anthropic may write it.
  for (std::string_view text : {R"("plain words")", R"("line\nbreak and \"quotes\" \\ \/ \t")",
                                R"("\u00e9\u4f60 escaped")", R"("\ud83d\udc4b a surrogate pair")",
                                R"("raw UTF-8: é 你好 👋🏽")", R"("\u0000 nul")", R"("")"}) {
    SCOPED_TRACE(text);
    std::string sse = stream(
        event(
            "content_block_start",
            R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})") +
        event("content_block_delta",
              R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":)" +
                  std::string(text) + "}}") +
        event("content_block_stop", R"({"type":"content_block_stop","index":0})") +
        end_of_stream());
    Streamed matched = translate_stream(sse, false);
    Streamed parsed = translate_stream(without_event_names(sse), false);
    ASSERT_TRUE(matched.result) << matched.result.error().message;
    ASSERT_TRUE(parsed.result) << parsed.result.error().message;
    expect_same_events(matched.out, parsed.out);
  }
  // Tool input and thinking take the same path; an index past 9 too.
  std::string sse =
      stream(event("content_block_start",
                   R"({"type":"content_block_start","index":12,"content_block":{"type":"tool_use",)"
                   R"("id":"toolu_1","name":"f","input":{}}})") +
             event("content_block_delta",
                   R"({"type":"content_block_delta","index":12,"delta":{"type":"input_json_delta",)"
                   R"("partial_json":"{\"q\": \"x\"}"}})") +
             event("content_block_stop", R"({"type":"content_block_stop","index":12})") +
             event("content_block_start",
                   R"({"type":"content_block_start","index":13,"content_block":{"type":"thinking",)"
                   R"("thinking":""}})") +
             event("content_block_delta",
                   R"({"type":"content_block_delta","index":13,"delta":{"type":"thinking_delta",)"
                   R"("thinking":"Hmm.\n"}})") +
             event("content_block_stop", R"({"type":"content_block_stop","index":13})") +
             end_of_stream("tool_use"));
  Streamed matched = translate_stream(sse, true);
  Streamed parsed = translate_stream(without_event_names(sse), true);
  ASSERT_TRUE(matched.result) << matched.result.error().message;
  ASSERT_TRUE(parsed.result) << parsed.result.error().message;
  EXPECT_EQ(matched.out, parsed.out);  // nothing to escape differently: the same bytes
}

TEST(AnthropicStream, DeltasThatAreNotValidJsonFailEitherWay) {
  for (std::string_view text : {"\"\xff\xfe bad UTF-8\"", R"("bad escape \x")", "\"raw\ttab\"",
                                R"("lone \ud800 surrogate")", R"("unterminated)"}) {
    SCOPED_TRACE(text);
    std::string sse = stream(
        event(
            "content_block_start",
            R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})") +
        event("content_block_delta",
              R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":)" +
                  std::string(text) + "}}") +
        end_of_stream());
    Streamed s = translate_stream(sse, false);
    ASSERT_FALSE(s.result);
    EXPECT_EQ(s.result.error().code, Errc::kUpstreamProtocol);
  }
}

TEST(AnthropicStream, ManyLargeEventsReadOneAfterAnother) {
  // Events that outgrow the parser's first arena block, more than a few dozen of them: each is
  // parsed into an arena of its own (Boost 1.81's monotonic_resource doubles its next block
  // across release(), so reusing one asked for terabytes after some forty such events).
  const std::string big(6000, 'x');
  std::string body = event(
      "content_block_start",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
  for (int i = 0; i < 60; ++i) {
    // Spaced, so they take the parser rather than the compact-delta match.
    body += event(
        "content_block_delta",
        R"({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ")" +
            big + R"("}})");
  }
  body += event("content_block_stop", R"({"type":"content_block_stop","index":0})");
  Streamed s = translate_stream(stream(body + end_of_stream()), false, true);
  ASSERT_TRUE(s.result) << s.result.error().message;
  std::size_t content = 0;
  for (const json::value& ev : events_of(s.out)) {
    if (ev.is_string()) continue;  // [DONE]
    const json::value* text =
        ev.at("choices").at(0).at("delta").get_object().if_contains("content");
    if (text != nullptr) content += text->as_string().size();
  }
  EXPECT_EQ(content, 60 * big.size());
}

TEST(AnthropicStream, AnyGroupingOfEventsGivesTheSameBytes) {
  const std::string input = golden("stream_tool_use.sse");
  const std::string whole = translate_stream(input, true).out;
  std::vector<std::string_view> evs = raw_events(input);
  for (std::size_t group : {2u, 3u, 7u}) {
    SCOPED_TRACE(group);
    StreamTranslator t(true, kCreated);
    std::string out;
    for (std::size_t i = 0; i < evs.size(); i += group) {
      const char* begin = evs[i].data();
      const std::size_t last = std::min(i + group, evs.size()) - 1;
      const char* end = evs[last].data() + evs[last].size();
      ASSERT_TRUE(t.feed(std::string_view(begin, static_cast<std::size_t>(end - begin)), out));
    }
    ASSERT_TRUE(t.finish(out));
    EXPECT_EQ(out, whole);
  }
}

TEST(AnthropicStream, LineEndingsOtherThanNewlineReadTheSame) {
  std::string input = golden("stream_text.sse");
  std::string crlf;
  for (char c : input) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  EXPECT_EQ(translate_stream(crlf, false).out, translate_stream(input, false).out);
}

}  // namespace
}  // namespace sluice::provider::anthropic
