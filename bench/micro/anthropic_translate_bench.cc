// Micro benchmarks of the Anthropic translation (src/provider/anthropic_translate.h): what a
// `kind: anthropic` provider adds to a request on a worker, beside what a pass-through does.
// translate_request on a chat request, translate_response on an answer, and the stream
// translator per event. Run with
// `build/release/bench/sluice_micro_bench --benchmark_filter=BM_Anthropic`.
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>
#include <vector>

#include "provider/anthropic_translate.h"

namespace {

using namespace sluice;

// hot_path_bench.cc's chat request, the pass-through's.
const std::string kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful )"
    R"(assistant."},{"role":"user","content":"Write a haiku about the sea, and explain )"
    R"(its imagery in two sentences."}],"temperature":0.7,"max_tokens":256,"stream":false})";

// A second turn of a tool-using conversation: a tool, the assistant's call, its result.
const std::string kToolChat =
    R"({"model":"claude","stream":true,"stream_options":{"include_usage":true},"messages":[)"
    R"({"role":"system","content":"You answer questions about the weather."},)"
    R"({"role":"user","content":"What is the weather like in San Francisco?"},)"
    R"({"role":"assistant","content":null,"tool_calls":[{"id":"toolu_01A09q90qw90lq917835lq9",)"
    R"("type":"function","function":{"name":"get_weather","arguments":"{\"location\":)"
    R"(\"San Francisco, CA\",\"unit\":\"celsius\"}"}}]},)"
    R"({"role":"tool","tool_call_id":"toolu_01A09q90qw90lq917835lq9","content":"15 degrees"}],)"
    R"("tools":[{"type":"function","function":{"name":"get_weather","description":"Get the )"
    R"(current weather in a given location","parameters":{"type":"object","properties":)"
    R"({"location":{"type":"string","description":"The city and state, e.g. San Francisco, )"
    R"(CA"},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":)"
    R"(["location"]}}}]})";

void translate(benchmark::State& state, const std::string& body) {
  provider::anthropic::RequestOptions options;
  options.model = "claude-sonnet-4-5";
  for (auto _ : state) {
    auto r = provider::anthropic::translate_request(body, options);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}

void BM_AnthropicTranslateRequest(benchmark::State& state) { translate(state, kChat); }
BENCHMARK(BM_AnthropicTranslateRequest);

void BM_AnthropicTranslateRequestTools(benchmark::State& state) { translate(state, kToolChat); }
BENCHMARK(BM_AnthropicTranslateRequestTools);

// The answer of the Messages API reference, with the cache counts a prompt-cached request has.
const std::string kAnswer =
    R"({"id":"msg_013Zva2CMHLNnXjNJJKqJ2EF","type":"message","role":"assistant","model":)"
    R"("claude-sonnet-4-5-20250929","content":[{"type":"text","text":"Exit code 137 is SIGKILL, )"
    R"(usually from the OOM killer. Check the memory limit."}],"stop_reason":"end_turn",)"
    R"("stop_sequence":null,"usage":{"input_tokens":52,"cache_creation_input_tokens":0,)"
    R"("cache_read_input_tokens":0,"output_tokens":38}})";

void BM_AnthropicTranslateResponse(benchmark::State& state) {
  for (auto _ : state) {
    auto r = provider::anthropic::translate_response(kAnswer, 1735689600);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kAnswer.size()));
}
BENCHMARK(BM_AnthropicTranslateResponse);

// A streamed answer as Anthropic sends it: message_start, a text block of `deltas` text deltas
// (a word each, as the documented streams have them), message_delta, message_stop. Compact, as
// Anthropic's API writes events, or `spaced` as some of its documentation's examples are (which
// the translator reads with the parser instead of its compact-delta match).
std::string anthropic_stream(int deltas, bool spaced) {
  std::string delta =
      spaced
          ? R"(data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " word"}})"
          : R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" word"}})";
  std::string out =
      "event: message_start\n"
      R"(data: {"type":"message_start","message":{"id":"msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY",)"
      R"("type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5-20250929",)"
      R"("stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"output_tokens":1}}})"
      "\n\n"
      "event: content_block_start\n"
      R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
      "\n\n";
  for (int i = 0; i < deltas; ++i) {
    out += "event: content_block_delta\n";
    out += delta;
    out += "\n\n";
  }
  out +=
      "event: content_block_stop\n"
      R"(data: {"type":"content_block_stop","index":0})"
      "\n\n"
      "event: message_delta\n"
      R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
      R"("usage":{"output_tokens":15}})"
      "\n\n"
      "event: message_stop\n"
      R"(data: {"type":"message_stop"})"
      "\n\n";
  return out;
}

// One feed() per event, as a stream whose events arrive in separate reads is fed; the figure
// is per event (items). The output buffer is the caller's and reused, as the provider's is.
// Arguments: include_usage, spaced.
void BM_AnthropicStreamEvent(benchmark::State& state) {
  const int deltas = 50;
  const std::string sse = anthropic_stream(deltas, state.range(1) != 0);
  std::vector<std::string_view> events;
  for (std::size_t at = 0; at < sse.size();) {
    std::size_t end = sse.find("\n\n", at) + 2;
    events.emplace_back(sse.data() + at, end - at);
    at = end;
  }
  const bool include_usage = state.range(0) != 0;
  std::string out;
  out.reserve(4096);
  for (auto _ : state) {
    provider::anthropic::StreamTranslator t(include_usage, 1735689600);
    for (std::string_view ev : events) {
      out.clear();
      auto r = t.feed(ev, out);
      benchmark::DoNotOptimize(r);
      benchmark::DoNotOptimize(out);
    }
    out.clear();
    auto r = t.finish(out);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(events.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(sse.size()));
}
BENCHMARK(BM_AnthropicStreamEvent)->Args({0, 0})->Args({1, 0})->Args({0, 1});

// The whole stream in one feed(), as a stream that arrived in one read is fed.
void BM_AnthropicStreamWhole(benchmark::State& state) {
  const std::string sse = anthropic_stream(50, false);
  std::string out;
  out.reserve(32768);
  for (auto _ : state) {
    provider::anthropic::StreamTranslator t(true, 1735689600);
    out.clear();
    auto r = t.feed(sse, out);
    auto f = t.finish(out);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(f);
  }
  state.SetItemsProcessed(state.iterations() * 55);  // events per stream
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(sse.size()));
}
BENCHMARK(BM_AnthropicStreamWhole);

}  // namespace
