// The cost of serving Anthropic's Messages API in front of an OpenAI-compatible model
// (api/anthropic_messages.h): a request translated (a tool-use turn, a large image), a whole
// answer translated back, and a stream translated event by event. Run with
// `build/release/bench/sluice_micro_bench --benchmark_filter=Messages --benchmark_repetitions=3`.
#include <benchmark/benchmark.h>

#include <string>

#include "api/anthropic_messages.h"

namespace {

using namespace sluice;

// A tool-use turn as an agent sends it: a system prompt, a tool, the assistant's call and its
// result (the shape of Anthropic's tool use documentation).
const std::string kRequest =
    R"({"model":"claude-sonnet-4-5","max_tokens":1024,"system":"You are a helpful assistant )"
    R"(that answers questions about the weather.","tools":[{"name":"get_weather","description":)"
    R"("Get the current weather in a given location","input_schema":{"type":"object",)"
    R"("properties":{"location":{"type":"string","description":"The city and state, e.g. San )"
    R"(Francisco, CA"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":)"
    R"(["location"]}}],"messages":[{"role":"user","content":"What is the weather like in San )"
    R"(Francisco?"},{"role":"assistant","content":[{"type":"text","text":"I'll check the )"
    R"(current weather in San Francisco for you."},{"type":"tool_use","id":)"
    R"("toolu_01A09q90qw90lq917835lq9","name":"get_weather","input":{"location":)"
    R"("San Francisco, CA","unit":"celsius"}}]},{"role":"user","content":[{"type":"tool_result",)"
    R"("tool_use_id":"toolu_01A09q90qw90lq917835lq9","content":"15 degrees"}]}],"stream":true})";

void BM_MessagesToChatRequest(benchmark::State& state) {
  for (auto _ : state) {
    auto r = api::messages::to_chat_request(kRequest);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kRequest.size()));
}
BENCHMARK(BM_MessagesToChatRequest);

// A photo as a base64 image block (1 MiB of base64), the kind of body where the bytes copied and
// escaped, not the fields, are the cost.
void BM_MessagesToChatRequestImage(benchmark::State& state) {
  std::string data;
  const std::string_view alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (std::size_t i = 0; i < (1u << 20); ++i) data += alphabet[(i * 7 + i / 64) % 64];
  const std::string body =
      R"({"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":[)"
      R"({"type":"image","source":{"type":"base64","media_type":"image/jpeg","data":")" +
      data + R"("}},{"type":"text","text":"Describe this image."}]}]})";
  for (auto _ : state) {
    auto r = api::messages::to_chat_request(body);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_MessagesToChatRequestImage);

// The load benchmark's answer (bench/load/proxy_bench.py), as hot_path_bench.cc has it.
const std::string kAnswer =
    R"({"id":"chatcmpl-BENCHq7xLr9dKp0aZ3mYt5wVh1cN","object":"chat.completion","created":)"
    R"(1732280000,"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":)"
    R"("assistant","content":"Exit code 137 is SIGKILL, usually from the OOM killer. Check the )"
    R"(memory limit.","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],)"
    R"("usage":{"prompt_tokens":52,"completion_tokens":38,"total_tokens":90,)"
    R"("prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":)"
    R"({"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,)"
    R"("rejected_prediction_tokens":0}},"service_tier":"default","system_fingerprint":)"
    R"("fp_0aa8d3e20b"})";

void BM_MessagesToMessage(benchmark::State& state) {
  for (auto _ : state) {
    auto r = api::messages::to_message(kAnswer, "claude-sonnet-4-5");
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kAnswer.size()));
}
BENCHMARK(BM_MessagesToMessage);

const std::string kToolAnswer =
    R"({"id":"chatcmpl-abc123","object":"chat.completion","created":1699896916,"model":)"
    R"("gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":null,)"
    R"("tool_calls":[{"id":"call_abc123","type":"function","function":{"name":)"
    R"("get_current_weather","arguments":"{\n\"location\": \"Boston, MA\"\n}"}}]},"logprobs":)"
    R"(null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":82,"completion_tokens":17,)"
    R"("total_tokens":99}})";

void BM_MessagesToMessageToolCall(benchmark::State& state) {
  for (auto _ : state) {
    auto r = api::messages::to_message(kToolAnswer, "claude-sonnet-4-5");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_MessagesToMessageToolCall);

// One text delta as OpenAI streams it, the event the translator sees most.
const std::string kDeltaEvent =
    R"(data: {"id":"chatcmpl-BENCHq7xLr9dKp0aZ3mYt5wVh1cN","object":"chat.completion.chunk",)"
    R"("created":1732280000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":)"
    R"("fp_0aa8d3e20b","choices":[{"index":0,"delta":{"content":" memory"},"logprobs":null,)"
    R"("finish_reason":null}],"usage":null})"
    "\n\n";

// Per event: the translator is past message_start and inside the text block, as it is for every
// delta but the first.
void BM_MessagesStreamEvent(benchmark::State& state) {
  api::messages::StreamTranslator t("claude-sonnet-4-5");
  std::string out;
  out.reserve(1024);
  if (!t.feed(kDeltaEvent, out)) state.SkipWithError("feed failed");
  for (auto _ : state) {
    out.clear();
    auto r = t.feed(kDeltaEvent, out);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MessagesStreamEvent);

// A whole answer of 40 deltas with its usage chunk, fed at once, the translator's setup
// included: 44 OpenAI events in, 47 Anthropic events out.
std::string openai_stream(int deltas) {
  const std::string head =
      R"(data: {"id":"chatcmpl-BENCH","object":"chat.completion.chunk","created":1732280000,)"
      R"("model":"gpt-4o-mini-2024-07-18","choices":[)";
  std::string s = head +
                  R"({"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],)"
                  R"("usage":null})"
                  "\n\n";
  for (int i = 0; i < deltas; ++i) {
    s += head + R"({"index":0,"delta":{"content":" word"},"finish_reason":null}],"usage":null})" +
         "\n\n";
  }
  s += head + R"({"index":0,"delta":{},"finish_reason":"stop"}],"usage":null})" + "\n\n";
  s += head + R"(],"usage":{"prompt_tokens":52,"completion_tokens":40,"total_tokens":92}})"
              "\n\n";
  return s + "data: [DONE]\n\n";
}

void BM_MessagesStreamWhole(benchmark::State& state) {
  const std::string sse = openai_stream(40);
  std::string out;
  out.reserve(16384);
  for (auto _ : state) {
    api::messages::StreamTranslator t("claude-sonnet-4-5");
    out.clear();
    auto r = t.feed(sse, out);
    auto f = t.finish(out);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(f);
    benchmark::DoNotOptimize(out);
  }
  state.SetItemsProcessed(state.iterations() * 44);  // events in
}
BENCHMARK(BM_MessagesStreamWhole);

}  // namespace
