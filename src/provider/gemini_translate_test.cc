#include "provider/gemini_translate.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstring>
#include <fstream>
#include <optional>
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

namespace sluice::provider::gemini {
namespace {

using api::Endpoint;
using core::Errc;

// The golden files' completion (tests/golden/gemini/README.md).
const std::string kId = "chatcmpl-req_5f0c3a9e1d2b4c6a8e7f9012";
const std::string kCallPrefix = "call_req_5f0c3a9e1d2b4c6a8e7f9012_";
constexpr std::int64_t kCreated = 1735689600;
constexpr std::string_view kModel = "gemini-2.5-flash";

std::string golden(std::string_view name) {
  std::string path = std::string(SLUICE_SOURCE_DIR) + "/tests/golden/gemini/" + std::string(name);
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.good()) << path;
  std::stringstream s;
  s << file.rdbuf();
  return s.str();
}

json::value parse(std::string_view text) { return json::parse(text); }

// The Gemini body for an OpenAI request; the test fails when it is refused.
json::object gemini(std::string_view openai) {
  auto r = translate_request(openai);
  EXPECT_TRUE(r) << r.error().message;
  if (!r) return {};
  return parse(r->body).as_object();
}

// The refusal of an OpenAI request: a 400 naming `param`.
core::Error refused(std::string_view openai, std::string_view param) {
  auto r = translate_request(openai);
  EXPECT_FALSE(r) << openai;
  if (r) return {};
  EXPECT_EQ(r.error().code, Errc::kInvalidRequest);
  EXPECT_EQ(api::http_status(r.error()), 400);
  EXPECT_EQ(r.error().param, param) << r.error().message;
  return r.error();
}

// A request with these messages (a JSON array's elements) and these other members.
std::string chat(std::string_view messages, std::string_view more = "") {
  std::string body = R"({"model":"g","messages":[)" + std::string(messages) + "]";
  if (!more.empty()) body += "," + std::string(more);
  return body + "}";
}

const std::string kHi = R"({"role":"user","content":"Hi"})";

// ---------------------------------------------------------------------------------------------
// Golden files

TEST(GeminiGolden, ChatRequest) {
  auto r = translate_request(golden("chat-request.json"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(parse(r->body), parse(golden("chat-request.expected.json"))) << r->body;
}

// ---------------------------------------------------------------------------------------------
// Requests: messages

TEST(GeminiRequest, TheSmallestRequest) {
  auto r = translate_request(chat(kHi));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, R"({"contents":[{"role":"user","parts":[{"text":"Hi"}]}]})");
  EXPECT_FALSE(r->stream);
  EXPECT_FALSE(r->include_usage);
}

TEST(GeminiRequest, ConsecutiveTurnsOfOneRoleAreMergedAndEmptyOnesLeftOut) {
  auto g = gemini(chat(R"({"role":"user","content":"one"},{"role":"user","content":""},
      {"role":"user","content":[{"type":"text","text":"two"}]},
      {"role":"assistant","content":null},{"role":"assistant","content":"three"},
      {"role":"assistant","content":[{"type":"text","text":"four"},{"type":"refusal","refusal":"no"}]},
      {"role":"user","content":"five"})"));
  EXPECT_EQ(json::value(g["contents"]), parse(R"([
      {"role":"user","parts":[{"text":"one"},{"text":"two"}]},
      {"role":"model","parts":[{"text":"three"},{"text":"four"},{"text":"no"}]},
      {"role":"user","parts":[{"text":"five"}]}])"));
}

TEST(GeminiRequest, SystemAndDeveloperMessagesBecomeTheSystemInstruction) {
  auto g =
      gemini(chat(R"({"role":"system","content":"Be brief."},)" + kHi +
                  R"(,{"role":"developer","content":[{"type":"text","text":"Use French."}]})"));
  EXPECT_EQ(json::value(g["systemInstruction"]),
            parse(R"({"parts":[{"text":"Be brief."},{"text":"Use French."}]})"));
  EXPECT_EQ(g["contents"].as_array().size(), 1u);
}

TEST(GeminiRequest, TextPassesByteForByte) {
  std::string text = "naïve 日本語 🎉 \"quoted\" \\ tab\t nl\n ctl\x01";
  std::string body =
      chat(R"({"role":"user","content":)" + json::serialize(json::value(text)) + "}");
  auto r = translate_request(body);
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("naïve 日本語 🎉 \\\"quoted\\\" \\\\ tab\\t nl\\n ctl\\u0001"),
            std::string::npos)
      << r->body;
  EXPECT_EQ(parse(r->body).at("contents").at(0).at("parts").at(0).at("text").as_string(), text);
}

TEST(GeminiRequest, Images) {
  auto g = gemini(chat(R"({"role":"user","content":[
      {"type":"image_url","image_url":{"url":"data:image/webp;base64,UklGRg=="}},
      {"type":"image_url","image_url":{"url":"https://example.com/a/cat.jpeg#frag"}},
      {"type":"image_url","image_url":"https://example.com/b.HEIC"},
      {"type":"image_url","image_url":{"url":"https://generativelanguage.googleapis.com/v1beta/files/abc123"}}]})"));
  EXPECT_EQ(json::value(g["contents"].at(0).at("parts")), parse(R"([
      {"inlineData":{"mimeType":"image/webp","data":"UklGRg=="}},
      {"fileData":{"mimeType":"image/jpeg","fileUri":"https://example.com/a/cat.jpeg#frag"}},
      {"fileData":{"mimeType":"image/heic","fileUri":"https://example.com/b.HEIC"}},
      {"fileData":{"fileUri":"https://generativelanguage.googleapis.com/v1beta/files/abc123"}}])"));
}

TEST(GeminiRequest, ImagesGeminiCannotTakeAreRefused) {
  const std::string p = "messages[0].content[1].image_url.url";
  auto image = [](std::string_view url) {
    return chat(
        R"({"role":"user","content":[{"type":"text","text":"see"},{"type":"image_url","image_url":{"url":")" +
        std::string(url) + R"("}}]})");
  };
  auto e = refused(image("https://example.com/picture"), p);
  EXPECT_NE(e.message.find("data: URL"), std::string::npos) << e.message;
  refused(image("https://example.com/picture.bmp?x=1.png"), p);
  refused(image("data:image/png,rawbytes"), p);
  refused(image("ftp://example.com/a.png"), p);
  refused(chat(R"({"role":"user","content":[{"type":"image_url","image_url":{}}]})"),
          "messages[0].content[0].image_url");
  refused(chat(R"({"role":"user","content":[{"type":"image_url","image_url":7}]})"),
          "messages[0].content[0].image_url");
}

