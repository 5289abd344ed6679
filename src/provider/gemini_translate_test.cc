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

// The data of each event, as an SSE client reads them.
std::vector<std::string> event_data(std::string_view sse) {
  std::vector<std::string> out;
  http::SseEventReader reader(sse);
  http::SseEvent ev;
  while (reader.next(ev)) {
    if (ev.has_data) out.emplace_back(ev.data);
  }
  return out;
}

// Event by event: [DONE] as text, chunks as parsed JSON.
void expect_same_events(std::string_view actual, std::string_view expected) {
  auto a = event_data(actual);
  auto e = event_data(expected);
  ASSERT_EQ(a.size(), e.size()) << actual;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (e[i] == "[DONE]") {
      EXPECT_EQ(a[i], e[i]) << "event " << i;
    } else {
      EXPECT_EQ(parse(a[i]), parse(e[i])) << "event " << i << ":\n" << a[i] << "\n" << e[i];
    }
  }
}

// The whole stream fed at once, then finished.
std::string translate_stream(std::string_view sse, bool include_usage,
                             std::string_view model = kModel) {
  StreamTranslator t(include_usage, model, kId, kCreated);
  std::string out;
  auto fed = t.feed(sse, out);
  EXPECT_TRUE(fed) << fed.error().message;
  auto done = t.finish(out);
  EXPECT_TRUE(done) << done.error().message;
  return out;
}

// The stream as the provider feeds it: in `piece`-byte reads, whole events only (SseSplitter).
std::string translate_in_pieces(std::string_view sse, std::size_t piece, bool include_usage) {
  StreamTranslator t(include_usage, kModel, kId, kCreated);
  http::SseSplitter splitter;
  std::string buffer;
  std::string out;
  for (std::size_t at = 0; at < sse.size(); at += piece) {
    buffer.append(sse.substr(at, piece));
    std::size_t n = splitter.complete_prefix(buffer);
    if (n == 0) continue;
    EXPECT_TRUE(t.feed(std::string_view(buffer).substr(0, n), out));
    buffer.erase(0, n);
    splitter.consumed(n);
  }
  EXPECT_TRUE(buffer.empty());
  EXPECT_TRUE(t.finish(out));
  return out;
}

std::string answer(std::string_view gemini_body, std::string_view model = kModel) {
  auto r = translate_response(gemini_body, model, kId, kCreated);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : std::string();
}

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

TEST(GeminiGolden, WholeAnswers) {
  for (std::string name :
       {"text-answer", "function-call-answer", "prompt-blocked", "safety-finish"}) {
    SCOPED_TRACE(name);
    std::string out = answer(golden(name + ".json"));
    EXPECT_EQ(parse(out), parse(golden(name + ".expected.json"))) << out;
    // What the cache and the accounting read from it.
    EXPECT_TRUE(cache::complete_json_answer(Endpoint::kChatCompletions, out));
    auto usage = api::find_usage(out);
    ASSERT_TRUE(usage.has_value());
    json::value expected_answer = parse(golden(name + ".expected.json"));
    const json::object& expected = expected_answer.at("usage").as_object();
    auto count = [](const json::value& v) { return static_cast<std::uint64_t>(v.as_int64()); };
    EXPECT_EQ(usage->prompt_tokens, count(expected.at("prompt_tokens")));
    EXPECT_EQ(usage->completion_tokens, count(expected.at("completion_tokens")));
    EXPECT_EQ(usage->cached_tokens,
              count(expected.at("prompt_tokens_details").at("cached_tokens")));
  }
}

TEST(GeminiGolden, TextStream) {
  std::string sse = golden("text-stream.sse");
  std::string out = translate_stream(sse, true);
  expect_same_events(out, golden("text-stream.expected.sse"));
  EXPECT_TRUE(cache::complete_stream(Endpoint::kChatCompletions, out));
  auto usage = api::find_usage(out);
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 11u);
  EXPECT_EQ(usage->completion_tokens, 19u);

  // Assembled by the cache, the stream is the answer Gemini gives whole.
  auto assembled = cache::assemble(Endpoint::kChatCompletions, out);
  ASSERT_TRUE(assembled) << assembled.error().message;
  EXPECT_EQ(parse(*assembled), parse(answer(golden("text-stream.answer.json"))));
  // Byte for byte: the emoji and the CJK text are not re-encoded.
  EXPECT_NE(out.find("落叶纷飞 🍂\\n"), std::string::npos);
}

