#include "api/anthropic_messages.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "api/errors.h"
#include "cache/stream_assembly.h"
#include "http/sse.h"

namespace sluice::api::messages {
namespace {

namespace json = boost::json;
using core::Errc;

constexpr std::string_view kModel = "claude-sonnet-4-5";

std::string golden(const std::string& name) {
  const std::filesystem::path path =
      std::filesystem::path(SLUICE_SOURCE_DIR) / "tests/golden/messages" / name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "missing golden file " << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Event {
  std::string name;
  json::value data;
};

// An Anthropic stream as its client reads it: every event named, its data one JSON object.
std::vector<Event> events_of(std::string_view sse) {
  std::vector<Event> out;
  http::SseEventReader reader(sse);
  http::SseEvent ev;
  while (reader.next(ev)) {
    if (!ev.has_data) continue;
    EXPECT_TRUE(ev.whole) << ev.raw;
    boost::system::error_code ec;
    json::value data = json::parse(ev.data, ec);
    EXPECT_FALSE(ec) << ev.data;
    out.push_back({std::string(ev.name), std::move(data)});
  }
  return out;
}

// Feeds a whole OpenAI stream and finishes it; fails the test on an error.
std::string translate(std::string_view sse) {
  StreamTranslator t(kModel);
  std::string out;
  auto fed = t.feed(sse, out);
  EXPECT_TRUE(fed) << fed.error().message;
  auto finished = t.finish(out);
  EXPECT_TRUE(finished) << finished.error().message;
  return out;
}

// What @anthropic-ai/sdk's MessageStream makes of the events (#accumulateMessage in
// src/lib/MessageStream.ts): message_start's message is the snapshot; content_block_start
// pushes its block (so the indexes must run 0, 1, 2 ...); deltas are applied to content[index]
// (text and thinking concatenate, partial_json concatenates and is parsed: at the block's stop
// here, when it is whole); message_delta sets stop_reason, stop_sequence, output_tokens and the
// other counts it carries. The SDK refuses events out of order; so does this.
json::value accumulate(std::string_view sse) {
  std::optional<json::object> snapshot;
  std::vector<std::string> json_bufs;
  std::optional<std::size_t> open;
  bool stopped = false;
  for (Event& e : events_of(sse)) {
    EXPECT_FALSE(stopped) << "an event after message_stop: " << e.name;
    const json::object& d = e.data.as_object();
    EXPECT_EQ(d.at("type").as_string(), e.name) << "the SSE name and the data's type differ";
    if (e.name == "ping") continue;
    if (e.name == "message_start") {
      EXPECT_FALSE(snapshot) << "message_start twice";
      snapshot = d.at("message").as_object();
      continue;
    }
    if (!snapshot) {
      ADD_FAILURE() << e.name << " before message_start";
      return nullptr;
    }
    json::array& content = snapshot->at("content").as_array();
    if (e.name == "content_block_start") {
      EXPECT_FALSE(open) << "a block started while another is open";
      EXPECT_EQ(d.at("index").as_int64(), static_cast<std::int64_t>(content.size()));
      content.push_back(d.at("content_block"));
      json_bufs.emplace_back();
      open = content.size() - 1;
    } else if (e.name == "content_block_delta") {
      const auto index = static_cast<std::size_t>(d.at("index").as_int64());
      EXPECT_EQ(open, index) << "a delta for a block that is not open";
      if (index >= content.size()) return nullptr;
      json::object& block = content[index].as_object();
      const json::object& delta = d.at("delta").as_object();
      const json::string& type = delta.at("type").as_string();
      if (type == "text_delta") {
        EXPECT_EQ(block.at("type"), "text");
        std::string text(block.at("text").as_string());
        text += delta.at("text").as_string();
        block["text"] = text;
      } else if (type == "thinking_delta") {
        EXPECT_EQ(block.at("type"), "thinking");
        std::string text(block.at("thinking").as_string());
        text += delta.at("thinking").as_string();
        block["thinking"] = text;
      } else if (type == "input_json_delta") {
        EXPECT_EQ(block.at("type"), "tool_use");
        json_bufs[index] += delta.at("partial_json").as_string();
      } else {
        ADD_FAILURE() << "unexpected delta " << type;
      }
    } else if (e.name == "content_block_stop") {
      const auto index = static_cast<std::size_t>(d.at("index").as_int64());
      EXPECT_EQ(open, index);
      open.reset();
      if (index < content.size() && !json_bufs[index].empty()) {
        content[index].as_object()["input"] = json::parse(json_bufs[index]);
      }
    } else if (e.name == "message_delta") {
      const json::object& delta = d.at("delta").as_object();
      snapshot->at("stop_reason") = delta.at("stop_reason");
      snapshot->at("stop_sequence") = delta.at("stop_sequence");
      json::object& usage = snapshot->at("usage").as_object();
      for (const auto& kv : d.at("usage").as_object()) usage[kv.key()] = kv.value();
    } else if (e.name == "message_stop") {
      stopped = true;
    } else {
      ADD_FAILURE() << "unexpected event " << e.name;
    }
  }
  EXPECT_TRUE(stopped) << "no message_stop";
  EXPECT_FALSE(open) << "a block was left open";
  if (!snapshot) return nullptr;
  return *snapshot;
}

json::value message_of(std::string_view chat_completion) {
  auto m = to_message(chat_completion, kModel);
  EXPECT_TRUE(m) << m.error().message;
  return m ? json::parse(*m) : json::value();
}

core::Error request_error(std::string_view body) {
  auto r = to_chat_request(body);
  EXPECT_FALSE(r) << "accepted: " << body;
  return r ? core::Error() : r.error();
}

json::value chat_body(std::string_view messages_body) {
  auto r = to_chat_request(messages_body);
  EXPECT_TRUE(r) << r.error().message;
  return r ? json::parse(r->body) : json::value();
}

// ---------------------------------------------------------------------------------------------
// Golden files

TEST(MessagesGolden, RequestsBecomeTheExpectedChatBodies) {
  for (const char* name : {"simple", "multi_turn", "system", "images", "tools_stream",
                           "tool_result", "tool_error", "thinking_tools", "streaming"}) {
    SCOPED_TRACE(name);
    const std::string in = golden(std::string("requests/") + name + ".json");
    auto r = to_chat_request(in);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(json::parse(r->body),
              json::parse(golden(std::string("requests/") + name + ".expected.json")));
    const bool stream = json::parse(in).as_object().contains("stream");
    EXPECT_EQ(r->stream, stream);
    EXPECT_EQ(r->include_usage, stream);
  }
}

TEST(MessagesGolden, AnswersBecomeTheExpectedMessages) {
  for (const char* name : {"text", "tool_calls", "cached", "reasoning"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(message_of(golden(std::string("answers/") + name + ".json")),
              json::parse(golden(std::string("answers/") + name + ".expected.json")));
  }
}

constexpr const char* kStreams[] = {"text",    "text_usage", "tool_calls",
                                    "refusal", "reasoning",  "multibyte"};

TEST(MessagesGolden, StreamsBecomeTheExpectedEvents) {
  for (const char* name : kStreams) {
    SCOPED_TRACE(name);
    const std::vector<Event> got =
        events_of(translate(golden(std::string("streams/") + name + ".sse")));
    const std::vector<Event> want =
        events_of(golden(std::string("streams/") + name + ".expected.sse"));
    ASSERT_EQ(got.size(), want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].name, want[i].name) << "event " << i;
      EXPECT_EQ(got[i].data, want[i].data) << "event " << i;
    }
  }
}

TEST(MessagesGolden, EventsAreWrittenAsAnthropicSendsThem) {
  const std::string out = translate(golden("streams/text_usage.sse"));
  EXPECT_EQ(out.substr(0, 50), "event: message_start\ndata: {\"type\":\"message_start\"");
  EXPECT_NE(out.find("\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\","
                     "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"),
            std::string::npos);
  const std::string_view stop = "\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
  ASSERT_GT(out.size(), stop.size());
  EXPECT_EQ(out.substr(out.size() - stop.size()), stop);
}

// The bytes of an upstream stream arrive cut anywhere, mid-event and mid-character; the caller
// hands whole events over (http::SseSplitter), and the result must not depend on the cuts.
TEST(MessagesGolden, StreamsCutAnywhereGiveTheSameEvents) {
  for (const char* name : kStreams) {
    SCOPED_TRACE(name);
    const std::string sse = golden(std::string("streams/") + name + ".sse");
    const std::string whole = translate(sse);
    for (std::size_t step : {1, 2, 3, 5, 7, 64}) {
      StreamTranslator t(kModel);
      http::SseSplitter splitter;
      std::string pending;
      std::string out;
      for (std::size_t at = 0; at < sse.size(); at += step) {
        pending.append(sse, at, step);
        const std::size_t n = splitter.complete_prefix(pending);
        if (n == 0) continue;
        ASSERT_TRUE(t.feed(std::string_view(pending).substr(0, n), out));
        pending.erase(0, n);
        splitter.consumed(n);
      }
      ASSERT_TRUE(t.finish(out));
      EXPECT_EQ(out, whole) << "step " << step;
    }
  }
}

// The SDK's accumulation of a translated stream is the message to_message() gives for the same
// answer unstreamed: the answer the gateway's cache assembles from the stream, or the stream the
// cache synthesizes from a stored answer.
TEST(MessagesGolden, AccumulatedStreamsEqualTheUnstreamedMessage) {
  for (const char* name : kStreams) {
    SCOPED_TRACE(name);
    const std::string sse = golden(std::string("streams/") + name + ".sse");
    auto answer = cache::assemble(Endpoint::kChatCompletions, sse);
    ASSERT_TRUE(answer) << answer.error().message;
    EXPECT_EQ(accumulate(translate(sse)), message_of(*answer));
  }
  for (const char* name : {"text", "tool_calls", "cached", "reasoning"}) {
    SCOPED_TRACE(name);
    const std::string answer = golden(std::string("answers/") + name + ".json");
    auto sse = cache::synthesize_stream(Endpoint::kChatCompletions, answer, true);
    ASSERT_TRUE(sse) << sse.error().message;
    EXPECT_EQ(accumulate(translate(*sse)), message_of(answer));
  }
}

// ---------------------------------------------------------------------------------------------
// Requests: what maps to what

TEST(MessagesRequest, ToolChoiceMapsToOpenAIsWords) {
  const std::string tools = R"("tools":[{"name":"get_weather","input_schema":{"type":"object"}}],)";
  auto choice = [&](std::string_view tool_choice) {
    return chat_body(R"({"model":"m","max_tokens":5,)" + tools + R"("tool_choice":)" +
                     std::string(tool_choice) + R"(,"messages":[{"role":"user","content":"hi"}]})");
  };
  EXPECT_EQ(choice(R"({"type":"auto"})").at("tool_choice"), "auto");
  EXPECT_EQ(choice(R"({"type":"any"})").at("tool_choice"), "required");
  EXPECT_EQ(choice(R"({"type":"none"})").at("tool_choice"), "none");
  EXPECT_EQ(choice(R"({"type":"tool","name":"get_weather"})").at("tool_choice"),
            json::parse(R"({"type":"function","function":{"name":"get_weather"}})"));
  json::value off = choice(R"({"type":"any","disable_parallel_tool_use":true})");
  EXPECT_EQ(off.at("parallel_tool_calls"), false);
  EXPECT_FALSE(choice(R"({"type":"auto"})").as_object().contains("parallel_tool_calls"));
  // The tool without description gets none, and keeps its schema as the parameters.
  EXPECT_EQ(choice(R"({"type":"auto"})").at("tools"),
            json::parse(R"([{"type":"function","function":{"name":"get_weather",)"
                        R"("parameters":{"type":"object"}}}])"));

  // Without tools there is nothing to choose: OpenAI would refuse the member.
  json::value none = chat_body(
      R"({"model":"m","max_tokens":5,"tool_choice":{"type":"any","disable_parallel_tool_use":true},)"
      R"("messages":[{"role":"user","content":"hi"}]})");
  EXPECT_FALSE(none.as_object().contains("tool_choice"));
  EXPECT_FALSE(none.as_object().contains("parallel_tool_calls"));
  EXPECT_FALSE(none.as_object().contains("tools"));
}

TEST(MessagesRequest, StrictToolsStayStrict) {
  json::value body = chat_body(
      R"({"model":"m","max_tokens":5,"tools":[{"name":"f","description":"d","strict":true,)"
      R"("input_schema":{"type":"object","properties":{"x":{"type":"number","minimum":0.5}}}}],)"
      R"("messages":[{"role":"user","content":"hi"}]})");
  EXPECT_EQ(body.at("tools"),
            json::parse(R"([{"type":"function","function":{"name":"f","description":"d",)"
                        R"("parameters":{"type":"object","properties":{"x":{"type":"number",)"
                        R"("minimum":0.5}}},"strict":true}}])"));
}

TEST(MessagesRequest, ToolResultsComeFirstThenTheRestOfTheTurn) {
  json::value body = chat_body(R"({"model":"m","max_tokens":5,"messages":[
    {"role":"user","content":"weather in Paris and Rome?"},
    {"role":"assistant","content":[
      {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}},
      {"type":"tool_use","id":"toolu_2","name":"get_weather","input":{"city":"Rome"}}]},
    {"role":"user","content":[
      {"type":"text","text":"Here you go."},
      {"type":"tool_result","tool_use_id":"toolu_1","content":[
        {"type":"text","text":"18 degrees"},{"type":"text","text":"sunny"}]},
      {"type":"tool_result","tool_use_id":"toolu_2"},
      {"type":"image","source":{"type":"url","url":"https://example.com/rome.png"}}]}]})");
  EXPECT_EQ(body.at("messages"), json::parse(R"([
    {"role":"user","content":"weather in Paris and Rome?"},
    {"role":"assistant","content":null,"tool_calls":[
      {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
      {"id":"toolu_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
    {"role":"tool","tool_call_id":"toolu_1","content":"18 degrees\nsunny"},
    {"role":"tool","tool_call_id":"toolu_2","content":""},
    {"role":"user","content":[{"type":"text","text":"Here you go."},
      {"type":"image_url","image_url":{"url":"https://example.com/rome.png"}}]}])"));
}

TEST(MessagesRequest, FailedToolResultsSaySoOnce) {
  auto tool_content = [](std::string_view content) {
    json::value body =
        chat_body(R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[)"
                  R"({"type":"tool_result","tool_use_id":"t","is_error":true,"content":)" +
                  std::string(content) + "}]}]}");
    return body.at("messages").at(0).at("content");
  };
  EXPECT_EQ(tool_content(R"("the service is down")"), "Error: the service is down");
  EXPECT_EQ(tool_content(R"("Error: Weather API returned 503")"),
            "Error: Weather API returned 503");
  EXPECT_EQ(tool_content(R"("error 503")"), "error 503");
  EXPECT_EQ(tool_content(R"([{"type":"text","text":"timeout"}])"), "Error: timeout");
  EXPECT_EQ(tool_content(R"("")"), "Error");
}

TEST(MessagesRequest, WhatAChatModelCannotUseIsDropped) {
  json::value body = chat_body(R"({"model":"m","max_tokens":5,"top_k":40,
    "thinking":{"type":"enabled","budget_tokens":1024},"service_tier":"auto",
    "system":[{"type":"text","text":"Be brief.","cache_control":{"type":"ephemeral"}}],
    "messages":[
      {"role":"user","content":[{"type":"text","text":"hi","cache_control":{"type":"ephemeral"}}]},
      {"role":"assistant","content":[{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3p"}]},
      {"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"x"},
                                     {"type":"text","text":"Hello"}]},
      {"role":"user","content":"and?"},
      {"role":"assistant","content":[]}]})");
  EXPECT_EQ(body, json::parse(R"({"model":"m","max_tokens":5,"messages":[
    {"role":"system","content":"Be brief."},
    {"role":"user","content":"hi"},
    {"role":"assistant","content":"Hello"},
    {"role":"user","content":"and?"}]})"));
}

TEST(MessagesRequest, SeveralTextBlocksStayApart) {
  json::value body = chat_body(R"({"model":"m","max_tokens":5,"messages":[
    {"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]},
    {"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]})");
  EXPECT_EQ(body.at("messages"), json::parse(R"([
    {"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]},
    {"role":"assistant","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}])"));
}

TEST(MessagesRequest, EscapesSurviveTheTranslation) {
  json::value body = chat_body(
      R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a \"quote\", a \\, )"
      R"(a tab\t, a newline\n, \u0001 and \u00e9 \ud83d\udc4b"}]})");
  EXPECT_EQ(body.at("messages").at(0).at("content"),
            "a \"quote\", a \\, a tab\t, a newline\n, \x01 and \xc3\xa9 \xf0\x9f\x91\x8b");
}

// ---------------------------------------------------------------------------------------------
// Requests: what is refused, with Anthropic's paths

TEST(MessagesRequest, BadRequestsAre400sNamingTheField) {
  const std::string ok_messages = R"("messages":[{"role":"user","content":"hi"}])";
  auto with = [&](std::string_view fields) {
    return R"({"model":"m","max_tokens":5,)" + std::string(fields) + "," + ok_messages + "}";
  };
  auto turn = [](std::string_view message) {
    return R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"},)" +
           std::string(message) + "]}";
  };
  const std::vector<std::pair<std::string, std::pair<std::string, std::string>>> cases = {
      {"", {"", "empty"}},
      {"{\"model\":", {"", "not valid JSON"}},
      {"[1,2]", {"", "must be a JSON object"}},
      {R"({"max_tokens":5,"messages":[{"role":"user","content":"hi"}]})",
       {"model", "Field required"}},
      {R"({"model":7,"max_tokens":5,"messages":[]})", {"model", "valid string"}},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
       {"max_tokens", "Field required"}},
      {R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]})",
       {"max_tokens", "greater than or equal to 1"}},
      {R"({"model":"m","max_tokens":"5","messages":[{"role":"user","content":"hi"}]})",
       {"max_tokens", "integer"}},
      {R"({"model":"m","max_tokens":2.5,"messages":[{"role":"user","content":"hi"}]})",
       {"max_tokens", "integer"}},
      {R"({"model":"m","max_tokens":5})", {"messages", "Field required"}},
      {R"({"model":"m","max_tokens":5,"messages":{}})", {"messages", "valid list"}},
      {R"({"model":"m","max_tokens":5,"messages":[]})", {"messages", "at least one message"}},
      {turn("7"), {"messages.1", "message object"}},
      {turn(R"({"role":"system","content":"x"})"), {"messages.1.role", "'user' or 'assistant'"}},
      {turn(R"({"content":"x"})"), {"messages.1.role", "Field required"}},
      {turn(R"({"role":"user"})"), {"messages.1.content", "Field required"}},
      {turn(R"({"role":"user","content":5})"), {"messages.1.content", "string or a list"}},
      {turn(R"({"role":"user","content":[]})"), {"messages.1.content", "must not be empty"}},
      {turn(R"({"role":"user","content":""})"), {"messages.1.content", "must not be empty"}},
      {turn(R"({"role":"user","content":["hi"]})"),
       {"messages.1.content.0", "content block object"}},
      {turn(R"({"role":"user","content":[{"text":"x"}]})"),
       {"messages.1.content.0.type", "Field required"}},
      {turn(R"({"role":"user","content":[{"type":"foo"}]})"),
       {"messages.1.content.0.type", "'foo' blocks cannot be translated"}},
      {turn(
           R"({"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0="}}]})"),
       {"messages.1.content.0.type", "'document' blocks cannot be translated"}},
      {turn(R"({"role":"user","content":[{"type":"text"}]})"),
       {"messages.1.content.0.text", "Field required"}},
      {turn(R"({"role":"user","content":[{"type":"text","text":1}]})"),
       {"messages.1.content.0.text", "valid string"}},
      {turn(R"({"role":"user","content":[{"type":"tool_use","id":"t","name":"n","input":{}}]})"),
       {"messages.1.content.0.type", "belong to assistant messages"}},
      {turn(R"({"role":"user","content":[{"type":"thinking","thinking":"x","signature":"s"}]})"),
       {"messages.1.content.0.type", "belong to assistant messages"}},
      {turn(R"({"role":"assistant","content":[{"type":"tool_result","tool_use_id":"t"}]})"),
       {"messages.1.content.0.type", "belong to user messages"}},
      {turn(
           R"({"role":"assistant","content":[{"type":"image","source":{"type":"url","url":"u"}}]})"),
       {"messages.1.content.0.type", "belong to user messages"}},
      {turn(R"({"role":"user","content":[{"type":"image"}]})"),
       {"messages.1.content.0.source", "Field required"}},
      {turn(
           R"({"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"Qk0="}}]})"),
       {"messages.1.content.0.source.media_type", "image/jpeg"}},
      {turn(
           R"({"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png"}}]})"),
       {"messages.1.content.0.source.data", "Field required"}},
      {turn(R"({"role":"user","content":[{"type":"image","source":{"type":"url"}}]})"),
       {"messages.1.content.0.source.url", "Field required"}},
      {turn(
           R"({"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"file_011CNha8iCJcU1wXNR6q4V8w"}}]})"),
       {"messages.1.content.0.source.type", "Files API"}},
      {turn(R"({"role":"user","content":[{"type":"image","source":{"type":"ftp"}}]})"),
       {"messages.1.content.0.source.type", "'base64' or 'url'"}},
      {turn(R"({"role":"user","content":[{"type":"tool_result"}]})"),
       {"messages.1.content.0.tool_use_id", "Field required"}},
      {turn(
           R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t","is_error":"yes"}]})"),
       {"messages.1.content.0.is_error", "valid boolean"}},
      {turn(R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":7}]})"),
       {"messages.1.content.0.content", "string or a list"}},
      {turn(
           R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"url","url":"u"}}]}]})"),
       {"messages.1.content.0.content.0.type", "text only"}},
      {turn(
           R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"document"}]}]})"),
       {"messages.1.content.0.content.0.type", "only text blocks"}},
      {turn(R"({"role":"assistant","content":[{"type":"tool_use","name":"n","input":{}}]})"),
       {"messages.1.content.0.id", "Field required"}},
      {turn(R"({"role":"assistant","content":[{"type":"tool_use","id":"t","input":{}}]})"),
       {"messages.1.content.0.name", "Field required"}},
      {turn(
           R"({"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":"{}"}]})"),
       {"messages.1.content.0.input", "valid dictionary"}},
      {turn(
           R"({"role":"assistant","content":[{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}]})"),
       {"messages.1.content.0.type", "'server_tool_use' blocks cannot be translated"}},
      {with(R"("system":5)"), {"system", "string or a list of text blocks"}},
      {with(R"("system":[{"type":"image"}])"), {"system.0.type", "'text'"}},
      {with(R"("system":[{"type":"text"}])"), {"system.0.text", "Field required"}},
      {with(R"("stop_sequences":"END")"), {"stop_sequences", "valid list"}},
      {with(R"("stop_sequences":["END",5])"), {"stop_sequences.1", "valid string"}},
      {with(R"("temperature":"hot")"), {"temperature", "valid number"}},
      {with(R"("top_p":[1])"), {"top_p", "valid number"}},
      {with(R"("stream":"yes")"), {"stream", "valid boolean"}},
      {with(R"("metadata":"me")"), {"metadata", "valid dictionary"}},
      {with(R"("metadata":{"user_id":42})"), {"metadata.user_id", "valid string"}},
      {with(R"("tools":{})"), {"tools", "valid list"}},
      {with(R"("tools":[5])"), {"tools.0", "valid dictionary"}},
      {with(R"("tools":[{"input_schema":{"type":"object"}}])"), {"tools.0.name", "Field required"}},
      {with(R"("tools":[{"name":"f"}])"), {"tools.0.input_schema", "Field required"}},
      {with(R"("tools":[{"name":"f","input_schema":"object"}])"),
       {"tools.0.input_schema", "valid dictionary"}},
      {with(R"("tools":[{"name":"f","description":5,"input_schema":{}}])"),
       {"tools.0.description", "valid string"}},
      {with(R"("tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}])"),
       {"tools.0.type", "custom tools only"}},
      {with(R"("tools":[{"type":"bash_20250124","name":"bash"}])"),
       {"tools.0.type", "custom tools only"}},
      {with(R"("tool_choice":"auto")"), {"tool_choice", "valid dictionary"}},
      {with(R"("tool_choice":{"type":"required"})"),
       {"tool_choice.type", "'auto', 'any', 'tool' or 'none'"}},
      {with(R"("tool_choice":{"type":"tool"})"), {"tool_choice.name", "Field required"}},
      {with(R"("tool_choice":{"type":"auto","disable_parallel_tool_use":1})"),
       {"tool_choice.disable_parallel_tool_use", "valid boolean"}},
  };
  for (const auto& [body, expect] : cases) {
    SCOPED_TRACE(body);
    const core::Error e = request_error(body);
    EXPECT_EQ(e.code, Errc::kInvalidRequest);
    EXPECT_EQ(http_status(e), 400);
    EXPECT_EQ(e.param, expect.first);
    EXPECT_NE(e.message.find(expect.second), std::string::npos) << e.message;
    if (!expect.first.empty()) {
      // Anthropic's style: the path first, so the message alone says which field.
      EXPECT_EQ(e.message.rfind(expect.first + ": ", 0), 0u) << e.message;
    }
  }
}

