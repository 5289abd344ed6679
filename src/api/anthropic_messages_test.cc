#include "api/anthropic_messages.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "api/errors.h"

namespace sluice::api::messages {
namespace {

namespace json = boost::json;
using core::Errc;

std::string golden(const std::string &name) {
  const std::filesystem::path path =
      std::filesystem::path(SLUICE_SOURCE_DIR) / "tests/golden/messages" / name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << "missing golden file " << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
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
  for (const char *name :
       {"simple", "multi_turn", "system", "images", "tools_stream",
        "tool_result", "tool_error", "thinking_tools", "streaming"}) {
    SCOPED_TRACE(name);
    const std::string in = golden(std::string("requests/") + name + ".json");
    auto r = to_chat_request(in);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(json::parse(r->body),
              json::parse(
                  golden(std::string("requests/") + name + ".expected.json")));
    const bool stream = json::parse(in).as_object().contains("stream");
    EXPECT_EQ(r->stream, stream);
    EXPECT_EQ(r->include_usage, stream);
  }
}

// ---------------------------------------------------------------------------------------------
// Requests: what maps to what

TEST(MessagesRequest, ToolChoiceMapsToOpenAIsWords) {
  const std::string tools =
      R"("tools":[{"name":"get_weather","input_schema":{"type":"object"}}],)";
  auto choice = [&](std::string_view tool_choice) {
    return chat_body(R"({"model":"m","max_tokens":5,)" + tools +
                     R"("tool_choice":)" + std::string(tool_choice) +
                     R"(,"messages":[{"role":"user","content":"hi"}]})");
  };
  EXPECT_EQ(choice(R"({"type":"auto"})").at("tool_choice"), "auto");
  EXPECT_EQ(choice(R"({"type":"any"})").at("tool_choice"), "required");
  EXPECT_EQ(choice(R"({"type":"none"})").at("tool_choice"), "none");
  EXPECT_EQ(
      choice(R"({"type":"tool","name":"get_weather"})").at("tool_choice"),
      json::parse(R"({"type":"function","function":{"name":"get_weather"}})"));
  json::value off =
      choice(R"({"type":"any","disable_parallel_tool_use":true})");
  EXPECT_EQ(off.at("parallel_tool_calls"), false);
  EXPECT_FALSE(
      choice(R"({"type":"auto"})").as_object().contains("parallel_tool_calls"));
  // The tool without description gets none, and keeps its schema as the
  // parameters.
  EXPECT_EQ(
      choice(R"({"type":"auto"})").at("tools"),
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
  EXPECT_EQ(
      body.at("tools"),
      json::parse(
          R"([{"type":"function","function":{"name":"f","description":"d",)"
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
    json::value body = chat_body(
        R"({"model":"m","max_tokens":5,"messages":[{"role":"user","content":[)"
        R"({"type":"tool_result","tool_use_id":"t","is_error":true,"content":)" +
        std::string(content) + "}]}]}");
    return body.at("messages").at(0).at("content");
  };
  EXPECT_EQ(tool_content(R"("the service is down")"),
            "Error: the service is down");
  EXPECT_EQ(tool_content(R"("Error: Weather API returned 503")"),
            "Error: Weather API returned 503");
  EXPECT_EQ(tool_content(R"("error 503")"), "error 503");
  EXPECT_EQ(tool_content(R"([{"type":"text","text":"timeout"}])"),
            "Error: timeout");
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
            "a \"quote\", a \\, a tab\t, a newline\n, \x01 and \xc3\xa9 "
            "\xf0\x9f\x91\x8b");
}

// ---------------------------------------------------------------------------------------------
// Requests: what is refused, with Anthropic's paths

TEST(MessagesRequest, BadRequestsAre400sNamingTheField) {
  const std::string ok_messages =
      R"("messages":[{"role":"user","content":"hi"}])";
  auto with = [&](std::string_view fields) {
    return R"({"model":"m","max_tokens":5,)" + std::string(fields) + "," +
           ok_messages + "}";
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
      {R"({"model":7,"max_tokens":5,"messages":[]})",
       {"model", "valid string"}},
      {R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
       {"max_tokens", "Field required"}},
      {R"({"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]})",
       {"max_tokens", "greater than or equal to 1"}},
      {R"({"model":"m","max_tokens":"5","messages":[{"role":"user","content":"hi"}]})",
       {"max_tokens", "integer"}},
      {R"({"model":"m","max_tokens":2.5,"messages":[{"role":"user","content":"hi"}]})",
       {"max_tokens", "integer"}},
      {R"({"model":"m","max_tokens":5})", {"messages", "Field required"}},
      {R"({"model":"m","max_tokens":5,"messages":{}})",
       {"messages", "valid list"}},
      {R"({"model":"m","max_tokens":5,"messages":[]})",
       {"messages", "at least one message"}},
      {turn("7"), {"messages.1", "message object"}},
      {turn(R"({"role":"system","content":"x"})"),
       {"messages.1.role", "'user' or 'assistant'"}},
      {turn(R"({"content":"x"})"), {"messages.1.role", "Field required"}},
      {turn(R"({"role":"user"})"), {"messages.1.content", "Field required"}},
      {turn(R"({"role":"user","content":5})"),
       {"messages.1.content", "string or a list"}},
      {turn(R"({"role":"user","content":[]})"),
       {"messages.1.content", "must not be empty"}},
      {turn(R"({"role":"user","content":""})"),
       {"messages.1.content", "must not be empty"}},
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
      {turn(
           R"({"role":"user","content":[{"type":"tool_use","id":"t","name":"n","input":{}}]})"),
       {"messages.1.content.0.type", "belong to assistant messages"}},
      {turn(
           R"({"role":"user","content":[{"type":"thinking","thinking":"x","signature":"s"}]})"),
       {"messages.1.content.0.type", "belong to assistant messages"}},
      {turn(
           R"({"role":"assistant","content":[{"type":"tool_result","tool_use_id":"t"}]})"),
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
      {turn(
           R"({"role":"user","content":[{"type":"image","source":{"type":"url"}}]})"),
       {"messages.1.content.0.source.url", "Field required"}},
      {turn(
           R"({"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"file_011CNha8iCJcU1wXNR6q4V8w"}}]})"),
       {"messages.1.content.0.source.type", "Files API"}},
      {turn(
           R"({"role":"user","content":[{"type":"image","source":{"type":"ftp"}}]})"),
       {"messages.1.content.0.source.type", "'base64' or 'url'"}},
      {turn(R"({"role":"user","content":[{"type":"tool_result"}]})"),
       {"messages.1.content.0.tool_use_id", "Field required"}},
      {turn(
           R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t","is_error":"yes"}]})"),
       {"messages.1.content.0.is_error", "valid boolean"}},
      {turn(
           R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":7}]})"),
       {"messages.1.content.0.content", "string or a list"}},
      {turn(
           R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image","source":{"type":"url","url":"u"}}]}]})"),
       {"messages.1.content.0.content.0.type", "text only"}},
      {turn(
           R"({"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"document"}]}]})"),
       {"messages.1.content.0.content.0.type", "only text blocks"}},
      {turn(
           R"({"role":"assistant","content":[{"type":"tool_use","name":"n","input":{}}]})"),
       {"messages.1.content.0.id", "Field required"}},
      {turn(
           R"({"role":"assistant","content":[{"type":"tool_use","id":"t","input":{}}]})"),
       {"messages.1.content.0.name", "Field required"}},
      {turn(
           R"({"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":"{}"}]})"),
       {"messages.1.content.0.input", "valid dictionary"}},
      {turn(
           R"({"role":"assistant","content":[{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}]})"),
       {"messages.1.content.0.type",
        "'server_tool_use' blocks cannot be translated"}},
      {with(R"("system":5)"), {"system", "string or a list of text blocks"}},
      {with(R"("system":[{"type":"image"}])"), {"system.0.type", "'text'"}},
      {with(R"("system":[{"type":"text"}])"),
       {"system.0.text", "Field required"}},
      {with(R"("stop_sequences":"END")"), {"stop_sequences", "valid list"}},
      {with(R"("stop_sequences":["END",5])"),
       {"stop_sequences.1", "valid string"}},
      {with(R"("temperature":"hot")"), {"temperature", "valid number"}},
      {with(R"("top_p":[1])"), {"top_p", "valid number"}},
      {with(R"("stream":"yes")"), {"stream", "valid boolean"}},
      {with(R"("metadata":"me")"), {"metadata", "valid dictionary"}},
      {with(R"("metadata":{"user_id":42})"),
       {"metadata.user_id", "valid string"}},
      {with(R"("tools":{})"), {"tools", "valid list"}},
      {with(R"("tools":[5])"), {"tools.0", "valid dictionary"}},
      {with(R"("tools":[{"input_schema":{"type":"object"}}])"),
       {"tools.0.name", "Field required"}},
      {with(R"("tools":[{"name":"f"}])"),
       {"tools.0.input_schema", "Field required"}},
      {with(R"("tools":[{"name":"f","input_schema":"object"}])"),
       {"tools.0.input_schema", "valid dictionary"}},
      {with(R"("tools":[{"name":"f","description":5,"input_schema":{}}])"),
       {"tools.0.description", "valid string"}},
      {with(
           R"("tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5}])"),
       {"tools.0.type", "custom tools only"}},
      {with(R"("tools":[{"type":"bash_20250124","name":"bash"}])"),
       {"tools.0.type", "custom tools only"}},
      {with(R"("tool_choice":"auto")"), {"tool_choice", "valid dictionary"}},
      {with(R"("tool_choice":{"type":"required"})"),
       {"tool_choice.type", "'auto', 'any', 'tool' or 'none'"}},
      {with(R"("tool_choice":{"type":"tool"})"),
       {"tool_choice.name", "Field required"}},
      {with(R"("tool_choice":{"type":"auto","disable_parallel_tool_use":1})"),
       {"tool_choice.disable_parallel_tool_use", "valid boolean"}},
  };
  for (const auto &[body, expect] : cases) {
    SCOPED_TRACE(body);
    const core::Error e = request_error(body);
    EXPECT_EQ(e.code, Errc::kInvalidRequest);
    EXPECT_EQ(http_status(e), 400);
    EXPECT_EQ(e.param, expect.first);
    EXPECT_NE(e.message.find(expect.second), std::string::npos) << e.message;
    if (!expect.first.empty()) {
      // Anthropic's style: the path first, so the message alone says which
      // field.
      EXPECT_EQ(e.message.rfind(expect.first + ": ", 0), 0u) << e.message;
    }
  }
}

TEST(MessagesRequest, InvalidJsonSaysWhere) {
  const core::Error e =
      request_error("{\"model\": \"m\",\n \"max_tokens\": ]}");
  EXPECT_NE(e.message.find("line 2, column 16"), std::string::npos)
      << e.message;
}

} // namespace
} // namespace sluice::api::messages
