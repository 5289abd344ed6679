// Micro benchmarks of the per-request work the gateway does on a worker: decoding the body and
// locating `model`, splitting SSE events, writing a response head. Run with
// `make bench-micro`; they guide optimisation, the load benchmark (bench/load) is the verdict.
#include <benchmark/benchmark.h>

#include <string>

#include "api/inference_request.h"
#include "api/usage.h"
#include "cache/cache_key.h"
#include "http/response_head.h"
#include "http/sse.h"

namespace {

using namespace sluice;

const std::string kChat =
    R"({"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful )"
    R"(assistant."},{"role":"user","content":"Write a haiku about the sea, and explain )"
    R"(its imagery in two sentences."}],"temperature":0.7,"max_tokens":256,"stream":false})";

void BM_DecodeInference(benchmark::State& state) {
  for (auto _ : state) {
    auto r = api::decode_inference(api::Endpoint::kChatCompletions, kChat);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kChat.size()));
}
BENCHMARK(BM_DecodeInference);

// The same pass with the canonical form built (when the cache or coalescing takes part), and the
// key hashed from it.
void BM_DecodeInferenceWithKey(benchmark::State& state) {
  for (auto _ : state) {
    auto r = api::decode_inference(api::Endpoint::kChatCompletions, kChat, true);
    auto key = cache::make_key("default", *r);
    benchmark::DoNotOptimize(key);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kChat.size()));
}
BENCHMARK(BM_DecodeInferenceWithKey);

// Reading an answer's usage (every answer, when usage is counted), on the load benchmark's
// answer (bench/load/proxy_bench.py).
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

void BM_FindUsage(benchmark::State& state) {
  for (auto _ : state) {
    auto u = api::find_usage(kAnswer);
    benchmark::DoNotOptimize(u);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kAnswer.size()));
}
BENCHMARK(BM_FindUsage);

std::string sse_stream(int events) {
  std::string out;
  for (int i = 0; i < events; ++i) {
    out += R"(data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,)"
           R"("model":"m","choices":[{"index":0,"delta":{"content":" word"},)"
           R"("finish_reason":null}]})"
           "\n\n";
  }
  return out + "data: [DONE]\n\n";
}

void BM_SseSplit(benchmark::State& state) {
  const std::string stream = sse_stream(50);
  const std::size_t piece = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    http::SseSplitter splitter;
    std::string buffer;
    for (std::size_t at = 0; at < stream.size(); at += piece) {
      buffer.append(stream, at, piece);
      std::size_t n = splitter.complete_prefix(buffer);
      buffer.erase(0, n);
      splitter.consumed(n);
    }
    benchmark::DoNotOptimize(buffer);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(stream.size()));
}
BENCHMARK(BM_SseSplit)->Arg(64)->Arg(1024)->Arg(65536);

void BM_WriteHead(benchmark::State& state) {
  std::string out;
  out.reserve(512);
  http::Header extra[] = {{"openai-processing-ms", "123"}};
  for (auto _ : state) {
    http::HeadOptions o;
    o.status = 200;
    o.content_type = "application/json";
    o.content_length = 612;
    o.request_id = "req_0123456789abcdef01234567";
    o.extra = extra;
    http::write_head(out, o);
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_WriteHead);

}  // namespace