TEST(MessagesRequest, InvalidJsonSaysWhere) {
  const core::Error e = request_error("{\"model\": \"m\",\n \"max_tokens\": ]}");
  EXPECT_NE(e.message.find("line 2, column 16"), std::string::npos) << e.message;
}

// ---------------------------------------------------------------------------------------------
// Answers

std::string answer_with(std::string_view message, std::string_view finish,
                        std::string_view usage = R"({"prompt_tokens":10,"completion_tokens":3})") {
  return R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o",)"
         R"("choices":[{"index":0,"message":)" +
         std::string(message) + R"(,"finish_reason":)" + std::string(finish) + R"(}],"usage":)" +
         std::string(usage) + "}";
}

TEST(MessagesAnswer, FinishReasonsBecomeStopReasons) {
  const std::string text = R"({"role":"assistant","content":"ok"})";
  const std::string tool =
      R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",)"
      R"("function":{"name":"f","arguments":"{}"}}]})";
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {text, R"("stop")", "end_turn"},
      {text, R"("length")", "max_tokens"},
      {text, R"("content_filter")", "refusal"},
      {text, "null", "end_turn"},
      {text, R"("something_new")", "end_turn"},
      {tool, R"("tool_calls")", "tool_use"},
      {tool, R"("stop")", "tool_use"},  // servers that say stop with tool calls
      {tool, R"("length")", "max_tokens"},
      {R"({"role":"assistant","content":null,"refusal":"I can't help with that."})", R"("stop")",
       "refusal"},
  };
  for (const auto& [message, finish, reason] : cases) {
    SCOPED_TRACE(message + " " + finish);
    json::value m = message_of(answer_with(message, finish));
    EXPECT_EQ(m.at("stop_reason"), reason.c_str());
    EXPECT_TRUE(m.at("stop_sequence").is_null());
  }
  json::value refusal =
      message_of(answer_with(R"({"role":"assistant","content":null,"refusal":"No."})", "\"stop\""));
  EXPECT_EQ(refusal.at("content"), json::parse(R"([{"type":"text","text":"No."}])"));
}

