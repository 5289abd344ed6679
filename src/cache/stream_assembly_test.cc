#include "cache/stream_assembly.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "core/asio.h"
#include "mock/engine.h"

namespace sluice::cache {
namespace {

using api::Endpoint;
using core::Errc;

// ---------------------------------------------------------------------------------------------
// Wire examples, written out as OpenAI sends them.

// A plain chat answer (gpt-4o), as it streams without stream_options.
constexpr std::string_view kPlainStream =
    R"(data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_fc9f1d7035","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_fc9f1d7035","choices":[{"index":0,"delta":{"content":"Hello"},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_fc9f1d7035","choices":[{"index":0,"delta":{"content":"!"},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_fc9f1d7035","choices":[{"index":0,"delta":{"content":" How can I help you today?"},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_fc9f1d7035","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}

data: [DONE]

)";

constexpr std::string_view kPlainAnswer =
    R"({"id":"chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG","object":"chat.completion","created":1741570283,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?","refusal":null},"logprobs":null,"finish_reason":"stop"}],"service_tier":"default","system_fingerprint":"fp_fc9f1d7035"})";

// stream_options.include_usage: "usage": null on every chunk, then a chunk with no choices.
constexpr std::string_view kUsageChunk =
    R"(data: {"id":"chatcmpl-AhXq7","object":"chat.completion.chunk","created":1734998000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0aa8d3e20b","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":2,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}

)";

constexpr std::string_view kUsageStreamHead =
    R"(data: {"id":"chatcmpl-AhXq7","object":"chat.completion.chunk","created":1734998000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0aa8d3e20b","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-AhXq7","object":"chat.completion.chunk","created":1734998000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0aa8d3e20b","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-AhXq7","object":"chat.completion.chunk","created":1734998000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0aa8d3e20b","choices":[{"index":0,"delta":{"content":"!"},"logprobs":null,"finish_reason":null}],"usage":null}

data: {"id":"chatcmpl-AhXq7","object":"chat.completion.chunk","created":1734998000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_0aa8d3e20b","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}],"usage":null}

)";

constexpr std::string_view kDoneEvent = "data: [DONE]\n\n";

std::string usage_stream() {
  return std::string(kUsageStreamHead) + std::string(kUsageChunk) + std::string(kDoneEvent);
}

// Two parallel tool calls, the arguments in fragments, one of them with multi-byte text.
constexpr std::string_view kToolStream =
    R"(data: {"id":"chatcmpl-B1tools","object":"chat.completion.chunk","created":1739000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_50cad350e4","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_Vw1fZ0","type":"function","function":{"name":"get_weather","arguments":""}}],"refusal":null},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-B1tools","object":"chat.completion.chunk","created":1739000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_50cad350e4","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"lo"}}]},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-B1tools","object":"chat.completion.chunk","created":1739000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_50cad350e4","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"cation\": \"Par"}}]},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-B1tools","object":"chat.completion.chunk","created":1739000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_50cad350e4","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"is, France\"}"}}]},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-B1tools","object":"chat.completion.chunk","created":1739000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_50cad350e4","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_Xy2Qk9","type":"function","function":{"name":"get_weather","arguments":""}}]},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-B1tools","object":"chat.completion.chunk","created":1739000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_50cad350e4","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"{\"location\": "}}]},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-B1tools","object":"chat.completion.chunk","created":1739000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_50cad350e4","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\"東"}}]},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-B1tools","object":"chat.completion.chunk","created":1739000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_50cad350e4","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"\u4eac\"}"}}]},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-B1tools","object":"chat.completion.chunk","created":1739000000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_50cad350e4","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"tool_calls"}]}

data: [DONE]

)";

// n=2, the choices interleaved out of order; the second one is cut by max_tokens.
constexpr std::string_view kTwoChoiceStream =
    R"(data: {"id":"chatcmpl-n2","object":"chat.completion.chunk","created":1739100000,"model":"gpt-4o-mini","choices":[{"index":1,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-n2","object":"chat.completion.chunk","created":1739100000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-n2","object":"chat.completion.chunk","created":1739100000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Red"},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-n2","object":"chat.completion.chunk","created":1739100000,"model":"gpt-4o-mini","choices":[{"index":1,"delta":{"content":"Blue"},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-n2","object":"chat.completion.chunk","created":1739100000,"model":"gpt-4o-mini","choices":[{"index":1,"delta":{"content":" and"},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-n2","object":"chat.completion.chunk","created":1739100000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"."},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-n2","object":"chat.completion.chunk","created":1739100000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}

data: {"id":"chatcmpl-n2","object":"chat.completion.chunk","created":1739100000,"model":"gpt-4o-mini","choices":[{"index":1,"delta":{},"logprobs":null,"finish_reason":"length"}]}

data: [DONE]

)";

// A structured-output refusal: content stays null, the refusal streams.
constexpr std::string_view kRefusalStream =
    R"(data: {"id":"chatcmpl-ref","object":"chat.completion.chunk","created":1739200000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_7568d46099","choices":[{"index":0,"delta":{"role":"assistant","content":null,"refusal":""},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-ref","object":"chat.completion.chunk","created":1739200000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_7568d46099","choices":[{"index":0,"delta":{"refusal":"I'm sorry,"},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-ref","object":"chat.completion.chunk","created":1739200000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_7568d46099","choices":[{"index":0,"delta":{"refusal":" I can't assist with that request."},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-ref","object":"chat.completion.chunk","created":1739200000,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_7568d46099","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}

data: [DONE]

)";

// logprobs: true with top_logprobs: 2.
constexpr std::string_view kLogprobsStream =
    R"(data: {"id":"chatcmpl-lp","object":"chat.completion.chunk","created":1739300000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":{"content":[],"refusal":null},"finish_reason":null}]}

data: {"id":"chatcmpl-lp","object":"chat.completion.chunk","created":1739300000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":{"content":[{"token":"Hi","logprob":-0.0012,"bytes":[72,105],"top_logprobs":[{"token":"Hi","logprob":-0.0012,"bytes":[72,105]},{"token":"Hello","logprob":-6.75,"bytes":[72,101,108,108,111]}]}],"refusal":null},"finish_reason":null}]}

data: {"id":"chatcmpl-lp","object":"chat.completion.chunk","created":1739300000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"!"},"logprobs":{"content":[{"token":"!","logprob":-0.31,"bytes":[33],"top_logprobs":[{"token":"!","logprob":-0.31,"bytes":[33]},{"token":".","logprob":-1.4,"bytes":[46]}]}],"refusal":null},"finish_reason":null}]}

data: {"id":"chatcmpl-lp","object":"chat.completion.chunk","created":1739300000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}

data: [DONE]

)";

// Multi-byte text split across chunks, some of it as \u escapes (a surrogate pair for the emoji).
constexpr std::string_view kUnicodeStream =
    R"(data: {"id":"chatcmpl-u","object":"chat.completion.chunk","created":1739400000,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-u","object":"chat.completion.chunk","created":1739400000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"Grü"},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-u","object":"chat.completion.chunk","created":1739400000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"ße, \u4e16"},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-u","object":"chat.completion.chunk","created":1739400000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"界 \ud83c\udf0d"},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-u","object":"chat.completion.chunk","created":1739400000,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"\n\"quoted\"\ttab"},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-u","object":"chat.completion.chunk","created":1739400000,"model":"gpt-4o","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}

data: [DONE]

)";

// Legacy completions (gpt-3.5-turbo-instruct) with logprobs: 1 and stream_options.include_usage.
constexpr std::string_view kTextStream =
    R"(data: {"id":"cmpl-AVXq","object":"text_completion","created":1739500000,"choices":[{"text":"\n\nThis","index":0,"logprobs":{"tokens":["\n\n","This"],"token_logprobs":[-0.2,-0.05],"top_logprobs":[{"\n\n":-0.2},{"This":-0.05}],"text_offset":[19,21]},"finish_reason":null}],"model":"gpt-3.5-turbo-instruct","usage":null}

data: {"id":"cmpl-AVXq","object":"text_completion","created":1739500000,"choices":[{"text":" is a test","index":0,"logprobs":{"tokens":[" is"," a"," test"],"token_logprobs":[-0.01,-0.02,-0.03],"top_logprobs":[{" is":-0.01},{" a":-0.02},{" test":-0.03}],"text_offset":[25,28,30]},"finish_reason":null}],"model":"gpt-3.5-turbo-instruct","usage":null}

data: {"id":"cmpl-AVXq","object":"text_completion","created":1739500000,"choices":[{"text":"","index":0,"logprobs":{"tokens":[],"token_logprobs":[],"top_logprobs":[],"text_offset":[]},"finish_reason":"length"}],"model":"gpt-3.5-turbo-instruct","usage":null}

data: {"id":"cmpl-AVXq","object":"text_completion","created":1739500000,"model":"gpt-3.5-turbo-instruct","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":4,"total_tokens":9}}