TEST(GeminiGolden, TextStreamWithoutUsage) {
  std::string out = translate_stream(golden("text-stream.sse"), false);
  EXPECT_EQ(out.find("usage"), std::string::npos) << out;
  EXPECT_TRUE(cache::complete_stream(Endpoint::kChatCompletions, out));
  // The same chunks as with include_usage, minus their "usage": null and the usage chunk.
  std::string with = translate_stream(golden("text-stream.sse"), true);
  auto a = event_data(out);
  auto b = event_data(with);
  ASSERT_EQ(a.size() + 1, b.size());
  for (std::size_t i = 0; i + 1 < a.size(); ++i) {
    json::object chunk = parse(b[i]).as_object();
    chunk.erase("usage");
    EXPECT_EQ(parse(a[i]), json::value(chunk));
  }
}

TEST(GeminiGolden, StreamReadInPiecesIsTheSame) {
  // Every split of the bytes, including inside an emoji and inside "\r\n".
  for (std::string name : {"text-stream.sse", "function-call-stream.sse"}) {
    std::string sse = golden(name);
    std::string whole = translate_stream(sse, true);
    for (std::size_t piece = 1; piece <= 64; ++piece) {
      ASSERT_EQ(translate_in_pieces(sse, piece, true), whole) << name << " piece " << piece;
    }
  }
}

TEST(GeminiGolden, FunctionCallStream) {
  std::string sse = golden("function-call-stream.sse");
  std::string out = translate_stream(sse, false);
  expect_same_events(out, golden("function-call-stream.expected.sse"));
  EXPECT_TRUE(cache::complete_stream(Endpoint::kChatCompletions, out));

  auto assembled = cache::assemble(Endpoint::kChatCompletions, translate_stream(sse, true));
  ASSERT_TRUE(assembled) << assembled.error().message;
  EXPECT_EQ(parse(*assembled), parse(answer(golden("function-call-stream.answer.json"))))
      << *assembled;
}

TEST(GeminiGolden, ErrorInTheMiddleOfAStream) {
  StreamTranslator t(false, kModel, kId, kCreated);
  std::string out;
  auto r = t.feed(golden("error-stream.sse"), out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kUpstreamError);
  EXPECT_EQ(r.error().status, 503);
  EXPECT_EQ(r.error().message, "The model is overloaded. Please try again later.");
  expect_same_events(out + api::error_event(r.error()), golden("error-stream.expected.sse"));
  // A stream that failed is not passed off as whole.
  std::string rest;
  EXPECT_FALSE(t.finish(rest));
  EXPECT_FALSE(cache::complete_stream(Endpoint::kChatCompletions, out));
}

TEST(GeminiGolden, ErrorAnswers) {
  struct Case {
    std::string name;
    int http_status;
  };
  for (const Case& c :
       {Case{"error-api-key", 400}, Case{"error-not-found", 404}, Case{"error-quota", 429},
        Case{"error-invalid-argument", 400}, Case{"error-internal", 500}}) {
    SCOPED_TRACE(c.name);
    TranslatedReply reply = translate_error(c.http_status, golden(c.name + ".json"));
    json::value expected = parse(golden(c.name + ".expected.json"));
    EXPECT_EQ(reply.status, expected.at("status").as_int64());
    EXPECT_EQ(parse(reply.body), expected.at("body")) << reply.body;
  }
  EXPECT_EQ(retry_after(golden("error-quota.json")), "37");
  EXPECT_EQ(retry_after(golden("error-not-found.json")), std::nullopt);
}