TEST(GeminiRequest, AudioAndFiles) {
  auto g = gemini(chat(R"({"role":"user","content":[
      {"type":"input_audio","input_audio":{"data":"UklGRiQ=","format":"wav"}},
      {"type":"input_audio","input_audio":{"data":"SUQz","format":"mp3"}},
      {"type":"file","file":{"filename":"a.pdf","file_data":"data:application/pdf;base64,JVBERi0="}}]})"));
  EXPECT_EQ(json::value(g["contents"].at(0).at("parts")), parse(R"([
      {"inlineData":{"mimeType":"audio/wav","data":"UklGRiQ="}},
      {"inlineData":{"mimeType":"audio/mp3","data":"SUQz"}},
      {"inlineData":{"mimeType":"application/pdf","data":"JVBERi0="}}])"));
  refused(
      chat(
          R"({"role":"user","content":[{"type":"input_audio","input_audio":{"data":"x","format":"flac"}}]})"),
      "messages[0].content[0].input_audio.format");
  refused(chat(R"({"role":"user","content":[{"type":"file","file":{"file_id":"file-abc"}}]})"),
          "messages[0].content[0].file.file_id");
  refused(chat(R"({"role":"user","content":[{"type":"file","file":{"file_data":"JVBERi0="}}]})"),
          "messages[0].content[0].file.file_data");
}

TEST(GeminiRequest, PartsARoleCannotHaveAreRefused) {
  refused(
      chat(
          R"({"role":"system","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]},)" +
          kHi),
      "messages[0].content[0].type");
  refused(
      chat(
          kHi +
          R"(,{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]})"),
      "messages[1].content[0].type");
  refused(chat(R"({"role":"user","content":[{"type":"video","video":{}}]})"),
          "messages[0].content[0].type");
  refused(chat(R"({"role":"user","content":[{"type":"text"}]})"), "messages[0].content[0].text");
  refused(chat(R"({"role":"user","content":42})"), "messages[0].content");
}