TEST(MessagesAnswer, ToolArgumentsMustBeAnObject) {
  auto with_arguments = [](std::string_view arguments) {
    return answer_with(R"({"role":"assistant","content":null,"tool_calls":[{"id":"call_1",)"
                       R"("type":"function","function":{"name":"get_weather","arguments":)" +
                           std::string(arguments) + "}}]}",
                       "\"tool_calls\"");
  };
  // No arguments (a tool without parameters) is an empty input.
  EXPECT_EQ(message_of(with_arguments(R"("")")).at("content").at(0).at("input"), json::object());
  for (const char* bad : {R"("{\"location\": \"Par")", R"("[1,2]")", R"("42")"}) {
    SCOPED_TRACE(bad);
    auto m = to_message(with_arguments(bad), kModel);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, Errc::kUpstreamProtocol);
    EXPECT_NE(m.error().message.find("get_weather"), std::string::npos);
  }
  auto no_id = to_message(answer_with(R"({"role":"assistant","tool_calls":[{"type":"function",)"
                                      R"("function":{"name":"f","arguments":"{}"}}]})",
                                      "\"tool_calls\""),
                          kModel);
  ASSERT_FALSE(no_id);
  EXPECT_EQ(no_id.error().code, Errc::kUpstreamProtocol);
}