data: [DONE]

)";

// ---------------------------------------------------------------------------------------------
// Helpers

json::value parse(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  EXPECT_FALSE(ec) << "not JSON: " << text;
  return v;
}

json::value assembled(Endpoint endpoint, std::string_view sse) {
  auto r = assemble(endpoint, sse);
  EXPECT_TRUE(r.has_value()) << (r ? std::string() : r.error().message);
  return r ? parse(*r) : json::value();
}

// The stream with every "\n" line ending replaced by `eol`. JSON in the examples has no raw
// newlines (they are escaped), so only line endings change.
std::string with_eol(std::string_view sse, std::string_view eol) {
  std::string out;
  for (char c : sse) {
    if (c == '\n') {
      out += eol;
    } else {
      out += c;
    }
  }
  return out;
}

// Splits a stream this file produced (or the mock did): "data: ...\n\n" events only. Returns the
// JSON chunks and checks the framing and the final [DONE].
std::vector<json::object> chunks_of(std::string_view sse) {
  std::vector<json::object> out;
  bool done = false;
  while (!sse.empty()) {
    std::size_t end = sse.find("\n\n");
    if (end == std::string_view::npos) {
      ADD_FAILURE() << "unterminated event: " << sse;
      break;
    }
    std::string_view ev = sse.substr(0, end);
    sse.remove_prefix(end + 2);
    EXPECT_FALSE(done) << "event after [DONE]";
    EXPECT_EQ(ev.substr(0, 6), "data: ") << ev;
    EXPECT_EQ(ev.find('\n'), std::string_view::npos) << "one line per event: " << ev;
    std::string_view data = ev.substr(6);
    if (data == "[DONE]") {
      done = true;
      continue;
    }
    json::value v = parse(data);
    EXPECT_TRUE(v.is_object()) << data;
    if (v.is_object()) out.push_back(v.get_object());
  }
  EXPECT_TRUE(done) << "no data: [DONE]";
  return out;
}

std::string str(const json::value& v) { return std::string(v.as_string()); }

const json::object& message_of(const json::value& answer, std::size_t choice = 0) {
  return answer.at("choices").at(choice).at("message").as_object();
}

json::value without(json::value v, std::string_view key) {
  v.as_object().erase(key);
  return v;
}

std::string join(const std::vector<std::string>& events) {
  std::string out;
  for (const std::string& e : events) out += e;
  return out;
}

// ---------------------------------------------------------------------------------------------
// complete_json_answer

constexpr std::string_view kEmbeddingAnswer =
    R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.0023064255,-0.009327292,0.015797347]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":8,"total_tokens":8}})";

constexpr std::string_view kImageAnswer =
    R"({"created":1739600000,"data":[{"b64_json":"iVBORw0KGgo="}],"usage":{"total_tokens":4210,"input_tokens":50,"output_tokens":4160,"input_tokens_details":{"text_tokens":50,"image_tokens":0}}})";

constexpr std::string_view kTextAnswer =
    R"({"id":"cmpl-uqkvlQ","object":"text_completion","created":1739500000,"model":"gpt-3.5-turbo-instruct","system_fingerprint":"fp_44709d6fcb","choices":[{"text":"\n\nThis is indeed a test","index":0,"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}})";

TEST(StreamAssemblyCompleteJson, AcceptsWholeAnswersOfEachEndpoint) {
  EXPECT_TRUE(complete_json_answer(Endpoint::kChatCompletions, kPlainAnswer));
  EXPECT_TRUE(complete_json_answer(Endpoint::kCompletions, kTextAnswer));
  EXPECT_TRUE(complete_json_answer(Endpoint::kEmbeddings, kEmbeddingAnswer));
  EXPECT_TRUE(complete_json_answer(Endpoint::kImageGenerations, kImageAnswer));
  // A length-limited or filtered answer is still the whole answer.
  for (std::string_view reason : {"length", "content_filter", "tool_calls"}) {
    std::string body = R"({"id":"c","object":"chat.completion","created":1,"model":"m",)"
                       R"("choices":[{"index":0,"message":{"role":"assistant","content":"x"},)"
                       R"("finish_reason":")" +
                       std::string(reason) + R"("}]})";
    EXPECT_TRUE(complete_json_answer(Endpoint::kChatCompletions, body)) << reason;
  }
}

TEST(StreamAssemblyCompleteJson, RejectsErrorsFragmentsAndOtherKinds) {
  const std::vector<std::pair<Endpoint, std::string_view>> bad = {
      {Endpoint::kChatCompletions,
       R"({"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}})"},
      {Endpoint::kChatCompletions,
       R"({"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}],"error":{"message":"late"}})"},
      {Endpoint::kChatCompletions, R"({"id":"c","object":"chat.completion","choices":[]})"},
      {Endpoint::kChatCompletions, R"({"id":"c","object":"chat.completion"})"},
      {Endpoint::kChatCompletions,
       R"({"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":null}]})"},
      {Endpoint::kChatCompletions,
       R"({"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"x"}}]})"},
      {Endpoint::kChatCompletions,
       R"({"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"},{"index":1,"message":{"role":"assistant","content":"y"},"finish_reason":null}]})"},
      {Endpoint::kChatCompletions,
       R"({"id":"c","object":"chat.completion","choices":[{"index":0,"finish_reason":"stop"}]})"},
      {Endpoint::kChatCompletions,
       R"({"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}]})"},
      {Endpoint::kChatCompletions, kTextAnswer},
      {Endpoint::kCompletions, kPlainAnswer},
      {Endpoint::kCompletions,
       R"({"id":"c","object":"text_completion","choices":[{"text":"x","index":0,"finish_reason":null}]})"},
      {Endpoint::kEmbeddings, R"({"object":"list","data":[],"model":"m"})"},
      {Endpoint::kEmbeddings, R"({"object":"list","model":"m"})"},
      {Endpoint::kImageGenerations, R"({"created":1,"data":{}})"},
      {Endpoint::kImageGenerations, R"({"error":{"message":"blocked"},"data":[{"url":"x"}]})"},
      {Endpoint::kChatCompletions, R"([1,2,3])"},
      {Endpoint::kChatCompletions, R"({"id":"c","object":"chat.completion","choices":[)"},
      {Endpoint::kChatCompletions, ""},
      {Endpoint::kChatCompletions, kPlainStream},
  };
  for (const auto& [endpoint, body] : bad) {
    EXPECT_FALSE(complete_json_answer(endpoint, body)) << body;
  }
}

// ---------------------------------------------------------------------------------------------
// complete_stream

TEST(StreamAssemblyCompleteStream, AcceptsWholeStreams) {
  EXPECT_TRUE(complete_stream(Endpoint::kChatCompletions, kPlainStream));
  EXPECT_TRUE(complete_stream(Endpoint::kChatCompletions, usage_stream()));
  EXPECT_TRUE(complete_stream(Endpoint::kChatCompletions, kToolStream));
  EXPECT_TRUE(complete_stream(Endpoint::kChatCompletions, kTwoChoiceStream));
  EXPECT_TRUE(complete_stream(Endpoint::kChatCompletions, kRefusalStream));
  EXPECT_TRUE(complete_stream(Endpoint::kChatCompletions, kLogprobsStream));
  EXPECT_TRUE(complete_stream(Endpoint::kChatCompletions, kUnicodeStream));
  EXPECT_TRUE(complete_stream(Endpoint::kCompletions, kTextStream));
  for (std::string_view eol : {"\r\n", "\r"}) {
    EXPECT_TRUE(complete_stream(Endpoint::kChatCompletions, with_eol(kPlainStream, eol)));
  }
}

TEST(StreamAssemblyCompleteStream, CommentsAndOtherFieldsAreAllowed) {
  std::string sse = ": keep-alive\n\nid: 1\nevent: message\nretry: 3000\n" +
                    std::string(kPlainStream.substr(0, kPlainStream.find("\n\n") + 2)) +
                    ": OPENROUTER PROCESSING\n\n" +
                    std::string(kPlainStream.substr(kPlainStream.find("\n\n") + 2)) +
                    ": trailing comment\n\n\n";
  EXPECT_TRUE(complete_stream(Endpoint::kChatCompletions, sse));
  EXPECT_EQ(assembled(Endpoint::kChatCompletions, sse), parse(kPlainAnswer));
}