TEST(GeminiRequest, ToolCallsAndTheirResults) {
  auto g = gemini(chat(kHi + R"(,
      {"role":"assistant","content":"Let me look.","tool_calls":[
        {"id":"c1","type":"function","function":{"name":"lookup","arguments":"{\"q\": 1.50}"}},
        {"id":"c2","type":"function","function":{"name":"clock","arguments":""}}]},
      {"role":"tool","tool_call_id":"c2","content":[{"type":"text","text":"12:00"}]},
      {"role":"tool","tool_call_id":"c1","content":" {\"hits\": [1, 2]} "},
      {"role":"tool","tool_call_id":"c1","content":"[1, 2]"})"));
  EXPECT_EQ(json::value(g["contents"]), parse(R"([
      {"role":"user","parts":[{"text":"Hi"}]},
      {"role":"model","parts":[{"text":"Let me look."},
        {"functionCall":{"name":"lookup","args":{"q":1.50}}},
        {"functionCall":{"name":"clock","args":{}}}]},
      {"role":"user","parts":[
        {"functionResponse":{"name":"clock","response":{"content":"12:00"}}},
        {"functionResponse":{"name":"lookup","response":{"hits":[1,2]}}},
        {"functionResponse":{"name":"lookup","response":{"content":"[1, 2]"}}}]}])"));
  // Arguments are copied as written: their numbers keep their digits.
  auto r = translate_request(chat(
      kHi +
      R"(,{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"q\": 1.50}"}}]})"));
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find(R"("args":{"q": 1.50})"), std::string::npos) << r->body;
}

TEST(GeminiRequest, AToolResultAnswersTheNearestCallWithItsId) {
  // Ids made per answer may repeat across turns; the call just before the result is the one.
  auto g = gemini(chat(kHi + R"(,
      {"role":"assistant","tool_calls":[{"id":"call_0","type":"function","function":{"name":"first","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"call_0","content":"a"},
      {"role":"assistant","tool_calls":[{"id":"call_0","type":"function","function":{"name":"second","arguments":"{}"}}]},
      {"role":"tool","tool_call_id":"call_0","content":"b"})"));
  EXPECT_EQ(g["contents"].at(2).at("parts").at(0).at("functionResponse").at("name"), "first");
  EXPECT_EQ(g["contents"].at(4).at("parts").at(0).at("functionResponse").at("name"), "second");
}

TEST(GeminiRequest, BadToolCallsAndResultsAreRefused) {
  auto call = [](std::string_view arguments) {
    return chat(
        kHi +
        R"(,{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":)" +
        std::string(arguments) + "}}]}");
  };
  auto e = refused(call(R"("{not json")"), "messages[1].tool_calls[0].function.arguments");
  EXPECT_NE(e.message.find("JSON object"), std::string::npos);
  refused(call(R"("[1, 2]")"), "messages[1].tool_calls[0].function.arguments");
  refused(call("{}"), "messages[1].tool_calls[0].function.arguments");
  refused(
      chat(
          kHi +
          R"(,{"role":"assistant","tool_calls":[{"id":"c","type":"custom","custom":{"name":"f","input":"x"}}]})"),
      "messages[1].tool_calls[0].type");
  refused(
      chat(
          kHi +
          R"(,{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"arguments":"{}"}}]})"),
      "messages[1].tool_calls[0].function.name");
  refused(chat(kHi + R"(,{"role":"assistant","tool_calls":{}})"), "messages[1].tool_calls");
  e = refused(chat(kHi + R"(,{"role":"tool","tool_call_id":"nobody","content":"x"})"),
              "messages[1].tool_call_id");
  EXPECT_NE(e.message.find("nobody"), std::string::npos);
  refused(chat(kHi + R"(,{"role":"tool","content":"x"})"), "messages[1].tool_call_id");
  refused(chat(kHi + R"(,{"role":"assistant","function_call":{"name":"f","arguments":"{}"}})"),
          "messages[1].function_call");
}

TEST(GeminiRequest, AThoughtSignatureGoesBackWithItsCall) {
  auto g = gemini(
      chat(kHi + R"(,{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function",
      "function":{"name":"f","arguments":"{}"},"extra_content":{"google":{"thought_signature":"c2ln"}}}]})"));
  EXPECT_EQ(json::value(g["contents"].at(1)), parse(R"({"role":"model","parts":[
      {"functionCall":{"name":"f","args":{}},"thoughtSignature":"c2ln"}]})"));
}

TEST(GeminiRequest, BadBodiesAndMessagesAreRefused) {
  refused("{not json", "");
  refused("[1, 2]", "");
  refused(R"({"model":"g"})", "messages");
  refused(R"({"model":"g","messages":[]})", "messages");
  refused(R"({"model":"g","messages":{}})", "messages");
  refused(chat("42"), "messages[0]");
  refused(chat(R"({"content":"Hi"})"), "messages[0].role");
  refused(chat(R"({"role":"robot","content":"Hi"})"), "messages[0].role");
  refused(chat(R"({"role":"function","name":"f","content":"Hi"})"), "messages[0].role");
  auto e = refused(chat(R"({"role":"system","content":"only instructions"})"), "messages");
  EXPECT_NE(e.message.find("at least one"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Requests: tools and schemas

std::string with_tool(std::string_view parameters, std::string_view more = "") {
  std::string tools = R"("tools":[{"type":"function","function":{"name":"f","parameters":)" +
                      std::string(parameters) + "}}]";
  if (!more.empty()) tools += "," + std::string(more);
  return chat(kHi, tools);
}

json::value declared_parameters(std::string_view parameters) {
  auto g = gemini(with_tool(parameters));
  if (!g.contains("tools")) return nullptr;
  const json::object& f = g["tools"].at(0).at("functionDeclarations").at(0).as_object();
  return f.contains("parameters") ? f.at("parameters") : json::value(nullptr);
}

TEST(GeminiSchema, KeysGeminiRefusesAreDroppedAndJsonSchemaFormsRewritten) {
  EXPECT_EQ(
      declared_parameters(R"({"$schema":"x","$id":"y","type":"object","additionalProperties":false,
      "strict":true,"$comment":"c","properties":{
        "when":{"type":"string","format":"date-time"},
        "mail":{"type":"string","format":"email","examples":["a@b.c"]},
        "kind":{"const":"fixed","title":"Kind"},
        "n":{"type":["null","number"],"exclusiveMinimum":0,"multipleOf":2},
        "either":{"oneOf":[{"type":"string"},{"type":"integer"}]},
        "list":{"type":"array","items":{"type":"string","pattern":"^a"},"uniqueItems":true,"minItems":1}},
      "required":["when"]})"),
      parse(R"({"type":"object","properties":{
        "when":{"type":"string","format":"date-time"},
        "mail":{"type":"string"},
        "kind":{"enum":["fixed"],"title":"Kind"},
        "n":{"type":"number","nullable":true},
        "either":{"anyOf":[{"type":"string"},{"type":"integer"}]},
        "list":{"type":"array","items":{"type":"string","pattern":"^a"},"minItems":1}},
      "required":["when"]})"));
}

TEST(GeminiSchema, LocalReferencesAreInlined) {
  // As pydantic writes nested models.
  EXPECT_EQ(declared_parameters(R"({"type":"object","$defs":{"Point":{"type":"object",
      "properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"]}},
      "properties":{"from":{"$ref":"#/$defs/Point"},"to":{"$ref":"#/$defs/Point"}}})"),
            parse(R"({"type":"object","properties":{
        "from":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"]},
        "to":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"]}}})"));
}

