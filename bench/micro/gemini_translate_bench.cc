// Micro benchmarks of the Gemini translator (src/provider/gemini_translate.h): what a
// `kind: gemini` request costs on top of a pass-through one. A chat request as an agent sends it
// (system prompt, a few turns, a tool call and its result, two tool declarations), a whole text
// answer, one stream event of text and one with a function call, and an embeddings answer of
// 768 values. Run with `build/release/bench/sluice_micro_bench --benchmark_filter=Gemini`.
#include <benchmark/benchmark.h>

#include <string>

#include "provider/gemini_translate.h"

namespace {

using namespace sluice::provider;

const std::string kRequest =
    R"({"model":"gemini-flash","stream":true,"stream_options":{"include_usage":true},)"
    R"("temperature":0.2,"max_completion_tokens":1024,"messages":[)"
    R"({"role":"system","content":"You are a coding assistant. Answer briefly and cite the )"
    R"(files you read. Prefer small, reviewable changes."},)"
    R"({"role":"user","content":"Why does the build fail on the CI machine but not locally?"},)"
    R"({"role":"assistant","content":"Let me look at the CI log.","tool_calls":[{"id":"call_1",)"
    R"("type":"function","function":{"name":"read_file","arguments":"{\"path\":\"ci/build.log\"}"}}]},)"
    R"({"role":"tool","tool_call_id":"call_1","content":"error: 'format' is not a member of )"
    R"('std' (did you forget '#include <format>'?)\nmake: *** [Makefile:41] Error 1"},)"
    R"({"role":"assistant","content":"The CI compiler is GCC 12, which has no <format>; your )"
    R"(machine has GCC 13."},)"
    R"({"role":"user","content":"Can you fix it without changing compilers?"}],)"
    R"("tools":[{"type":"function","function":{"name":"read_file","description":"Read a file )"
    R"(of the repository.","parameters":{"type":"object","properties":{"path":{"type":"string",)"
    R"("description":"Path from the repository root"}},"required":["path"],)"
    R"("additionalProperties":false}}},{"type":"function","function":{"name":"edit_file",)"
    R"("description":"Replace text in a file.","parameters":{"type":"object","properties":{)"
    R"("path":{"type":"string"},"old":{"type":"string"},"new":{"type":"string"}},)"
    R"("required":["path","old","new"],"additionalProperties":false},"strict":true}}]})";

void BM_GeminiTranslateRequest(benchmark::State& state) {
  for (auto _ : state) {
    auto r = gemini::translate_request(kRequest);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kRequest.size()));
}
BENCHMARK(BM_GeminiTranslateRequest);

const std::string kAnswer = R"({
  "candidates": [
    {
      "content": {
        "parts": [
          {
            "text": "Replace std::format with fmt::format from the fmt library (already a dependency through spdlog): include <fmt/format.h> and change the three calls in src/report.cc. GCC 12 then builds it, and the output is the same."
          }
        ],
        "role": "model"
      },
      "finishReason": "STOP",
      "index": 0
    }
  ],
  "usageMetadata": {
    "promptTokenCount": 312,
    "candidatesTokenCount": 48,
    "totalTokenCount": 471,
    "promptTokensDetails": [
      {
        "modality": "TEXT",
        "tokenCount": 312
      }
    ],
    "thoughtsTokenCount": 111
  },
  "modelVersion": "gemini-2.5-flash",
  "responseId": "4-4GafrNGoq52roPk_XSuAY"
}
)";

void BM_GeminiTranslateResponse(benchmark::State& state) {
  for (auto _ : state) {
    auto r = gemini::translate_response(kAnswer, "gemini-2.5-flash",
                                        "chatcmpl-req_5f0c3a9e1d2b4c6a8e7f9012", 1735689600);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kAnswer.size()));
}
BENCHMARK(BM_GeminiTranslateResponse);

const std::string kTextEvent =
    R"(data: {"candidates": [{"content": {"parts": [{"text": " fmt::format from the fmt library )"
    R"((already a dependency through spdlog): include"}],"role": "model"},"index": 0}],)"
    R"("usageMetadata": {"promptTokenCount": 312,"totalTokenCount": 423,"promptTokensDetails": )"
    R"([{"modality": "TEXT","tokenCount": 312}],"thoughtsTokenCount": 111},"modelVersion": )"
    R"("gemini-2.5-flash","responseId": "4-4GafrNGoq52roPk_XSuAY"})"
    "\r\n\r\n";

const std::string kCallEvent =
    R"(data: {"candidates": [{"content": {"parts": [{"functionCall": {"name": "edit_file","args": )"
    R"({"path": "src/report.cc","old": "std::format(","new": "fmt::format("}},"thoughtSignature": )"
    R"("CiIBVKhc7vB+vaaq6rA/KC79Ts7iXagIOA4EBOyBFDpl+pxPCmcBVKhc7gYyIw6X0IsswYK3hRIlOqJqLuw/CA777RLw"}],)"
    R"("role": "model"},"index": 0}],"usageMetadata": {"promptTokenCount": 312,"totalTokenCount": )"
    R"(423},"modelVersion": "gemini-2.5-flash","responseId": "4-4GafrNGoq52roPk_XSuAY"})"
    "\r\n\r\n";

// One event of a stream already under way (the translator and its parse arena are warm), as the
// provider feeds each event it reads.
void stream_event(benchmark::State& state, const std::string& event) {
  gemini::StreamTranslator t(true, "gemini-2.5-flash", "chatcmpl-req_5f0c3a9e1d2b4c6a8e7f9012",
                             1735689600);
  std::string out;
  (void)t.feed(event, out);
  for (auto _ : state) {
    out.clear();
    auto r = t.feed(event, out);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(event.size()));
}

void BM_GeminiStreamTextEvent(benchmark::State& state) { stream_event(state, kTextEvent); }
BENCHMARK(BM_GeminiStreamTextEvent);

void BM_GeminiStreamFunctionCallEvent(benchmark::State& state) { stream_event(state, kCallEvent); }
BENCHMARK(BM_GeminiStreamFunctionCallEvent);

std::string embeddings_answer() {
  std::string body = R"({"embeddings": [{"values": [)";
  for (int i = 0; i < 768; ++i) {
    if (i > 0) body += ", ";
    body += std::to_string((i % 97 - 48) * 0.000731);
  }
  return body + "]}]}";
}

void BM_GeminiEmbeddingsResponse(benchmark::State& state) {
  const std::string body = embeddings_answer();
  gemini::EmbeddingsRequest info;
  info.base64 = state.range(0) != 0;
  info.inputs = 1;
  info.estimated_tokens = 12;
  for (auto _ : state) {
    auto r = gemini::translate_embeddings_response(body, "gemini-embedding-001", info);
    benchmark::DoNotOptimize(r);
  }
  state.SetLabel(info.base64 ? "base64" : "float");
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_GeminiEmbeddingsResponse)->Arg(0)->Arg(1);

}  // namespace