TEST(StreamAssemblyCompleteStream, TruncatedStreamsAreIncomplete) {
  std::string_view no_done = kPlainStream.substr(0, kPlainStream.size() - kDoneEvent.size());
  EXPECT_FALSE(complete_stream(Endpoint::kChatCompletions, no_done));
  // Every cut before the end of the final blank line: mid-event, mid-line, before [DONE] and
  // between "data: [DONE]" and its blank line.
  for (std::size_t n = 0; n < kPlainStream.size(); ++n) {
    ASSERT_FALSE(complete_stream(Endpoint::kChatCompletions, kPlainStream.substr(0, n))) << n;
  }
  std::string crlf = with_eol(kPlainStream, "\r\n");
  // A final lone "\r" already ends the blank line: only cuts before it are incomplete.
  for (std::size_t n = 0; n + 1 < crlf.size(); ++n) {
    ASSERT_FALSE(complete_stream(Endpoint::kChatCompletions, std::string_view(crlf).substr(0, n)))
        << n;
  }
}

TEST(StreamAssemblyCompleteStream, ErrorsAreIncomplete) {
  std::string head(kPlainStream.substr(0, kPlainStream.find("\n\n") + 2));
  // OpenAI reports a failure mid-stream as a data event with an error object.
  std::string error_event =
      R"(data: {"error":{"message":"The server had an error while processing your request. Sorry about that!","type":"server_error","param":null,"code":null}})"
      "\n\n";
  EXPECT_FALSE(
      complete_stream(Endpoint::kChatCompletions, head + error_event + "data: [DONE]\n\n"));
  // ... and some servers send a named error event.
  EXPECT_FALSE(complete_stream(Endpoint::kChatCompletions,
                               std::string(kPlainStream.substr(0, kPlainStream.size() - 14)) +
                                   "event: error\ndata: {\"message\":\"overloaded\"}\n\n" +
                                   "data: [DONE]\n\n"));
  // An error member on an otherwise normal chunk.
  std::string chunk_with_error(kPlainStream);
  chunk_with_error.replace(chunk_with_error.find(R"("choices":[{"index":0,"delta":{},)"), 0,
                           R"("error":null,)");
  EXPECT_FALSE(complete_stream(Endpoint::kChatCompletions, chunk_with_error));
}

TEST(StreamAssemblyCompleteStream, EveryChoiceNeedsAFinishReason) {
  std::string sse(kTwoChoiceStream);
  // Drop choice 1's finish chunk.
  std::size_t at = sse.find(R"("finish_reason":"length")");
  std::size_t begin = sse.rfind("data: ", at);
  std::size_t end = sse.find("\n\n", at) + 2;
  sse.erase(begin, end - begin);
  EXPECT_FALSE(complete_stream(Endpoint::kChatCompletions, sse));
  EXPECT_FALSE(assemble(Endpoint::kChatCompletions, sse).has_value());

  // A null or empty finish_reason is no finish_reason.
  std::string empty(kPlainStream);
  empty.replace(empty.find(R"("finish_reason":"stop")"), 22, R"("finish_reason":"")");
  EXPECT_FALSE(complete_stream(Endpoint::kChatCompletions, empty));
}

TEST(StreamAssemblyCompleteStream, RejectsMalformedEvents) {
  std::string plain(kPlainStream);
  std::string first(kPlainStream.substr(0, kPlainStream.find("\n\n") + 2));
  std::string rest(kPlainStream.substr(first.size()));
  const std::vector<std::string> bad = {
      "",
      "data: [DONE]\n\n",                                            // no choices at all
      ": keep-alive\n\n",                                            // nothing but a comment
      first + "data: {\"id\":\"chatcmpl-B9MHD\n\n" + rest,           // invalid JSON
      first + "data: 42\n\n" + rest,                                 // JSON but not an object
      first + "data: \n\n" + rest,                                   // empty data
      first + "data: {\"choices\":{}}\n\n" + rest,                   // choices not an array
      first + "data: {\"choices\":[7]}\n\n" + rest,                  // a choice not an object
      first + "data: {\"choices\":[{\"index\":-1}]}\n\n" + rest,     // negative index
      first + "data: {\"choices\":[{\"index\":\"0\"}]}\n\n" + rest,  // index not a number
      first + "data: {\"object\":\"chat.completion\"}\n\n" + rest,   // a non-stream object
      plain + first,                                                 // data after [DONE]
      plain.substr(0, plain.size() - 1),                             // [DONE] without blank line
  };
  for (const std::string& sse : bad) {
    EXPECT_FALSE(complete_stream(Endpoint::kChatCompletions, sse)) << sse;
    auto r = assemble(Endpoint::kChatCompletions, sse);
    ASSERT_FALSE(r.has_value()) << sse;
    EXPECT_EQ(r.error().code, Errc::kUpstreamProtocol);
    EXPECT_FALSE(r.error().message.empty());
  }
  // Chunks of the other endpoint.
  EXPECT_FALSE(complete_stream(Endpoint::kCompletions, kPlainStream));
  EXPECT_FALSE(complete_stream(Endpoint::kChatCompletions, kTextStream));
  // Endpoints that never stream.
  EXPECT_FALSE(complete_stream(Endpoint::kEmbeddings, kPlainStream));
  EXPECT_FALSE(complete_stream(Endpoint::kImageGenerations, kPlainStream));
}

// ---------------------------------------------------------------------------------------------
// assemble

TEST(StreamAssemblyAssemble, PlainStreamGivesOpenAIsNonStreamAnswer) {
  auto r = assemble(Endpoint::kChatCompletions, kPlainStream);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  // The exact bytes: field order as OpenAI sends it, compact JSON.
  EXPECT_EQ(*r, kPlainAnswer);
  EXPECT_TRUE(complete_json_answer(Endpoint::kChatCompletions, *r));
}

TEST(StreamAssemblyAssemble, LineEndingsAndByteOrderMarkDoNotMatter) {
  json::value expected = parse(kPlainAnswer);
  for (std::string_view eol : {"\r\n", "\r", "\n"}) {
    std::string sse = with_eol(kPlainStream, eol);
    EXPECT_EQ(assembled(Endpoint::kChatCompletions, sse), expected) << eol.size();
    // A keep-alive comment between every pair of events.
    std::string chatty;
    std::string blank = std::string(eol) + std::string(eol);
    for (std::size_t at = 0; at < sse.size();) {
      std::size_t end = sse.find(blank, at) + blank.size();
      chatty += sse.substr(at, end - at);
      chatty += ": keep-alive" + blank;
      at = end;
    }
    EXPECT_EQ(assembled(Endpoint::kChatCompletions, chatty), expected) << eol.size();
  }
  EXPECT_EQ(assembled(Endpoint::kChatCompletions, "\xEF\xBB\xBF" + std::string(kPlainStream)),
            expected);
}

TEST(StreamAssemblyAssemble, DataSplitOverSeveralLinesJoinsWithNewlines) {
  // An SSE event may carry its JSON over several data lines; they join with "\n", which JSON
  // reads as whitespace.
  std::string sse =
      "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\n"
      "data: \"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\"}]}"
      "\n\ndata: [DONE]\n\n";
  json::value v = assembled(Endpoint::kChatCompletions, sse);
  EXPECT_EQ(message_of(v).at("content"), "a");
}

TEST(StreamAssemblyAssemble, IncludeUsageStream) {
  json::value v = assembled(Endpoint::kChatCompletions, usage_stream());
  EXPECT_EQ(v.at("id"), "chatcmpl-AhXq7");
  EXPECT_EQ(v.at("object"), "chat.completion");
  EXPECT_EQ(v.at("created"), 1734998000);
  EXPECT_EQ(v.at("model"), "gpt-4o-mini-2024-07-18");
  EXPECT_EQ(v.at("system_fingerprint"), "fp_0aa8d3e20b");
  EXPECT_EQ(message_of(v).at("content"), "Hi!");
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason"), "length");
  // The usage object whole, details included.
  json::value usage_chunk = parse(kUsageChunk.substr(6, kUsageChunk.size() - 8));
  EXPECT_EQ(v.at("usage"), usage_chunk.at("usage"));
  // No usage chunk, no usage member (rather than a made-up one).
  EXPECT_FALSE(assembled(Endpoint::kChatCompletions, kPlainStream).as_object().contains("usage"));
}

TEST(StreamAssemblyAssemble, ToolCallsAssembleByIndex) {
  json::value v = assembled(Endpoint::kChatCompletions, kToolStream);
  const json::object& message = message_of(v);
  EXPECT_EQ(message.at("role"), "assistant");
  EXPECT_TRUE(message.at("content").is_null());
  EXPECT_TRUE(message.at("refusal").is_null());
  const json::array& calls = message.at("tool_calls").as_array();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0], parse(R"({"id":"call_Vw1fZ0","type":"function","function":{"name":)"
                            R"("get_weather","arguments":"{\"location\": \"Paris, France\"}"}})"));
  EXPECT_EQ(calls[1].at("id"), "call_Xy2Qk9");
  EXPECT_EQ(calls[1].at("function").at("name"), "get_weather");
  EXPECT_FALSE(calls[1].as_object().contains("index")) << "a message's tool calls have no index";
  // The fragments make valid JSON, the multi-byte city name whole again.
  json::value args = parse(str(calls[1].at("function").at("arguments")));
  EXPECT_EQ(args.at("location"), "東京");
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason"), "tool_calls");
  EXPECT_TRUE(complete_json_answer(Endpoint::kChatCompletions, json::serialize(v)));
}