TEST(MessagesAnswer, UsageSplitsCacheReadsFromInput) {
  json::value m = message_of(answer_with(
      R"({"role":"assistant","content":"ok"})", "\"stop\"",
      R"({"prompt_tokens":2006,"completion_tokens":300,"prompt_tokens_details":{"cached_tokens":1920}})"));
  EXPECT_EQ(m.at("usage"), json::parse(R"({"input_tokens":86,"cache_creation_input_tokens":0,)"
                                       R"("cache_read_input_tokens":1920,"output_tokens":300})"));
  // DeepSeek counts its cache hits in a member of its own.
  json::value d = message_of(answer_with(
      R"({"role":"assistant","content":"ok"})", "\"stop\"",
      R"({"prompt_tokens":100,"completion_tokens":1,"prompt_cache_hit_tokens":60,"prompt_cache_miss_tokens":40})"));
  EXPECT_EQ(d.at("usage").at("input_tokens"), 40);
  EXPECT_EQ(d.at("usage").at("cache_read_input_tokens"), 60);
  // No usage at all counts nothing rather than failing the answer.
  json::value none = message_of(
      R"({"id":"chatcmpl-2","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}]})");
  EXPECT_EQ(none.at("usage").at("output_tokens"), 0);
  EXPECT_EQ(none.at("id"), "msg_chatcmpl-2");
  EXPECT_EQ(none.at("model"), kModel.data());
}