std::vector<float> decode_floats(std::string_view b64) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  std::string bytes;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : b64) {
    int v = value(c);
    if (v < 0) break;
    acc = acc << 6 | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes += static_cast<char>(acc >> bits & 0xff);
    }
  }
  std::vector<float> out(bytes.size() / 4);
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint32_t u = 0;
    for (int k = 0; k < 4; ++k)
      u |= std::uint32_t(static_cast<unsigned char>(bytes[i * 4 + k])) << (8 * k);
    std::memcpy(&out[i], &u, 4);
  }
  return out;
}

TEST(GeminiGolden, Embeddings) {
  const std::string request =
      R"({"model":"text-embedding-3-small","input":["What is the meaning of life?","How does the brain work?"]})";
  EmbeddingsRequest info;
  auto body = translate_embeddings_request(request, "gemini-embedding-001", &info);
  ASSERT_TRUE(body) << body.error().message;
  EXPECT_EQ(parse(*body), parse(R"({"requests":[
      {"model":"models/gemini-embedding-001","content":{"parts":[{"text":"What is the meaning of life?"}]}},
      {"model":"models/gemini-embedding-001","content":{"parts":[{"text":"How does the brain work?"}]}}]})"));
  EXPECT_FALSE(info.base64);
  EXPECT_EQ(info.inputs, 2u);
  EXPECT_EQ(info.estimated_tokens, 13u);  // ceil(28 / 4) + ceil(24 / 4)

  auto out =
      translate_embeddings_response(golden("embeddings-answer.json"), "gemini-embedding-001", info);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(parse(*out), parse(golden("embeddings-answer.expected.json"))) << *out;
  EXPECT_TRUE(cache::complete_json_answer(Endpoint::kEmbeddings, *out));
  auto usage = api::find_usage(*out);
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 13u);
  // The values keep their digits (no 17-digit doubles), without Gemini's pretty-printing.
  EXPECT_NE(out->find("-8.3654784e-05,0.031116402,"), std::string::npos) << *out;
  EXPECT_EQ(out->find('\n'), std::string::npos);

  // The OpenAI Node client's default: base64 of little-endian float32s.
  info.base64 = true;
  auto b64 =
      translate_embeddings_response(golden("embeddings-answer.json"), "gemini-embedding-001", info);
  ASSERT_TRUE(b64);
  json::value v = parse(*b64);
  json::value gemini_answer = parse(golden("embeddings-answer.json"));
  const json::array& gemini = gemini_answer.at("embeddings").as_array();
  for (std::size_t i = 0; i < 2; ++i) {
    auto floats = decode_floats(v.at("data").at(i).at("embedding").as_string());
    const json::array& values = gemini[i].at("values").as_array();
    ASSERT_EQ(floats.size(), values.size());
    for (std::size_t k = 0; k < floats.size(); ++k) {
      EXPECT_EQ(floats[k], static_cast<float>(values[k].to_number<double>()));
    }
  }
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

// Twenty objects inside one another are some forty levels of JSON: deeper than Boost.JSON's
// default of 32, well within what the gateway accepts (128) and within the schema limit.
TEST(GeminiSchema, ADeeplyNestedSchemaIsTranslated) {
  std::string schema = R"({"type":"string"})";
  for (int i = 0; i < 20; ++i) schema = R"({"type":"object","properties":{"a":)" + schema + "}}";
  auto r = translate_request(with_tool(schema));
  ASSERT_TRUE(r) << r.error().message;
  json::parse_options deep;
  deep.max_depth = 128;
  json::value g = json::parse(r->body, {}, deep);
  const json::value* v = &g.at("tools").at(0).at("functionDeclarations").at(0).at("parameters");
  for (int i = 0; i < 20; ++i) v = &v->at("properties").at("a");
  EXPECT_EQ(v->at("type"), "string");
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

// ---------------------------------------------------------------------------------------------
// Answers

std::string candidate(std::string_view parts, std::string_view finish, std::string_view more = "") {
  std::string c = R"({"content":{"parts":[)" + std::string(parts) + R"(],"role":"model"})";
  if (!finish.empty()) c += R"(,"finishReason":")" + std::string(finish) + "\"";
  if (!more.empty()) c += "," + std::string(more);
  return c + "}";
}