TEST(StreamAssemblyAssemble, ToolCallFragmentsInManyChunksAndOutOfOrder) {
  // 200 one-character fragments of two calls, alternating, with the second call opened first.
  std::string a = R"({"city":"Zürich","days":[1,2,3],"note":"a \"quoted\" word"})";
  std::string b = R"({"query":"こんにちは"})";
  auto chunk = [](const std::string& delta, std::string_view finish = "null") {
    return R"(data: {"id":"c1","object":"chat.completion.chunk","created":5,"model":"m",)"
           R"("choices":[{"index":0,"delta":)" +
           delta + R"(,"logprobs":null,"finish_reason":)" + std::string(finish) + "}]}\n\n";
  };
  auto fragment = [&](int index, std::string_view piece) {
    json::object f;
    f["index"] = index;
    f["function"] = json::object{{"arguments", piece}};
    json::object d;
    d["tool_calls"] = json::array{f};
    return chunk(json::serialize(d));
  };
  std::string sse = chunk(R"({"role":"assistant","content":null})");
  sse += chunk(R"({"tool_calls":[{"index":1,"id":"call_b","type":"function","function":)"
               R"({"name":"search","arguments":""}}]})");
  sse += chunk(R"({"tool_calls":[{"index":0,"id":"call_a","type":"function","function":)"
               R"({"name":"weather","arguments":""}}]})");
  // Split by UTF-8 code point, never inside one, as JSON strings must be whole text.
  auto pieces = [](const std::string& s) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < s.size();) {
      std::size_t n = 1;
      while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80) ++n;
      out.push_back(s.substr(i, n));
      i += n;
    }
    return out;
  };
  std::vector<std::string> pa = pieces(a), pb = pieces(b);
  for (std::size_t i = 0; i < std::max(pa.size(), pb.size()); ++i) {
    if (i < pa.size()) sse += fragment(0, pa[i]);
    if (i < pb.size()) sse += fragment(1, pb[i]);
  }
  sse += chunk("{}", R"("tool_calls")");
  sse += kDoneEvent;
  json::value v = assembled(Endpoint::kChatCompletions, sse);
  const json::array& calls = message_of(v).at("tool_calls").as_array();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].at("id"), "call_a");
  EXPECT_EQ(calls[0].at("function").at("name"), "weather");
  EXPECT_EQ(str(calls[0].at("function").at("arguments")), a);
  EXPECT_EQ(calls[1].at("id"), "call_b");
  EXPECT_EQ(str(calls[1].at("function").at("arguments")), b);
}

TEST(StreamAssemblyAssemble, ToolCallsFromLooserServers) {
  // No index on the fragments (a new id starts the next call), the name repeated on every
  // fragment, and content "" in the first delta: content is still null, as in the non-stream
  // answer.
  std::string head = R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",)";
  std::string sse =
      head + R"("choices":[{"index":0,"delta":{"role":"assistant","content":""}}]})" + "\n\n" +
      head +
      R"("choices":[{"index":0,"delta":{"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]}}]})" +
      "\n\n" + head +
      R"("choices":[{"index":0,"delta":{"tool_calls":[{"function":{"name":"f","arguments":"1}"}}]}}]})" +
      "\n\n" + head +
      R"("choices":[{"index":0,"delta":{"tool_calls":[{"id":"call_2","type":"function","function":{"name":"g","arguments":"{}"}}]}}]})" +
      "\n\n" + head + R"("choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]})" +
      "\n\n" + std::string(kDoneEvent);
  json::value v = assembled(Endpoint::kChatCompletions, sse);
  const json::object& message = message_of(v);
  EXPECT_TRUE(message.at("content").is_null());
  const json::array& calls = message.at("tool_calls").as_array();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0], parse(R"({"id":"call_1","type":"function","function":{"name":"f",)"
                            R"("arguments":"{\"a\":1}"}})"));
  EXPECT_EQ(calls[1], parse(R"({"id":"call_2","type":"function","function":{"name":"g",)"
                            R"("arguments":"{}"}})"));
}

TEST(StreamAssemblyAssemble, InterleavedChoicesComeOutSortedByIndex) {
  json::value v = assembled(Endpoint::kChatCompletions, kTwoChoiceStream);
  const json::array& choices = v.at("choices").as_array();
  ASSERT_EQ(choices.size(), 2u);
  EXPECT_EQ(choices[0].at("index"), 0);
  EXPECT_EQ(choices[0].at("message").at("content"), "Red.");
  EXPECT_EQ(choices[0].at("finish_reason"), "stop");
  EXPECT_EQ(choices[1].at("index"), 1);
  EXPECT_EQ(choices[1].at("message").at("content"), "Blue and");
  EXPECT_EQ(choices[1].at("finish_reason"), "length");

  // One chunk may also carry several choices.
  std::string sse =
      R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":2,"delta":{"content":"c"},"finish_reason":"stop"},{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]})"
      "\n\n"
      R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":1,"delta":{"content":"b"},"finish_reason":"stop"}]})"
      "\n\ndata: [DONE]\n\n";
  json::value w = assembled(Endpoint::kChatCompletions, sse);
  ASSERT_EQ(w.at("choices").as_array().size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(w.at("choices").at(i).at("index"), i);
    EXPECT_EQ(str(w.at("choices").at(i).at("message").at("content")),
              std::string(1, char('a' + i)));
  }
}

TEST(StreamAssemblyAssemble, Refusal) {
  json::value v = assembled(Endpoint::kChatCompletions, kRefusalStream);
  const json::object& message = message_of(v);
  EXPECT_TRUE(message.at("content").is_null());
  EXPECT_EQ(message.at("refusal"), "I'm sorry, I can't assist with that request.");
  EXPECT_FALSE(message.contains("tool_calls"));
}

TEST(StreamAssemblyAssemble, Logprobs) {
  json::value v = assembled(Endpoint::kChatCompletions, kLogprobsStream);
  EXPECT_EQ(message_of(v).at("content"), "Hi!");
  const json::object& logprobs = v.at("choices").at(0).at("logprobs").as_object();
  const json::array& content = logprobs.at("content").as_array();
  ASSERT_EQ(content.size(), 2u);
  EXPECT_EQ(content[0].at("token"), "Hi");
  EXPECT_EQ(content[0].at("top_logprobs").as_array().size(), 2u);
  EXPECT_EQ(content[1].at("token"), "!");
  EXPECT_EQ(content[1].at("bytes"), parse("[33]"));
  EXPECT_TRUE(logprobs.at("refusal").is_null());
  // Never present: null.
  EXPECT_TRUE(assembled(Endpoint::kChatCompletions, kPlainStream)
                  .at("choices")
                  .at(0)
                  .at("logprobs")
                  .is_null());
}

TEST(StreamAssemblyAssemble, MultiByteTextConcatenates) {
  auto r = assemble(Endpoint::kChatCompletions, kUnicodeStream);
  ASSERT_TRUE(r.has_value());
  json::value v = parse(*r);
  EXPECT_EQ(str(message_of(v).at("content")), "Grüße, 世界 🌍\n\"quoted\"\ttab");
  // Written as UTF-8, not as escapes, and control characters escaped.
  EXPECT_NE(r->find("Grüße, 世界 🌍\\n\\\"quoted\\\"\\ttab"), std::string::npos) << *r;
}

TEST(StreamAssemblyAssemble, EmptyContentStaysEmptyNotNull) {
  std::string sse =
      R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]})"
      "\n\n"
      R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"length"}]})"
      "\n\ndata: [DONE]\n\n";
  json::value v = assembled(Endpoint::kChatCompletions, sse);
  ASSERT_TRUE(message_of(v).at("content").is_string());
  EXPECT_EQ(message_of(v).at("content"), "");
  EXPECT_FALSE(message_of(v).contains("refusal")) << "refusal only when the stream had one";
}