TEST(MessagesAnswer, WhatIsNotAChatCompletionIsAnUpstreamError) {
  for (const char* body : {"", "not json", "[]", R"({"id":"x"})", R"({"choices":[]})",
                           R"({"choices":[{"index":0}]})", R"({"choices":[7]})"}) {
    SCOPED_TRACE(body);
    auto m = to_message(body, kModel);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, Errc::kUpstreamProtocol);
  }
  auto e = to_message(R"({"error":{"message":"The server had an error","type":"server_error"}})",
                      kModel);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Errc::kUpstreamError);
  EXPECT_EQ(e.error().message, "The server had an error");
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(MessagesErrors, StatusesGetAnthropicsTypes) {
  const std::vector<std::pair<int, std::string_view>> cases = {
      {400, "invalid_request_error"},
      {401, "authentication_error"},
      {402, "billing_error"},
      {403, "permission_error"},
      {404, "not_found_error"},
      {405, "invalid_request_error"},
      {408, "invalid_request_error"},
      {409, "conflict_error"},
      {413, "request_too_large"},
      {429, "rate_limit_error"},
      {431, "invalid_request_error"},
      {500, "api_error"},
      {502, "api_error"},
      {503, "overloaded_error"},
      {504, "timeout_error"},
      {529, "overloaded_error"},
  };
  for (const auto& [status, type] : cases) {
    EXPECT_EQ(anthropic_error_type(status), type) << status;
  }
}