json::value choice0(std::string_view gemini_body) {
  return parse(answer(gemini_body)).at("choices").at(0);
}

TEST(GeminiAnswer, FinishReasons) {
  struct Case {
    std::string gemini;
    std::string parts;
    std::string openai;
  };
  const std::string text = R"({"text":"x"})";
  const std::string call = R"({"functionCall":{"name":"f","args":{}}})";
  for (const Case& c :
       {Case{"STOP", text, "stop"}, Case{"STOP", call, "tool_calls"},
        Case{"MAX_TOKENS", text, "length"}, Case{"MAX_TOKENS", call, "length"},
        Case{"SAFETY", text, "content_filter"}, Case{"RECITATION", text, "content_filter"},
        Case{"BLOCKLIST", text, "content_filter"},
        Case{"PROHIBITED_CONTENT", text, "content_filter"}, Case{"SPII", text, "content_filter"},
        Case{"IMAGE_SAFETY", text, "content_filter"}, Case{"OTHER", text, "stop"},
        Case{"LANGUAGE", text, "stop"}, Case{"MALFORMED_FUNCTION_CALL", text, "stop"},
        Case{"FINISH_REASON_UNSPECIFIED", text, "stop"}}) {
    json::value c0 = choice0(R"({"candidates":[)" + candidate(c.parts, c.gemini) + "]}");
    EXPECT_EQ(c0.at("finish_reason"), c.openai.c_str()) << c.gemini;
  }
}

TEST(GeminiAnswer, SeveralCandidatesAndTheirIndexes) {
  std::string out =
      answer(R"({"candidates":[)" + candidate(R"({"text":"one"})", "STOP", R"("index":0)") + "," +
             candidate(R"({"text":"two"},{"text":" more"})", "MAX_TOKENS", R"("index":1)") + "]}");
  json::value v = parse(out);
  EXPECT_EQ(v.at("choices").at(1).at("index"), 1);
  EXPECT_EQ(v.at("choices").at(1).at("message").at("content"), "two more");
  EXPECT_EQ(v.at("choices").at(1).at("finish_reason"), "length");
  EXPECT_FALSE(v.as_object().contains("usage"));  // Gemini said nothing: nothing is made up
  EXPECT_FALSE(api::find_usage(out).has_value());
  EXPECT_TRUE(cache::complete_json_answer(Endpoint::kChatCompletions, out));
}

TEST(GeminiAnswer, TheModelAndTheCallIds) {
  // Without modelVersion the upstream model is named; Gemini's own call ids are kept.
  std::string out =
      answer(R"({"candidates":[)" +
                 candidate(R"({"functionCall":{"id":"fc-1","name":"f","args":{"a":[1]}}},
                                           {"functionCall":{"name":"g"}})",
                           "STOP") +
                 "]}",
             "gemini-2.0-flash");
  json::value v = parse(out);
  EXPECT_EQ(v.at("model"), "gemini-2.0-flash");
  const json::value& calls = v.at("choices").at(0).at("message").at("tool_calls");
  EXPECT_EQ(calls.at(0).at("id"), "fc-1");
  EXPECT_EQ(calls.at(0).at("function").at("arguments"), R"({"a":[1]})");
  EXPECT_EQ(calls.at(1).at("id"), (kCallPrefix + "1").c_str());
  EXPECT_EQ(calls.at(1).at("function").at("arguments"), "{}");
  EXPECT_TRUE(v.at("choices").at(0).at("message").at("content").is_null());
}