TEST(StreamAssemblyAssemble, CarriesProviderFields) {
  // Azure's prompt-filter chunk first (empty id, model and created), DeepSeek-style
  // reasoning_content, a choice-level field, obfuscation padding, and Groq's x_groq.
  std::string sse =
      R"(data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{"hate":{"filtered":false,"severity":"safe"}}}]})"
      "\n\n"
      R"(data: {"id":"chatcmpl-az","object":"chat.completion.chunk","created":1739700000,"model":"deepseek-reasoner","x_groq":{"id":"req_01"},"obfuscation":"Xa9","choices":[{"index":0,"delta":{"role":"assistant","content":"","reasoning_content":"Let me "},"logprobs":null,"finish_reason":null}]})"
      "\n\n"
      R"(data: {"id":"chatcmpl-az","object":"chat.completion.chunk","created":1739700000,"model":"deepseek-reasoner","obfuscation":"b2","choices":[{"index":0,"delta":{"reasoning_content":"think."},"logprobs":null,"finish_reason":null}]})"
      "\n\n"
      R"(data: {"id":"chatcmpl-az","object":"chat.completion.chunk","created":1739700000,"model":"deepseek-reasoner","choices":[{"index":0,"delta":{"content":"42"},"logprobs":null,"finish_reason":null,"content_filter_results":{"hate":{"filtered":false}}}]})"
      "\n\n"
      R"(data: {"id":"chatcmpl-az","object":"chat.completion.chunk","created":1739700000,"model":"deepseek-reasoner","x_groq":{"id":"req_01","usage":{"queue_time":0.1}},"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop","stop_reason":null}]})"
      "\n\ndata: [DONE]\n\n";
  json::value v = assembled(Endpoint::kChatCompletions, sse);
  EXPECT_EQ(v.at("id"), "chatcmpl-az");
  EXPECT_EQ(v.at("created"), 1739700000);
  EXPECT_EQ(v.at("model"), "deepseek-reasoner");
  EXPECT_EQ(v.at("object"), "chat.completion");
  EXPECT_EQ(v.at("prompt_filter_results").at(0).at("prompt_index"), 0);
  EXPECT_EQ(v.at("x_groq"), parse(R"({"id":"req_01","usage":{"queue_time":0.1}})"));
  EXPECT_FALSE(v.as_object().contains("obfuscation"));
  const json::object& message = message_of(v);
  EXPECT_EQ(message.at("content"), "42");
  EXPECT_EQ(message.at("reasoning_content"), "Let me think.");
  const json::object& choice = v.at("choices").at(0).as_object();
  EXPECT_EQ(choice.at("content_filter_results"), parse(R"({"hate":{"filtered":false}})"));
  EXPECT_TRUE(choice.at("stop_reason").is_null());
}

TEST(StreamAssemblyAssemble, UsageOnTheLastContentChunk) {
  // Some servers put usage on the finishing chunk rather than a chunk of its own.
  std::string sse =
      R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]})"
      "\n\n"
      R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}})"
      "\n\ndata: [DONE]\n\n";
  json::value v = assembled(Endpoint::kChatCompletions, sse);
  EXPECT_EQ(message_of(v).at("content"), "Hi!");
  EXPECT_EQ(v.at("usage").at("total_tokens"), 5);
  // It cannot be dropped without rewriting a content chunk, so a replay keeps it.
  EXPECT_EQ(replay_stream(sse, false), sse);
}

TEST(StreamAssemblyAssemble, TextCompletions) {
  auto r = assemble(Endpoint::kCompletions, kTextStream);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(
      *r,
      R"({"id":"cmpl-AVXq","object":"text_completion","created":1739500000,"model":"gpt-3.5-turbo-instruct","choices":[{"text":"\n\nThis is a test","index":0,"logprobs":{"tokens":["\n\n","This"," is"," a"," test"],"token_logprobs":[-2E-1,-5E-2,-1E-2,-2E-2,-3E-2],"top_logprobs":[{"\n\n":-2E-1},{"This":-5E-2},{" is":-1E-2},{" a":-2E-2},{" test":-3E-2}],"text_offset":[19,21,25,28,30]},"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":4,"total_tokens":9}})");
  EXPECT_TRUE(complete_json_answer(Endpoint::kCompletions, *r));
}

TEST(StreamAssemblyAssemble, TextCompletionsSeveralChoices) {
  std::string head = R"(data: {"id":"cmpl-2","object":"text_completion","created":7,"model":"m",)";
  std::string sse =
      head + R"("choices":[{"text":"b","index":1,"logprobs":null,"finish_reason":null}]})" +
      "\n\n" + head +
      R"("choices":[{"text":"a","index":0,"logprobs":null,"finish_reason":null}]})" + "\n\n" +
      head + R"("choices":[{"text":"","index":0,"logprobs":null,"finish_reason":"stop"}]})" +
      "\n\n" + head +
      R"("choices":[{"text":"b","index":1,"logprobs":null,"finish_reason":"length"}]})" + "\n\n" +
      std::string(kDoneEvent);
  json::value v = assembled(Endpoint::kCompletions, sse);
  EXPECT_EQ(v.at("choices"),
            parse(R"([{"text":"a","index":0,"logprobs":null,"finish_reason":"stop"},)"
                  R"({"text":"bb","index":1,"logprobs":null,"finish_reason":"length"}])"));
}

TEST(StreamAssemblyAssemble, BadContentTypesAreErrorsNotGuesses) {
  std::string head = R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m",)";
  std::string tail = "\n\ndata: [DONE]\n\n";
  for (
      std::string_view choice : {
          R"({"index":0,"delta":{"content":5},"finish_reason":"stop"})",
          R"({"index":0,"delta":{"content":[{"type":"text","text":"x"}]},"finish_reason":"stop"})",
          R"({"index":0,"delta":{"refusal":{}},"finish_reason":"stop"})",
          R"({"index":0,"delta":{"tool_calls":{"index":0}},"finish_reason":"stop"})",
          R"({"index":0,"delta":{"tool_calls":[1]},"finish_reason":"stop"})",
          R"({"index":0,"delta":{"tool_calls":[{"index":-2}]},"finish_reason":"stop"})",
          R"({"index":0,"delta":{"tool_calls":[{"index":0,"function":"f"}]},"finish_reason":"stop"})",
          R"({"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":{}}}]},"finish_reason":"stop"})",
          R"({"index":0,"delta":"hello","finish_reason":"stop"})",
      }) {
    std::string sse = head + R"("choices":[)" + std::string(choice) + "]}" + tail;
    auto r = assemble(Endpoint::kChatCompletions, sse);
    ASSERT_FALSE(r.has_value()) << choice;
    EXPECT_EQ(r.error().code, Errc::kUpstreamProtocol);
  }
  std::string text =
      R"(data: {"id":"c","object":"text_completion","choices":[{"text":1,"index":0,"finish_reason":"stop"}]})" +
      tail;
  EXPECT_FALSE(assemble(Endpoint::kCompletions, text).has_value());
}

TEST(StreamAssemblyAssemble, EndpointsThatDoNotStream) {
  for (Endpoint e : {Endpoint::kEmbeddings, Endpoint::kImageGenerations}) {
    auto r = assemble(e, kPlainStream);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::kInvalidRequest);
    auto s = synthesize_stream(e, kEmbeddingAnswer, true);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code, Errc::kInvalidRequest);
  }
}

// ---------------------------------------------------------------------------------------------
// synthesize_stream

constexpr std::string_view kShortAnswer =
    R"({"id":"chatcmpl-abc","object":"chat.completion","created":1741570283,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hi there.","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12},"system_fingerprint":"fp_1"})";

TEST(StreamAssemblySynthesize, ChatStreamAsOpenAISendsIt) {
  auto r = synthesize_stream(Endpoint::kChatCompletions, kShortAnswer, false);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(
      *r,
      R"(data: {"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":"Hi there."},"logprobs":null,"finish_reason":null}]}

data: {"id":"chatcmpl-abc","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-mini","system_fingerprint":"fp_1","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}

data: [DONE]

)");
  EXPECT_TRUE(complete_stream(Endpoint::kChatCompletions, *r));
}

TEST(StreamAssemblySynthesize, IncludeUsage) {
  auto r = synthesize_stream(Endpoint::kChatCompletions, kShortAnswer, true);
  ASSERT_TRUE(r.has_value());
  std::vector<json::object> chunks = chunks_of(*r);
  ASSERT_EQ(chunks.size(), 4u);
  for (std::size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(chunks[i].contains("usage")) << i;
    EXPECT_TRUE(chunks[i].at("usage").is_null());
    EXPECT_FALSE(chunks[i].at("choices").as_array().empty());
  }
  EXPECT_TRUE(chunks[3].at("choices").as_array().empty());
  EXPECT_EQ(chunks[3].at("usage"), parse(kShortAnswer).at("usage"));
  EXPECT_EQ(chunks[3].at("id"), "chatcmpl-abc");
  EXPECT_EQ(chunks[3].at("object"), "chat.completion.chunk");
  Usage u = usage_of(Format::kSse, *r);
  EXPECT_EQ(u.prompt_tokens, 9u);
  EXPECT_EQ(u.completion_tokens, 3u);

  // Without usage in the stored answer there is no usage chunk to give.
  std::string no_usage = json::serialize(without(parse(kShortAnswer), "usage"));
  auto s = synthesize_stream(Endpoint::kChatCompletions, no_usage, true);
  ASSERT_TRUE(s.has_value());
  for (const json::object& c : chunks_of(*s)) EXPECT_FALSE(c.contains("usage"));
}

constexpr std::string_view kToolAnswer =
    R"({"id":"chatcmpl-tool","object":"chat.completion","created":1739000000,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}},{"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{\"tz\":\"Europe/Paris\"}"}}],"refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":80,"completion_tokens":40,"total_tokens":120},"service_tier":"default","system_fingerprint":"fp_50cad350e4"})";