// Every error the gateway sends, in OpenAI's shape, reaches an Anthropic client in Anthropic's
// shape with the same message.
TEST(MessagesErrors, GatewayErrorsKeepTheirMessage) {
  for (Errc c : {Errc::kInvalidRequest, Errc::kUnauthorized, Errc::kPermissionDenied,
                 Errc::kModelNotFound, Errc::kPayloadTooLarge, Errc::kRateLimited,
                 Errc::kInsufficientQuota, Errc::kUpstreamUnreachable, Errc::kUpstreamTimeout,
                 Errc::kServiceUnavailable, Errc::kInternal}) {
    core::Error e(c, "what happened", "model");
    const int status = http_status(e);
    json::value body = json::parse(to_error(status, error_body(e)));
    EXPECT_EQ(body, json::parse(R"({"type":"error","error":{"type":")" +
                                std::string(anthropic_error_type(status)) +
                                R"(","message":"what happened"}})"))
        << core::errc_name(c);
  }
  core::Error overloaded(Errc::kUpstreamError, "Overloaded");
  overloaded.status = 529;
  EXPECT_EQ(to_error(529, error_body(overloaded)),
            R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
}

TEST(MessagesErrors, BodiesWithoutAnOpenAIMessageStillSaySomething) {
  json::value plain = json::parse(to_error(502, "<html>Bad Gateway</html>"));
  EXPECT_EQ(plain.at("error").at("type"), "api_error");
  EXPECT_NE(std::string_view(plain.at("error").at("message").as_string()).find("Bad Gateway"),
            std::string_view::npos);
  json::value detail = json::parse(to_error(404, R"({"detail":"Not Found"})"));
  EXPECT_EQ(detail.at("error").at("message"), "Not Found");
  EXPECT_EQ(detail.at("error").at("type"), "not_found_error");
  json::value empty = json::parse(to_error(500, ""));
  EXPECT_FALSE(empty.at("error").at("message").as_string().empty());
}