TEST(GeminiAnswer, Logprobs) {
  json::value c0 = choice0(R"({"candidates":[)" + candidate(R"({"text":"Hé"})", "STOP", R"(
      "logprobsResult":{"topCandidates":[{"candidates":[{"token":"Hé","tokenId":5,"logProbability":-0.25},
        {"token":"Ha","tokenId":6,"logProbability":-1.5}]}],
        "chosenCandidates":[{"token":"Hé","tokenId":5,"logProbability":-0.25}]})") +
                           "]}");
  EXPECT_EQ(c0.at("logprobs"),
            parse(R"({"content":[{"token":"Hé","logprob":-0.25,"bytes":[72,195,169],
      "top_logprobs":[{"token":"Hé","logprob":-0.25,"bytes":[72,195,169]},{"token":"Ha","logprob":-1.5,"bytes":[72,97]}]}]})"));
}

TEST(GeminiAnswer, UsageCountsToolPromptsAsInput) {
  std::string out = answer(R"({"candidates":[)" + candidate(R"({"text":"x"})", "STOP") +
                           R"(],"usageMetadata":{"promptTokenCount":10,"toolUsePromptTokenCount":5,
      "candidatesTokenCount":3,"thoughtsTokenCount":4,"totalTokenCount":22}})");
  EXPECT_EQ(parse(out).at("usage"),
            parse(R"({"prompt_tokens":15,"completion_tokens":7,"total_tokens":22,
      "prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":4}})"));
}

TEST(GeminiAnswer, WhatIsNotADocumentedAnswerIsAProtocolError) {
  auto bad = [](std::string_view body) {
    auto r = translate_response(body, kModel, kId, kCreated);
    EXPECT_FALSE(r) << body;
    if (!r) {
      EXPECT_EQ(r.error().code, Errc::kUpstreamProtocol);
    }
  };
  bad("not json");
  bad("[]");
  bad(R"({"candidates":[]})");
  bad(R"({"modelVersion":"x"})");
  bad(R"({"error":{"code":500,"message":"x"}})");
  bad(R"({"candidates":[7]})");
  bad(R"({"candidates":[{"index":-1,"content":{"parts":[{"text":"x"}]}}]})");
  bad(R"({"candidates":[{"content":{"parts":[{"text":5}]}}]})");
  bad(R"({"candidates":[{"content":{"parts":[{"functionCall":{"args":{}}}]}}]})");
  // An image from an image model has no place in a chat.completion: refused, not dropped.
  bad(R"({"candidates":[{"content":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AA=="}}]},"finishReason":"STOP"}]})");
  // A part that only carries a signature is nothing to lose.
  EXPECT_EQ(
      choice0(
          R"({"candidates":[{"content":{"parts":[{"text":"ok"},{"thoughtSignature":"c2ln"}]},"finishReason":"STOP"}]})")
          .at("message")
          .at("content"),
      "ok");
}

// ---------------------------------------------------------------------------------------------
// Streams

// One Gemini stream event.
std::string gemini_event(std::string_view json_text) {
  return "data: " + std::string(json_text) + "\n\n";
}

TEST(GeminiStream, FinishReasonRepeatedOnEveryEventEndsTheChoiceOnce) {
  // As the gemini-pro stream in the cookbook's REST quickstart: "STOP" on every event.
  std::string sse =
      gemini_event(R"({"candidates":[)" +
                   candidate(R"({"text":"In the"})", "STOP", R"("index":0)") + "]}") +
      gemini_event(R"({"candidates":[)" +
                   candidate(R"({"text":" meadow."})", "STOP", R"("index":0)") + "]}");
  std::string out = translate_stream(sse, false);
  EXPECT_EQ(out.find("\"stop\""), out.rfind("\"stop\"")) << out;
  auto assembled = cache::assemble(Endpoint::kChatCompletions, out);
  ASSERT_TRUE(assembled) << out;
  EXPECT_EQ(parse(*assembled).at("choices").at(0).at("message").at("content"), "In the meadow.");
}