TEST(GeminiSchema, AFunctionWithoutParametersIsDeclaredWithoutThem) {
  EXPECT_TRUE(declared_parameters(R"({"type":"object","properties":{}})").is_null());
  EXPECT_TRUE(declared_parameters(R"({"type":"object"})").is_null());
}

TEST(GeminiSchema, WhatGeminiCannotExpressIsRefused) {
  const std::string p = "tools[0].function.parameters";
  refused(with_tool(R"({"type":"object","properties":{"a":{"allOf":[{"type":"string"}]}}})"), p);
  refused(with_tool(R"({"type":"object","properties":{"a":{"not":{"type":"string"}}}})"), p);
  refused(
      with_tool(
          R"({"type":"object","properties":{"a":{"type":"array","items":[{"type":"string"}]}}})"),
      p);
  refused(with_tool(R"({"type":"object","properties":{"a":{"type":["string","integer"]}}})"), p);
  auto e = refused(with_tool(R"({"type":"object","properties":{"a":{"$ref":"#"}}})"), p);
  EXPECT_NE(e.message.find("recursive"), std::string::npos) << e.message;
  e = refused(
      with_tool(R"({"type":"object","properties":{"a":{"$ref":"https://example.com/s.json"}}})"),
      p);
  EXPECT_NE(e.message.find("$ref"), std::string::npos) << e.message;
  refused(with_tool(R"({"type":"object","properties":{"a":42}})"), p);
}

TEST(GeminiTools, Declarations) {
  auto g = gemini(
      chat(kHi, R"("tools":[{"type":"function","function":{"name":"a","description":"does a"}},
      {"type":"function","function":{"name":"b","parameters":{"type":"object","properties":{"x":{"type":"string"}}}}}])"));
  EXPECT_EQ(json::value(g["tools"]),
            parse(R"([{"functionDeclarations":[{"name":"a","description":"does a"},
      {"name":"b","parameters":{"type":"object","properties":{"x":{"type":"string"}}}}]}])"));
  EXPECT_FALSE(g.contains("toolConfig"));
  refused(chat(kHi, R"("tools":[{"type":"web_search"}])"), "tools[0].type");
  refused(chat(kHi, R"("tools":[{"type":"function","function":{"description":"x"}}])"),
          "tools[0].function.name");
  refused(chat(kHi, R"("tools":{})"), "tools");
}

TEST(GeminiTools, ToolChoice) {
  const std::string tools =
      R"("tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"b"}}])";
  auto config = [&](std::string_view choice) {
    auto g = gemini(chat(kHi, tools + R"(,"tool_choice":)" + std::string(choice)));
    return g.contains("toolConfig") ? g["toolConfig"] : json::value(nullptr);
  };
  EXPECT_EQ(config(R"("none")"), parse(R"({"functionCallingConfig":{"mode":"NONE"}})"));
  EXPECT_EQ(config(R"("auto")"), parse(R"({"functionCallingConfig":{"mode":"AUTO"}})"));
  EXPECT_EQ(config(R"("required")"), parse(R"({"functionCallingConfig":{"mode":"ANY"}})"));
  EXPECT_EQ(config(R"({"type":"function","function":{"name":"b"}})"),
            parse(R"({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["b"]}})"));
  EXPECT_EQ(
      config(
          R"({"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"a"}}]}})"),
      parse(R"({"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["a"]}})"));
  // In auto mode Gemini cannot restrict the names; declaring only the allowed ones does.
  auto g = gemini(chat(
      kHi,
      tools +
          R"(,"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"b"}}]}})"));
  EXPECT_EQ(json::value(g["tools"]), parse(R"([{"functionDeclarations":[{"name":"b"}]}])"));
  EXPECT_EQ(json::value(g["toolConfig"]), parse(R"({"functionCallingConfig":{"mode":"AUTO"}})"));

  refused(chat(kHi, tools + R"(,"tool_choice":{"type":"function","function":{"name":"c"}})"),
          "tool_choice");
  refused(chat(kHi, tools + R"(,"tool_choice":"sometimes")"), "tool_choice");
  refused(chat(kHi, tools + R"(,"tool_choice":{"type":"function","function":{}})"),
          "tool_choice.function.name");
  refused(chat(kHi, R"("tool_choice":"required")"), "tool_choice");
  // Without tools, "none" and "auto" ask for nothing.
  EXPECT_FALSE(gemini(chat(kHi, R"("tool_choice":"auto")")).contains("toolConfig"));
}