TEST(MessagesErrors, MidStreamErrorIsAnErrorEvent) {
  // The example of Anthropic's streaming documentation, byte for byte but for its spaces.
  EXPECT_EQ(error_event(529, "Overloaded"),
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
            "\"message\":\"Overloaded\"}}\n\n");
  const std::vector<Event> events = events_of(error_event(504, "upstream timed out"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].name, "error");
  EXPECT_EQ(events[0].data.at("error").at("type"), "timeout_error");
}

// ---------------------------------------------------------------------------------------------
// Streams: failures and edges

constexpr std::string_view kHead =
    R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}

)";
constexpr std::string_view kFinish =
    R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

)";
constexpr std::string_view kDone = "data: [DONE]\n\n";

std::string chunk(std::string_view delta, std::string_view finish = "null") {
  return R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":)" +
         std::string(delta) + R"(,"finish_reason":)" + std::string(finish) + "}]}\n\n";
}

TEST(MessagesStream, ACutStreamIsNotPassedOffAsWhole) {
  StreamTranslator t(kModel);
  std::string out;
  ASSERT_TRUE(t.feed(kHead, out));
  EXPECT_NE(out.find("text_delta"), std::string::npos);  // what arrived was passed on
  auto f = t.finish(out);
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code, Errc::kUpstreamProtocol);
  EXPECT_EQ(out.find("message_stop"), std::string::npos);

  // Finished but never [DONE]: still cut.
  StreamTranslator t2(kModel);
  std::string out2;
  ASSERT_TRUE(t2.feed(std::string(kHead) + std::string(kFinish), out2));
  EXPECT_FALSE(t2.finish(out2));
}

TEST(MessagesStream, DoneWithoutAFinishReasonIsAProtocolError) {
  StreamTranslator t(kModel);
  std::string out;
  auto r = t.feed(std::string(kHead) + std::string(kDone), out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kUpstreamProtocol);

  StreamTranslator empty(kModel);
  std::string out2;
  auto e = empty.feed(kDone, out2);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Errc::kUpstreamProtocol);
}

TEST(MessagesStream, UpstreamErrorsMidStreamCarryTheirMessage) {
  // OpenAI's shape: a data event with an error member.
  StreamTranslator t(kModel);
  std::string out;
  auto r =
      t.feed(std::string(kHead) +
                 "data: {\"error\":{\"message\":\"The server had an error while processing "
                 "your request.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n",
             out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kUpstreamError);
  EXPECT_EQ(r.error().message, "The server had an error while processing your request.");
  // What the gateway then appends for the client:
  const std::vector<Event> tail = events_of(error_event(http_status(r.error()), r.error().message));
  EXPECT_EQ(tail.at(0).data.at("error").at("type"), "api_error");

  // A named error event (vLLM, some proxies).
  StreamTranslator t2(kModel);
  std::string out2;
  auto named = t2.feed("event: error\ndata: {\"error\":{\"message\":\"overloaded\"}}\n\n", out2);
  ASSERT_FALSE(named);
  EXPECT_EQ(named.error().code, Errc::kUpstreamError);
  EXPECT_EQ(named.error().message, "overloaded");
}

TEST(MessagesStream, MalformedChunksAreProtocolErrors) {
  for (std::string bad :
       {std::string("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}\n\n"),
        std::string("data: [1,2]\n\n"), std::string("data: hello\n\n")}) {
    SCOPED_TRACE(bad);
    StreamTranslator t(kModel);
    std::string out;
    auto r = t.feed(bad, out);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kUpstreamProtocol);
  }
}