TEST(GeminiStream, ABlockedPromptIsAFilteredEmptyChoice) {
  std::string out = translate_stream(
      gemini_event(
          R"({"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":5,"totalTokenCount":5},"modelVersion":"gemini-2.0-flash"})"),
      true);
  EXPECT_TRUE(cache::complete_stream(Endpoint::kChatCompletions, out)) << out;
  auto assembled = cache::assemble(Endpoint::kChatCompletions, out);
  ASSERT_TRUE(assembled);
  json::value v = parse(*assembled);
  EXPECT_EQ(v.at("model"), "gemini-2.0-flash");
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "");
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason"), "content_filter");
  EXPECT_EQ(v.at("usage").at("prompt_tokens"), 5);

  // Blocked after the text began: the choice it cut off ends as filtered.
  out = translate_stream(
      gemini_event(R"({"candidates":[{"content":{"parts":[{"text":"text1"}],"role":"model"}}]})") +
          gemini_event(R"({"promptFeedback":{"blockReason":"SAFETY"}})"),
      false);
  assembled = cache::assemble(Endpoint::kChatCompletions, out);
  ASSERT_TRUE(assembled) << out;
  EXPECT_EQ(parse(*assembled).at("choices").at(0).at("finish_reason"), "content_filter");
}

TEST(GeminiStream, SeveralCandidates) {
  std::string sse =
      gemini_event(R"({"candidates":[)" + candidate(R"({"text":"a"})", "", R"("index":0)") + "," +
                   candidate(R"({"text":"b"})", "", R"("index":1)") + "]}") +
      gemini_event(
          R"({"candidates":[)" + candidate(R"({"text":"c"})", "STOP", R"("index":1)") + "," +
          candidate(R"({"functionCall":{"name":"f","args":{"x":1}}})", "STOP", R"("index":0)") +
          "]}");
  std::string out = translate_stream(sse, false);
  auto assembled = cache::assemble(Endpoint::kChatCompletions, out);
  ASSERT_TRUE(assembled) << out;
  json::value v = parse(*assembled);
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content"), "a");
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason"), "tool_calls");
  EXPECT_EQ(v.at("choices").at(0).at("message").at("tool_calls").at(0).at("id"),
            (kCallPrefix + "0").c_str());
  EXPECT_EQ(v.at("choices").at(1).at("message").at("content"), "bc");
  EXPECT_EQ(v.at("choices").at(1).at("finish_reason"), "stop");
}

TEST(GeminiStream, EveryChunkHasTheEnvelope) {
  std::string out = translate_stream(golden("function-call-stream.sse"), true);
  for (const std::string& d : event_data(out)) {
    if (d == "[DONE]") continue;
    json::value v = parse(d);
    EXPECT_EQ(v.at("id"), kId.c_str());
    EXPECT_EQ(v.at("object"), "chat.completion.chunk");
    EXPECT_EQ(v.at("created"), kCreated);
    EXPECT_EQ(v.at("model"), "gemini-2.5-flash");
    EXPECT_TRUE(v.as_object().contains("usage"));
    for (const json::value& c : v.at("choices").as_array()) {
      EXPECT_TRUE(c.as_object().contains("index"));
      EXPECT_TRUE(c.as_object().contains("delta"));
      EXPECT_TRUE(c.as_object().contains("finish_reason"));
    }
  }
  // The first chunk opens the choice as OpenAI's does.
  EXPECT_EQ(parse(event_data(out).front()).at("choices").at(0).at("delta").at("role"), "assistant");
}

TEST(GeminiStream, AStreamThatEndsEarlyIsNotPassedOffAsWhole) {
  auto fails = [](std::string_view sse) {
    StreamTranslator t(true, kModel, kId, kCreated);
    std::string out;
    auto fed = t.feed(sse, out);
    if (fed) {
      auto done = t.finish(out);
      EXPECT_FALSE(done) << sse;
      if (!done) {
        EXPECT_EQ(done.error().code, Errc::kUpstreamProtocol);
      }
    } else {
      EXPECT_EQ(fed.error().code, Errc::kUpstreamProtocol);
    }
  };
  fails("");  // nothing at all
  fails(gemini_event(
      R"({"candidates":[{"content":{"parts":[{"text":"cut"}]}}]})"));  // no finishReason
  fails(gemini_event("not json"));
  fails(gemini_event("[1]"));
  fails(gemini_event(R"({"candidates":{}})"));
  fails(gemini_event(R"({"error":"overloaded"})"));
  fails(R"(data: {"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}]})");
}