TEST(StreamAssemblySynthesize, ToolCallChunks) {
  auto r = synthesize_stream(Endpoint::kChatCompletions, kToolAnswer, false);
  ASSERT_TRUE(r.has_value());
  std::vector<json::object> chunks = chunks_of(*r);
  ASSERT_EQ(chunks.size(), 4u);
  for (const json::object& c : chunks) {
    EXPECT_EQ(c.at("service_tier"), "default");
    EXPECT_EQ(c.at("system_fingerprint"), "fp_50cad350e4");
  }
  const json::object& first = chunks[0].at("choices").at(0).at("delta").as_object();
  EXPECT_EQ(first.at("role"), "assistant");
  EXPECT_TRUE(first.at("content").is_null()) << "as OpenAI streams a tool call";
  for (std::size_t i = 0; i < 2; ++i) {
    const json::array& calls =
        chunks[1 + i].at("choices").at(0).at("delta").at("tool_calls").as_array();
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(calls[0].at("index"), i);
    EXPECT_EQ(calls[0].at("type"), "function");
    EXPECT_EQ(calls[0].at("id"), i == 0 ? "call_a" : "call_b");
    EXPECT_EQ(calls[0].at("function").at("arguments"),
              i == 0 ? R"({"location":"Paris"})" : R"({"tz":"Europe/Paris"})");
  }
  EXPECT_EQ(chunks[3].at("choices").at(0).at("finish_reason"), "tool_calls");
  EXPECT_TRUE(chunks[3].at("choices").at(0).at("delta").as_object().empty());
}

TEST(StreamAssemblySynthesize, InterleavesChoices) {
  std::string answer =
      R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[)"
      R"({"index":0,"message":{"role":"assistant","content":"a"},"logprobs":null,"finish_reason":"stop"},)"
      R"({"index":1,"message":{"role":"assistant","content":"b"},"logprobs":null,"finish_reason":"length"}]})";
  auto r = synthesize_stream(Endpoint::kChatCompletions, answer, false);
  ASSERT_TRUE(r.has_value());
  std::vector<std::int64_t> order;
  for (const json::object& c : chunks_of(*r)) {
    ASSERT_EQ(c.at("choices").as_array().size(), 1u);
    order.push_back(c.at("choices").at(0).at("index").as_int64());
  }
  EXPECT_EQ(order, (std::vector<std::int64_t>{0, 1, 0, 1, 0, 1}));
}

TEST(StreamAssemblySynthesize, TextCompletions) {
  auto r = synthesize_stream(Endpoint::kCompletions, kTextAnswer, true);
  ASSERT_TRUE(r.has_value());
  std::vector<json::object> chunks = chunks_of(*r);
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].at("object"), "text_completion");
  EXPECT_EQ(chunks[0].at("choices"),
            parse(R"([{"text":"\n\nThis is indeed a test","index":0,"logprobs":null,)"
                  R"("finish_reason":null}])"));
  EXPECT_EQ(chunks[1].at("choices"),
            parse(R"([{"text":"","index":0,"logprobs":null,"finish_reason":"length"}])"));
  EXPECT_TRUE(chunks[2].at("choices").as_array().empty());
  EXPECT_EQ(chunks[2].at("usage"), parse(kTextAnswer).at("usage"));
}

TEST(StreamAssemblySynthesize, RejectsAnswersThatAreNotWhole) {
  for (
      std::string_view body : {
          std::string_view(R"({"error":{"message":"x"}})"),
          std::string_view(R"({"id":"c","object":"chat.completion","choices":[]})"),
          std::string_view("not json"),
          std::string_view(""),
          kTextAnswer,
          std::string_view(
              R"({"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"content":7},"finish_reason":"stop"}]})"),
          std::string_view(
              R"({"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"tool_calls":{}},"finish_reason":"stop"}]})"),
          std::string_view(
              R"({"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"tool_calls":[3]},"finish_reason":"stop"}]})"),
      }) {
    auto r = synthesize_stream(Endpoint::kChatCompletions, body, true);
    ASSERT_FALSE(r.has_value()) << body;
    EXPECT_EQ(r.error().code, Errc::kUpstreamProtocol);
  }
}

// ---------------------------------------------------------------------------------------------
// Round trips

// Answers of every shape; synthesize then assemble must give each back.
const std::vector<std::pair<Endpoint, std::string>>& round_trip_answers() {
  static const std::vector<std::pair<Endpoint, std::string>> answers = {
      {Endpoint::kChatCompletions, std::string(kShortAnswer)},
      {Endpoint::kChatCompletions, std::string(kPlainAnswer)},
      {Endpoint::kChatCompletions, std::string(kToolAnswer)},
      // Text before a tool call.
      {Endpoint::kChatCompletions,
       R"({"id":"c2","object":"chat.completion","created":2,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Let me check.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{}"}}]},"logprobs":null,"finish_reason":"tool_calls"}]})"},
      // A refusal.
      {Endpoint::kChatCompletions,
       R"({"id":"c3","object":"chat.completion","created":3,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"I can't help with that."},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":6,"total_tokens":7}})"},
      // n=3, one of them empty, and multi-byte and escaped text.
      {Endpoint::kChatCompletions,
       R"({"id":"c4","object":"chat.completion","created":4,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Grüße 世界 🌍 \"q\"\n\t\\ \u0001"},"logprobs":null,"finish_reason":"stop"},{"index":1,"message":{"role":"assistant","content":""},"logprobs":null,"finish_reason":"length"},{"index":2,"message":{"role":"assistant","content":"third"},"logprobs":null,"finish_reason":"content_filter"}],"usage":{"prompt_tokens":4,"completion_tokens":9,"total_tokens":13}})"},
      // Logprobs.
      {Endpoint::kChatCompletions,
       R"({"id":"c5","object":"chat.completion","created":5,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!","refusal":null},"logprobs":{"content":[{"token":"Hi","logprob":-0.5,"bytes":[72,105],"top_logprobs":[]},{"token":"!","logprob":-0.25,"bytes":[33],"top_logprobs":[]}],"refusal":null},"finish_reason":"stop"}]})"},
      // Provider fields on the message, the choice and the answer.
      {
          Endpoint::kChatCompletions, R"({"id":"c6","object":"chat.completion","created":6,"model":"deepseek-reasoner","choices":[{"index":0,"message":{"role":"assistant","content":"42","reasoning_content":"Think.","annotations":[{"type":"url_citation","url_citation":{"url":"https://example.com","title":"Ex","start_index":0,"end_index":2}}]},"logprobs":null,"finish_reason":"stop","content_filter_results":{"hate":{"filtered":false}}}],"prompt_filter_results":[{"prompt_index":0}],"system_fingerprint":null})"},
      // Legacy completions, with logprobs and two choices.
      {Endpoint::kCompletions, std::string(kTextAnswer)},
      {Endpoint::kCompletions,
       R"({"id":"cmpl-7","object":"text_completion","created":7,"model":"gpt-3.5-turbo-instruct","choices":[{"text":" yes","index":0,"logprobs":{"tokens":[" yes"],"token_logprobs":[-0.1],"top_logprobs":[{" yes":-0.1}],"text_offset":[3]},"finish_reason":"stop"},{"text":"","index":1,"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}})"},
  };
  return answers;
}

TEST(StreamAssemblyRoundTrip, SynthesizeThenAssembleGivesTheAnswerBack) {
  for (const auto& [endpoint, answer] : round_trip_answers()) {
    json::value original = parse(answer);
    for (bool include_usage : {false, true}) {
      auto sse = synthesize_stream(endpoint, answer, include_usage);
      ASSERT_TRUE(sse.has_value()) << answer;
      ASSERT_TRUE(complete_stream(endpoint, *sse)) << *sse;
      json::value back = assembled(endpoint, *sse);
      json::value expected = include_usage ? original : without(original, "usage");
      EXPECT_EQ(back, expected) << "include_usage " << include_usage << "\n"
                                << json::serialize(back) << "\n"
                                << answer;
      EXPECT_TRUE(complete_json_answer(endpoint, json::serialize(back)));
      // Usage survives in both directions.
      Usage a = usage_of(Format::kJson, answer);
      Usage b = usage_of(Format::kSse, *sse);
      EXPECT_EQ(b.prompt_tokens, include_usage ? a.prompt_tokens : 0u);
      EXPECT_EQ(b.completion_tokens, include_usage ? a.completion_tokens : 0u);
    }
  }
}