TEST(MessagesStream, TextAfterAToolCallGetsANewBlock) {
  const std::string sse =
      chunk(R"({"role":"assistant","content":"Let me check."})") +
      chunk(
          R"({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]})") +
      chunk(R"({"content":" Done."})") + std::string(kFinish) + std::string(kDone);
  const std::vector<Event> events = events_of(translate(sse));
  std::vector<std::string> shape;
  for (const Event& e : events) {
    std::string s = e.name;
    if (e.data.as_object().contains("index")) s += std::to_string(e.data.at("index").as_int64());
    shape.push_back(s);
  }
  EXPECT_EQ(shape, (std::vector<std::string>{
                       "message_start", "content_block_start0", "content_block_delta0",
                       "content_block_stop0", "content_block_start1", "content_block_delta1",
                       "content_block_stop1", "content_block_start2", "content_block_delta2",
                       "content_block_stop2", "message_delta", "message_stop"}));
  json::value message = accumulate(translate(sse));
  EXPECT_EQ(message.at("content").at(2).at("text"), " Done.");
  EXPECT_EQ(message.at("stop_reason"), "tool_use");
}

TEST(MessagesStream, ToolCallsThatCannotBeBlocksAreRefused) {
  // Fragments of an earlier call after a later one began: an Anthropic block cannot reopen.
  const std::string resumed =
      chunk(
          R"({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":"{"}}]})") +
      chunk(
          R"({"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"g","arguments":"{"}}]})") +
      chunk(R"({"tool_calls":[{"index":0,"function":{"arguments":"}"}}]})");
  StreamTranslator t(kModel);
  std::string out;
  auto r = t.feed(resumed, out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kUpstreamProtocol);

  const std::string nameless = chunk(
      R"({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"arguments":"{}"}}]})");
  StreamTranslator t2(kModel);
  std::string out2;
  auto n = t2.feed(nameless, out2);
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().code, Errc::kUpstreamProtocol);
}

TEST(MessagesStream, CallsWithoutAnIndexAreToldApartByTheirIds) {
  const std::string sse =
      chunk(
          R"({"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]})") +
      chunk(
          R"({"tool_calls":[{"id":"call_2","type":"function","function":{"name":"g","arguments":"{\"b\":"}}]})") +
      chunk(R"({"tool_calls":[{"function":{"arguments":"2}"}}]})") +
      chunk("{}", R"("tool_calls")") + std::string(kDone);
  json::value message = accumulate(translate(sse));
  EXPECT_EQ(message.at("content"),
            json::parse(R"([{"type":"tool_use","id":"call_1","name":"f","input":{"a":1}},)"
                        R"({"type":"tool_use","id":"call_2","name":"g","input":{"b":2}}])"));
}

TEST(MessagesStream, UsageOnTheFinishChunkOrNoneAtAll) {
  // No usage chunk (the upstream ignored include_usage): message_delta at [DONE], with zeros.
  const std::vector<Event> plain =
      events_of(translate(std::string(kHead) + std::string(kFinish) + std::string(kDone)));
  ASSERT_GE(plain.size(), 2u);
  EXPECT_EQ(plain[plain.size() - 2].name, "message_delta");
  EXPECT_EQ(plain[plain.size() - 2].data.at("usage").at("output_tokens"), 0);

  // A usage chunk: message_delta comes with it, before [DONE], and carries the input too.
  StreamTranslator t(kModel);
  std::string out;
  ASSERT_TRUE(t.feed(std::string(kHead) + std::string(kFinish), out));
  EXPECT_EQ(out.find("message_delta"), std::string::npos);  // waits for the usage chunk
  ASSERT_TRUE(t.feed(
      R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":9,"completion_tokens":1,"total_tokens":10}})"
      "\n\n",
      out));
  const std::vector<Event> events = events_of(out);
  EXPECT_EQ(events.back().name, "message_delta");
  EXPECT_EQ(events.back().data.at("usage"),
            json::parse(R"({"input_tokens":9,"cache_creation_input_tokens":0,)"
                        R"("cache_read_input_tokens":0,"output_tokens":1})"));
  ASSERT_TRUE(t.feed(kDone, out));
  ASSERT_TRUE(t.finish(out));
  EXPECT_EQ(events_of(out).back().name, "message_stop");
}

// Chunks larger than the parser's first arena block, for as long as a stream lasts (a model that
// writes a long tool argument or a server that batches deltas).
TEST(MessagesStream, LongStreamsOfLargeChunks) {
  const std::string piece(6000, 'x');
  std::string sse;
  for (int i = 0; i < 200; ++i) sse += chunk(R"({"content":")" + piece + R"("})");
  sse += std::string(kFinish) + std::string(kDone);
  json::value message = accumulate(translate(sse));
  EXPECT_EQ(message.at("content").at(0).at("text").as_string().size(), 200 * piece.size());
}

TEST(MessagesStream, CommentsOtherChoicesAndLateBytesAreIgnored) {
  const std::string sse =
      ": keep-alive\n\n" + std::string(kHead) +
      R"(data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":1,"delta":{"content":"other"},"finish_reason":null}]})"
      "\n\n" +
      std::string(kFinish) + std::string(kDone) + chunk(R"({"content":"late"})");
  const std::string out = translate(sse);
  EXPECT_EQ(out.find("other"), std::string::npos);
  EXPECT_EQ(out.find("late"), std::string::npos);
  EXPECT_EQ(accumulate(out).at("content"), json::parse(R"([{"type":"text","text":"Hi"}])"));
}

}  // namespace
}  // namespace sluice::api::messages