TEST(GeminiStream, ErrorEventsCarryGeminisStatus) {
  StreamTranslator t(false, kModel, kId, kCreated);
  std::string out;
  auto r = t.feed(
      gemini_event(
          R"({"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED"}})"),
      out);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::kUpstreamError);
  EXPECT_EQ(api::http_status(r.error()), 429);
  EXPECT_EQ(api::error_type(r.error()), "rate_limit_error");
  EXPECT_TRUE(out.empty());
}

TEST(GeminiStream, IncludeUsageWithoutUsageFromGemini) {
  std::string out = translate_stream(
      gemini_event(
          R"({"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}]})"),
      true);
  EXPECT_TRUE(cache::complete_stream(Endpoint::kChatCompletions, out));
  EXPECT_FALSE(api::find_usage(out).has_value());  // no usage chunk is made up
}

TEST(GeminiStream, ALongStreamOfLargeEventsIsTranslated) {
  // The translator's parser reuses its arena across the stream. Boost 1.81's monotonic_resource,
  // reused with release(), doubles its next block each time: the translator's own parser threw
  // std::bad_alloc some twenty events past its 8 KiB first block. Sixty of 12 KiB must translate.
  const std::string piece(12 * 1024, 'x');
  std::string sse;
  for (int i = 0; i < 60; ++i) {
    sse +=
        gemini_event(R"({"candidates":[)" + candidate(R"({"text":")" + piece + "\"}", "") + "]}");
  }
  sse += gemini_event(R"({"candidates":[)" + candidate(R"({"text":""})", "STOP") + "]}");
  std::string out = translate_stream(sse, false);
  auto assembled = cache::assemble(Endpoint::kChatCompletions, out);
  ASSERT_TRUE(assembled) << out.substr(0, 200);
  EXPECT_EQ(parse(*assembled).at("choices").at(0).at("message").at("content").as_string().size(),
            60u * piece.size());
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(GeminiError, StatusesAndTypes) {
  struct Case {
    std::string status;
    int code;
    int client;
    std::string type;
  };
  for (const Case& c :
       {Case{"INVALID_ARGUMENT", 400, 400, "invalid_request_error"},
        Case{"FAILED_PRECONDITION", 400, 400, "invalid_request_error"},
        Case{"UNAUTHENTICATED", 401, 401, "authentication_error"},
        Case{"PERMISSION_DENIED", 403, 403, "permission_error"},
        Case{"NOT_FOUND", 404, 404, "invalid_request_error"},
        Case{"RESOURCE_EXHAUSTED", 429, 429, "rate_limit_error"},
        Case{"CANCELLED", 499, 502, "server_error"}, Case{"INTERNAL", 500, 500, "server_error"},
        Case{"UNAVAILABLE", 503, 503, "server_error"},
        Case{"DEADLINE_EXCEEDED", 504, 504, "server_error"},
        Case{"SOMETHING_NEW", 418, 418, "invalid_request_error"}}) {
    std::string body = R"({"error":{"code":)" + std::to_string(c.code) +
                       R"(,"message":"m","status":")" + c.status + R"("}})";
    TranslatedReply reply = translate_error(c.code, body);
    EXPECT_EQ(reply.status, c.client) << c.status;
    json::value v = parse(reply.body);
    EXPECT_EQ(v.at("error").at("type"), c.type.c_str()) << c.status;
    EXPECT_EQ(v.at("error").at("message"), "m");
  }
}

TEST(GeminiError, BodiesThatAreNotGeminisShape) {
  TranslatedReply html = translate_error(502, "<html><body>Bad Gateway</body></html>");
  EXPECT_EQ(html.status, 502);
  std::string message(parse(html.body).at("error").at("message").as_string());
  EXPECT_NE(message.find("Bad Gateway"), std::string::npos) << message;

  TranslatedReply empty = translate_error(503, "");
  EXPECT_EQ(empty.status, 503);
  EXPECT_EQ(parse(empty.body).at("error").at("type"), "server_error");

  // A status that is no error still gives the client one.
  EXPECT_EQ(translate_error(200, "{}").status, 502);
}