TEST(StreamAssemblyRoundTrip, AssembleThenSynthesizeThenAssembleIsStable) {
  const std::vector<std::pair<Endpoint, std::string>> streams = {
      {Endpoint::kChatCompletions, std::string(kPlainStream)},
      {Endpoint::kChatCompletions, usage_stream()},
      {Endpoint::kChatCompletions, std::string(kToolStream)},
      {Endpoint::kChatCompletions, std::string(kTwoChoiceStream)},
      {Endpoint::kChatCompletions, std::string(kRefusalStream)},
      {Endpoint::kChatCompletions, std::string(kLogprobsStream)},
      {Endpoint::kChatCompletions, std::string(kUnicodeStream)},
      {Endpoint::kCompletions, std::string(kTextStream)},
  };
  for (const auto& [endpoint, sse] : streams) {
    auto once = assemble(endpoint, sse);
    ASSERT_TRUE(once.has_value()) << sse;
    auto again = synthesize_stream(endpoint, *once, true);
    ASSERT_TRUE(again.has_value()) << *once;
    auto twice = assemble(endpoint, *again);
    ASSERT_TRUE(twice.has_value()) << *again;
    EXPECT_EQ(parse(*twice), parse(*once)) << *twice << "\n" << *once;
  }
}

// ---------------------------------------------------------------------------------------------
// replay_stream

TEST(StreamAssemblyReplay, DropsOnlyTheUsageChunkWhenUsageIsNotWanted) {
  std::string sse = usage_stream();
  EXPECT_EQ(replay_stream(sse, true), sse);
  EXPECT_EQ(replay_stream(sse, false), std::string(kUsageStreamHead) + std::string(kDoneEvent));
  // A stream without a usage chunk is replayed as is either way.
  EXPECT_EQ(replay_stream(kPlainStream, false), kPlainStream);
  EXPECT_EQ(replay_stream(kPlainStream, true), kPlainStream);
  // The text-completion usage chunk too.
  std::string text(kTextStream);
  std::size_t begin = text.find(
      R"(data: {"id":"cmpl-AVXq","object":"text_completion","created":1739500000,"model")");
  std::size_t end = text.find("\n\n", begin) + 2;
  std::string expected = text;
  expected.erase(begin, end - begin);
  EXPECT_EQ(replay_stream(text, false), expected);
}

TEST(StreamAssemblyReplay, KeepsOtherBytesExactly) {
  // CRLF line endings, comments and fields are the upstream's bytes and stay as they were.
  std::string head = with_eol(kUsageStreamHead, "\r\n");
  std::string usage = with_eol(kUsageChunk, "\r\n");
  std::string sse = ": keep-alive\r\n\r\n" + head + "id: 9\r\n" + usage + ": ping\r\n\r\n" +
                    "data: [DONE]\r\n\r\n";
  EXPECT_EQ(replay_stream(sse, true), sse);
  EXPECT_EQ(replay_stream(sse, false),
            ": keep-alive\r\n\r\n" + head + ": ping\r\n\r\n" + "data: [DONE]\r\n\r\n");
  // Azure's prompt-filter chunk has no choices but no usage either: it stays.
  std::string azure =
      R"(data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[]})"
      "\n\n" +
      std::string(kPlainStream);
  EXPECT_EQ(replay_stream(azure, false), azure);
  // Pretty-printed over several data lines, the usage chunk is still found.
  std::string pretty = std::string(kUsageStreamHead) +
                       "data: {\"id\": \"chatcmpl-AhXq7\",\n"
                       "data:   \"choices\" :\t[ \n"
                       "data: ],\n"
                       "data:   \"usage\": {\"prompt_tokens\": 7, \"completion_tokens\": 2}}\n\n" +
                       std::string(kDoneEvent);
  EXPECT_EQ(replay_stream(pretty, false), std::string(kUsageStreamHead) + std::string(kDoneEvent));
  EXPECT_EQ(usage_of(Format::kSse, pretty).prompt_tokens, 7u);
  // A byte order mark is the upstream's too.
  std::string bom = "\xEF\xBB\xBF" + usage_stream();
  EXPECT_EQ(replay_stream(bom, false),
            "\xEF\xBB\xBF" + std::string(kUsageStreamHead) + std::string(kDoneEvent));
  EXPECT_EQ(replay_stream("\xEF\xBB\xBF", false), "\xEF\xBB\xBF");
  // Garbage goes through untouched rather than crashing.
  std::string junk = "data: {\"usage\":\n\nnot sse at all \x01\xff";
  EXPECT_EQ(replay_stream(junk, false), junk);
}

// ---------------------------------------------------------------------------------------------
// usage_of

TEST(StreamAssemblyUsage, JsonAnswers) {
  Usage chat = usage_of(Format::kJson, kShortAnswer);
  EXPECT_EQ(chat.prompt_tokens, 9u);
  EXPECT_EQ(chat.completion_tokens, 3u);
  Usage embed = usage_of(Format::kJson, kEmbeddingAnswer);
  EXPECT_EQ(embed.prompt_tokens, 8u);
  EXPECT_EQ(embed.completion_tokens, 0u);
  Usage image = usage_of(Format::kJson, kImageAnswer);
  EXPECT_EQ(image.prompt_tokens, 50u);
  EXPECT_EQ(image.completion_tokens, 4160u);
  Usage none = usage_of(Format::kJson, kPlainAnswer);
  EXPECT_EQ(none.prompt_tokens, 0u);
  EXPECT_EQ(none.completion_tokens, 0u);
  Usage junk = usage_of(Format::kJson, "{\"usage\":");
  EXPECT_EQ(junk.prompt_tokens, 0u);
  Usage odd =
      usage_of(Format::kJson, R"({"usage":{"prompt_tokens":-4,"completion_tokens":99999999999}})");
  EXPECT_EQ(odd.prompt_tokens, 0u);
  EXPECT_EQ(odd.completion_tokens, std::numeric_limits<std::uint32_t>::max());
}

TEST(StreamAssemblyUsage, Streams) {
  Usage u = usage_of(Format::kSse, usage_stream());
  EXPECT_EQ(u.prompt_tokens, 19u);
  EXPECT_EQ(u.completion_tokens, 2u);
  Usage crlf = usage_of(Format::kSse, with_eol(usage_stream(), "\r\n"));
  EXPECT_EQ(crlf.prompt_tokens, 19u);
  Usage text = usage_of(Format::kSse, kTextStream);
  EXPECT_EQ(text.prompt_tokens, 5u);
  EXPECT_EQ(text.completion_tokens, 4u);
  Usage none = usage_of(Format::kSse, kPlainStream);
  EXPECT_EQ(none.prompt_tokens, 0u);
  EXPECT_EQ(none.completion_tokens, 0u);
}

// ---------------------------------------------------------------------------------------------
// The mock upstream's real output

std::string chat_request(std::string_view extra) {
  std::string body =
      R"({"model":"mock","messages":[{"role":"user","content":"Tell me about rivers."}])";
  if (!extra.empty()) body += "," + std::string(extra);
  return body + "}";
}

constexpr std::string_view kMockTools =
    R"("tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"},"days":{"type":"integer"}},"required":["location"]}}}],"tool_choice":"required")";

struct MockPair {
  std::string whole;   // the non-stream body
  std::string stream;  // the SSE events joined
};

MockPair mock_pair(Endpoint endpoint, const std::string& body, const std::string& stream_extra) {
  mock::Engine engine(config::MockSettings{});
  mock::Reply whole = engine.respond(endpoint, body, {});
  EXPECT_EQ(whole.status, 200) << whole.body;
  std::string stream_body = body;
  stream_body.insert(stream_body.size() - 1, "," + stream_extra);
  mock::Reply stream = engine.respond(endpoint, stream_body, {});
  EXPECT_EQ(stream.status, 200) << stream.body;
  EXPECT_TRUE(stream.stream);
  return {whole.body, join(stream.events)};
}

// `created` is the mock's clock; the two answers may straddle a second.
json::value without_created(json::value v) { return without(std::move(v), "created"); }