// ---------------------------------------------------------------------------------------------
// Requests: generation settings and the top level

json::value generation(std::string_view more) {
  auto g = gemini(chat(kHi, more));
  return g.contains("generationConfig") ? g["generationConfig"] : json::value(nullptr);
}

TEST(GeminiRequest, GenerationConfig) {
  EXPECT_EQ(
      generation(R"("temperature":0,"top_p":0.5,"top_k":40,"max_tokens":100,"stop":"END",
      "n":2,"seed":7,"presence_penalty":0.25,"frequency_penalty":-0.5)"),
      parse(R"({"candidateCount":2,"stopSequences":["END"],"maxOutputTokens":100,"temperature":0,
      "topP":0.5,"topK":40,"seed":7,"presencePenalty":0.25,"frequencyPenalty":-0.5})"));
  // max_completion_tokens replaced max_tokens and wins over it.
  EXPECT_EQ(generation(R"("max_tokens":100,"max_completion_tokens":200)"),
            parse(R"({"maxOutputTokens":200})"));
  EXPECT_EQ(generation(R"("stop":["a","b"])"), parse(R"({"stopSequences":["a","b"]})"));
  // Null is as good as absent, as OpenAI reads it.
  EXPECT_TRUE(generation(R"("temperature":null,"stop":null,"tools":null,"n":null)").is_null());
  // Decimals keep their short form.
  auto r = translate_request(chat(kHi, R"("temperature":0.7)"));
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find(R"("temperature":0.7)"), std::string::npos) << r->body;
}