TEST(GeminiError, RetryAfter) {
  auto retry = [](std::string_view delay) {
    return retry_after(R"({"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[
        {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":")" +
                       std::string(delay) + R"("}]}})");
  };
  EXPECT_EQ(retry("32s"), "32");
  EXPECT_EQ(retry("1.2s"), "2");
  EXPECT_EQ(retry("0s"), "0");
  EXPECT_EQ(retry("soon"), std::nullopt);
  EXPECT_EQ(retry_after("not json"), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// Embeddings

TEST(GeminiEmbeddings, Requests) {
  EmbeddingsRequest info;
  auto r = translate_embeddings_request(R"({"model":"e","input":"héllo","dimensions":256,
      "encoding_format":"base64","user":"u"})",
                                        "models/gemini-embedding-001", &info);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(parse(*r), parse(R"({"requests":[{"model":"models/gemini-embedding-001",
      "content":{"parts":[{"text":"héllo"}]},"outputDimensionality":256}]})"));
  EXPECT_TRUE(info.base64);
  EXPECT_EQ(info.inputs, 1u);
  EXPECT_EQ(info.estimated_tokens, 2u);  // 6 bytes

  auto bad = [](std::string_view body, std::string_view param) {
    auto r = translate_embeddings_request(body, "m");
    EXPECT_FALSE(r) << body;
    if (!r) {
      EXPECT_EQ(api::http_status(r.error()), 400);
      EXPECT_EQ(r.error().param, param);
    }
  };
  bad(R"({"model":"e","input":[1,2,3]})", "input");
  bad(R"({"model":"e","input":[[1,2],[3]]})", "input");
  bad(R"({"model":"e","input":[]})", "input");
  bad(R"({"model":"e","input":["a",{}]})", "input[1]");
  bad(R"({"model":"e","input":7})", "input");
  bad(R"({"model":"e"})", "input");
  bad(R"({"model":"e","input":"a","encoding_format":"int8"})", "encoding_format");
  bad(R"({"model":"e","input":"a","dimensions":"256"})", "dimensions");
  bad(R"({"model":"e","input":"a","task":"x"})", "task");
  bad("nope", "");
}

TEST(GeminiEmbeddings, Answers) {
  EmbeddingsRequest two;
  two.inputs = 2;
  auto mismatch = translate_embeddings_response(R"({"embeddings":[{"values":[0.5]}]})", "m", two);
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().code, Errc::kUpstreamProtocol);
  EXPECT_FALSE(translate_embeddings_response(R"({"embeddings":[{"values":["x"]}]})", "m"));
  EXPECT_FALSE(translate_embeddings_response(R"({"embeddings":[]})", "m"));
  EXPECT_FALSE(translate_embeddings_response("<html>", "m"));
  // Vertex AI counts the prompt; its count wins over the estimate.
  EmbeddingsRequest one;
  one.estimated_tokens = 99;
  auto vertex = translate_embeddings_response(
      R"({"embeddings":[{"values":[1,0.25]}],"usageMetadata":{"promptTokenCount":4}})", "m", one);
  ASSERT_TRUE(vertex);
  EXPECT_EQ(parse(*vertex).at("usage"), parse(R"({"prompt_tokens":4,"total_tokens":4})"));
  EXPECT_EQ(parse(*vertex).at("data").at(0).at("embedding"), parse("[1,0.25]"));
  // Another "values" member elsewhere does not shift the vectors.
  auto extra = translate_embeddings_response(
      R"({"embeddings":[{"values":[0.5, -1]}],"metadata":{"values":[7]}})", "m");
  ASSERT_TRUE(extra);
  EXPECT_EQ(parse(*extra).at("data").at(0).at("embedding"), parse("[0.5,-1]"));
}

}  // namespace
}  // namespace sluice::provider::gemini