TEST(StreamAssemblyMock, StreamsAssembleToTheMocksOwnNonStreamAnswer) {
  struct Case {
    Endpoint endpoint;
    std::string body;
  };
  const std::vector<Case> cases = {
      {Endpoint::kChatCompletions, chat_request("")},
      {Endpoint::kChatCompletions, chat_request(R"("n":3,"max_tokens":12)")},
      {Endpoint::kChatCompletions, chat_request(R"("max_tokens":2)")},
      {Endpoint::kChatCompletions, chat_request(kMockTools)},
      {Endpoint::kChatCompletions, chat_request(std::string(kMockTools) + R"(,"n":2)")},
      {Endpoint::kCompletions, R"({"model":"mock-instruct","prompt":"Say this is a test."})"},
      {Endpoint::kCompletions,
       R"({"model":"mock-instruct","prompt":["one","two"],"n":2,"max_tokens":5})"},
  };
  for (const Case& c : cases) {
    for (bool include_usage : {false, true}) {
      std::string extra = include_usage ? R"("stream":true,"stream_options":{"include_usage":true})"
                                        : R"("stream":true)";
      MockPair p = mock_pair(c.endpoint, c.body, extra);
      ASSERT_TRUE(complete_json_answer(c.endpoint, p.whole)) << p.whole;
      ASSERT_TRUE(complete_stream(c.endpoint, p.stream)) << p.stream;
      json::value expected = without_created(parse(p.whole));
      if (!include_usage) expected = without(expected, "usage");
      EXPECT_EQ(without_created(assembled(c.endpoint, p.stream)), expected) << c.body << "\n"
                                                                            << p.stream;

      Usage from_json = usage_of(Format::kJson, p.whole);
      Usage from_stream = usage_of(Format::kSse, p.stream);
      EXPECT_GT(from_json.prompt_tokens, 0u);
      EXPECT_GT(from_json.completion_tokens, 0u);
      EXPECT_EQ(from_stream.prompt_tokens, include_usage ? from_json.prompt_tokens : 0u);
      EXPECT_EQ(from_stream.completion_tokens, include_usage ? from_json.completion_tokens : 0u);

      // And the other way: the mock's JSON answer synthesized into a stream assembles back.
      auto synthesized = synthesize_stream(c.endpoint, p.whole, include_usage);
      ASSERT_TRUE(synthesized.has_value());
      EXPECT_EQ(assembled(c.endpoint, *synthesized),
                include_usage ? parse(p.whole) : without(parse(p.whole), "usage"));
    }
  }
}

TEST(StreamAssemblyMock, ReplayWithoutUsageEqualsTheMocksStreamWithoutUsage) {
  mock::Engine engine(config::MockSettings{});
  mock::Reply with = engine.respond(
      Endpoint::kChatCompletions,
      chat_request(R"("n":2,"stream":true,"stream_options":{"include_usage":true})"), {});
  ASSERT_GE(with.events.size(), 3u);
  std::vector<std::string> events = with.events;
  // The usage chunk is the one before [DONE].
  events.erase(events.end() - 2);
  EXPECT_EQ(replay_stream(join(with.events), false), join(events));
  EXPECT_EQ(replay_stream(join(with.events), true), join(with.events));
}

TEST(StreamAssemblyMock, CutStreamsAndErrorAnswersAreNotCached) {
  mock::Engine engine(config::MockSettings{});
  mock::Reply r = engine.respond(Endpoint::kChatCompletions, chat_request(R"("stream":true)"), {});
  ASSERT_GE(r.events.size(), 3u);
  // What a client holds when the mock drops the connection after k events (x-mock-cut-after).
  for (std::size_t k = 0; k < r.events.size(); ++k) {
    std::string cut = join(std::vector<std::string>(r.events.begin(), r.events.begin() + k));
    EXPECT_FALSE(complete_stream(Endpoint::kChatCompletions, cut)) << k;
    EXPECT_FALSE(assemble(Endpoint::kChatCompletions, cut).has_value()) << k;
  }
  mock::Faults fault;
  fault.status = 500;
  mock::Reply error = engine.respond(Endpoint::kChatCompletions, chat_request(""), fault);
  EXPECT_EQ(error.status, 500);
  EXPECT_FALSE(complete_json_answer(Endpoint::kChatCompletions, error.body)) << error.body;
}

// ---------------------------------------------------------------------------------------------
// Robustness: damaged input never crashes, and assembly never accepts what the check rejects.

TEST(StreamAssemblyRobustness, MutatedStreamsAreHandled) {
  const std::vector<std::pair<Endpoint, std::string>> seeds = {
      {Endpoint::kChatCompletions, usage_stream()},
      {Endpoint::kChatCompletions, std::string(kToolStream)},
      {Endpoint::kChatCompletions, with_eol(kTwoChoiceStream, "\r\n")},
      {Endpoint::kCompletions, std::string(kTextStream)},
  };
  constexpr std::string_view kAlphabet = "{}[]\":,\\\n\r 0a-\x80\xff";
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  auto next = [&state] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int accepted = 0;
  for (int round = 0; round < 3000; ++round) {
    const auto& [endpoint, seed] = seeds[round % seeds.size()];
    std::string s = seed;
    int edits = 1 + static_cast<int>(next() % 3);
    for (int e = 0; e < edits; ++e) {
      std::size_t at = next() % s.size();
      switch (next() % 3) {
        case 0:
          s[at] = kAlphabet[next() % kAlphabet.size()];
          break;
        case 1:
          s.erase(at, 1 + next() % 8);
          break;
        default:
          s.insert(at, 1, kAlphabet[next() % kAlphabet.size()]);
          break;
      }
      if (s.empty()) s = "x";
    }
    bool complete = complete_stream(endpoint, s);
    auto r = assemble(endpoint, s);
    if (r.has_value()) {
      ++accepted;
      EXPECT_TRUE(complete) << s;
      EXPECT_TRUE(complete_json_answer(endpoint, *r)) << *r;
      auto again = synthesize_stream(endpoint, *r, true);
      ASSERT_TRUE(again.has_value()) << *r;
      EXPECT_TRUE(complete_stream(endpoint, *again));
    }
    replay_stream(s, false);
    usage_of(Format::kSse, s);
    usage_of(Format::kJson, s);
    complete_json_answer(endpoint, s);
    (void)synthesize_stream(endpoint, s, true);
  }
  // Many edits land in text and leave a valid stream: the accepting path was exercised too.
  EXPECT_GT(accepted, 50);
}

TEST(StreamAssemblyRobustness, HostileInputs) {
  std::string deep = "data: " + std::string(10000, '[') + "\n\ndata: [DONE]\n\n";
  std::string huge_index =
      R"(data: {"choices":[{"index":18446744073709551615,"delta":{"content":"x"},"finish_reason":"stop"}]})"
      "\n\ndata: [DONE]\n\n";
  std::string big_index =
      R"(data: {"choices":[{"index":9000000000000000000,"delta":{"tool_calls":[{"index":9000000000000000000,"id":"a","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"stop"}]})"
      "\n\ndata: [DONE]\n\n";
  std::string invalid_utf8 =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\xC3\"},"
      "\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
  std::string lone_surrogate =
      R"(data: {"choices":[{"index":0,"delta":{"content":"\ud83c"},"finish_reason":"stop"}]})"
      "\n\ndata: [DONE]\n\n";
  const char kNul[] = "data: {\"choices\":[\0]}\n\ndata: [DONE]\n\n";
  std::string nul(kNul, sizeof kNul - 1);
  for (const std::string& s :
       {deep, huge_index, invalid_utf8, lone_surrogate, nul, std::string(100000, '\n'),
        std::string(100000, ':'), std::string(100000, '\r')}) {
    EXPECT_FALSE(complete_stream(Endpoint::kChatCompletions, s)) << s.substr(0, 80);
    EXPECT_FALSE(assemble(Endpoint::kChatCompletions, s).has_value());
    EXPECT_FALSE(synthesize_stream(Endpoint::kChatCompletions, s, true).has_value());
    EXPECT_FALSE(complete_json_answer(Endpoint::kChatCompletions, s));
    replay_stream(s, false);
  }
  // A large index is odd but whole; it must not allocate a slot per index below it.
  json::value v = assembled(Endpoint::kChatCompletions, big_index);
  EXPECT_EQ(v.at("choices").at(0).at("index"), 9000000000000000000LL);
  EXPECT_EQ(message_of(v).at("tool_calls").as_array().size(), 1u);
}

TEST(StreamAssemblyAssemble, ALongStreamOfLargeChunksIsReadWithoutGrowingMemory) {
  // Boost 1.81's parser, reused with release(), doubled its next block each time: some forty
  // chunks over 4 KiB ended in std::bad_alloc. Sixty of 6 KiB must assemble.
  const std::string piece(6 * 1024, 'x');
  std::string sse;
  for (int i = 0; i < 60; ++i) {
    sse += R"(data: {"id":"c1","object":"chat.completion.chunk","created":5,"model":"m",)"
           R"("choices":[{"index":0,"delta":{"content":")" +
           piece + R"("},"logprobs":null,"finish_reason":null}]})" + "\n\n";
  }
  sse += R"(data: {"id":"c1","object":"chat.completion.chunk","created":5,"model":"m",)"
         R"("choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]})"
         "\n\ndata: [DONE]\n\n";
  EXPECT_TRUE(complete_stream(Endpoint::kChatCompletions, sse));
  auto answer = assemble(Endpoint::kChatCompletions, sse);
  ASSERT_TRUE(answer) << answer.error().message;
  EXPECT_EQ(json::parse(*answer).at("choices").at(0).at("message").at("content").as_string().size(),
            60u * piece.size());
}

}  // namespace
}  // namespace sluice::cache