TEST(GeminiRequest, WrongTypesAreRefused) {
  auto e = refused(chat(kHi, R"("temperature":"hot")"), "temperature");
  EXPECT_EQ(e.message,
            "Invalid type for 'temperature': expected a number, but got a string instead.");
  refused(chat(kHi, R"("n":1.5)"), "n");
  refused(chat(kHi, R"("max_tokens":"10")"), "max_tokens");
  refused(chat(kHi, R"("stop":["a",1])"), "stop[1]");
  refused(chat(kHi, R"("stop":3)"), "stop");
  refused(chat(kHi, R"("stream":"yes")"), "stream");
  refused(chat(kHi, R"("stream_options":{"include_usage":1})"), "stream_options.include_usage");
  refused(chat(kHi, R"("seed":"x")"), "seed");
}

TEST(GeminiRequest, StreamAndUsage) {
  auto r = translate_request(chat(kHi, R"("stream":true,"stream_options":{"include_usage":true})"));
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->stream);
  EXPECT_TRUE(r->include_usage);
  EXPECT_EQ(r->body.find("stream"), std::string::npos);  // the method says it, not the body
}

TEST(GeminiRequest, ResponseFormat) {
  EXPECT_TRUE(generation(R"("response_format":{"type":"text"})").is_null());
  EXPECT_EQ(generation(R"("response_format":{"type":"json_object"})"),
            parse(R"({"responseMimeType":"application/json"})"));
  EXPECT_EQ(
      generation(R"("response_format":{"type":"json_schema","json_schema":{"name":"r","strict":true,
      "schema":{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"],"additionalProperties":false}}})"),
      parse(R"({"responseMimeType":"application/json","responseSchema":{"type":"object",
      "properties":{"a":{"type":"integer"}},"required":["a"]}})"));
  refused(chat(kHi, R"("response_format":{"type":"xml"})"), "response_format.type");
  refused(chat(kHi, R"("response_format":{"type":"json_schema"})"), "response_format.json_schema");
  refused(
      chat(
          kHi,
          R"("response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"allOf":[]}}})"),
      "response_format.json_schema.schema");
}

TEST(GeminiRequest, LogprobsAndReasoning) {
  EXPECT_EQ(generation(R"("logprobs":true,"top_logprobs":3)"),
            parse(R"({"responseLogprobs":true,"logprobs":3})"));
  EXPECT_TRUE(generation(R"("logprobs":false)").is_null());
  refused(chat(kHi, R"("top_logprobs":3)"), "top_logprobs");
  EXPECT_EQ(generation(R"("reasoning_effort":"none")"),
            parse(R"({"thinkingConfig":{"thinkingBudget":0}})"));
  EXPECT_EQ(generation(R"("reasoning_effort":"low")"),
            parse(R"({"thinkingConfig":{"thinkingBudget":1024}})"));
  EXPECT_EQ(generation(R"("reasoning_effort":"medium")"),
            parse(R"({"thinkingConfig":{"thinkingBudget":8192}})"));
  EXPECT_EQ(generation(R"("reasoning_effort":"high")"),
            parse(R"({"thinkingConfig":{"thinkingBudget":24576}})"));
  refused(chat(kHi, R"("reasoning_effort":"extreme")"), "reasoning_effort");
}

TEST(GeminiRequest, FieldsThatWouldChangeTheAnswerAreRefused) {
  refused(chat(kHi, R"("logit_bias":{"50256":-100})"), "logit_bias");
  refused(chat(kHi, R"("audio":{"voice":"alloy","format":"wav"})"), "audio");
  refused(chat(kHi, R"("modalities":["text","audio"])"), "modalities");
  refused(chat(kHi, R"("parallel_tool_calls":false)"), "parallel_tool_calls");
  refused(chat(kHi, R"("functions":[{"name":"f"}])"), "functions");
  refused(chat(kHi, R"("function_call":"auto")"), "function_call");
  refused(chat(kHi, R"("web_search_options":{})"), "web_search_options");
  auto e = refused(chat(kHi, R"("temprature":0.5)"), "temprature");
  EXPECT_EQ(e.message, "Unrecognized request argument supplied: temprature");
}

TEST(GeminiRequest, FieldsThatOnlyConcernOpenAIAreAccepted) {
  auto r = translate_request(chat(kHi, R"("user":"u1","metadata":{"k":"v"},"store":true,
      "service_tier":"auto","prompt_cache_key":"k","safety_identifier":"s","logit_bias":{},
      "modalities":["text"],"parallel_tool_calls":true)"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, R"({"contents":[{"role":"user","parts":[{"text":"Hi"}]}]})");
}

}  // namespace
}  // namespace sluice::provider::gemini
