// Micro benchmarks of the tokenizer (src/tokenizer/tokenizer.h): count() on about 1 KB of
// English prose, code and CJK text, for o200k_base and cl100k_base, as the gateway calls it to
// reserve a prompt's tokens before a call; a long run of spaces (one piece of 64 KiB, the heap
// merge); and the one-time cost of building an encoding's tables. Run with
// `build/release/bench/sluice_micro_bench --benchmark_filter=Tokenizer`.
#include <benchmark/benchmark.h>

#include <string>

#include "tokenizer/tokenizer.h"

namespace {

using namespace sluice::tokenizer;

// Each about 1 KB.
const std::string kProse =
    "The gateway sits between applications and model providers. It doesn't change the "
    "application: any OpenAI SDK is a client, and the base URL is the only thing that moves. "
    "When a request arrives, the gateway decides whether it's already been answered (a cache "
    "hit), whether an identical request is in flight, and which deployment should take it. Rate "
    "limits are counted in tokens per minute, so before a call the gateway has to know how many "
    "tokens the prompt is. Estimating with four characters per token is fine for English, but "
    "it's wrong for Japanese, for code, and for anything full of numbers. That's why we count "
    "exactly: the same pieces, the same merges, the same ranks as OpenAI's own tokenizer. In "
    "1969, Apollo 11 landed on the Moon; Neil Armstrong's first words were \"That's one small "
    "step for man, one giant leap for mankind.\" The mission lasted 8 days, 3 hours, 18 minutes "
    "and 35 seconds. You're right, I'll do it. We've done it before; we'd do it again. They're "
    "here, aren't they? Short. Shorter. Shortest! Why? Because.\n";

const std::string kCode =
    "export async function fetchJson(url, { retries = 3, timeoutMs = 5_000 } = {}) {\n"
    "  for (let attempt = 0; attempt <= retries; attempt++) {\n"
    "    const controller = new AbortController();\n"
    "    const timer = setTimeout(() => controller.abort(), timeoutMs);\n"
    "    try {\n"
    "      const res = await fetch(url, { signal: controller.signal });\n"
    "      if (!res.ok) throw new Error(`HTTP ${res.status}: ${res.statusText}`);\n"
    "      return await res.json();\n"
    "    } catch (err) {\n"
    "      if (attempt === retries) throw err;\n"
    "    } finally {\n"
    "      clearTimeout(timer);\n"
    "    }\n"
    "  }\n"
    "}\n\n"
    "def fibonacci(n: int) -> list[int]:\n"
    "    \"\"\"Return the first n Fibonacci numbers.\"\"\"\n"
    "    a, b = 0, 1\n"
    "    out = []\n"
    "    for _ in range(n):\n"
    "        out.append(a)\n"
    "        a, b = b, a + b\n"
    "    return out\n\n"
    "std::size_t count(std::string_view text) {\n"
    "    std::size_t n = 0;\n"
    "    for (std::size_t i = 0; i < text.size(); ++i) {\n"
    "        if (text[i] == ' ' || text[i] == '\\n') ++n;\n"
    "    }\n"
    "    return n + (text.empty() ? 0 : 1);\n"
    "}\n";

const std::string kCjk =
    "北京是中华人民共和国的首都，也是全国的政治中心、文化中心、国际交往中心和科技创新中心。"
    "人工智能网关位于应用程序和模型提供商之间，它可以缓存响应、合并相同的请求、在多个部署之间进行"
    "负载均衡，并按每分钟的令牌数量进行限流。"
    "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所"
    "でニャーニャー泣いていた事だけは記憶している。"
    "대한민국의 수도는 서울특별시이다. 서울은 한강을 중심으로 남과 북으로 나뉘어 있으며, 약 천만 "
    "명의 인구가 살고 있다. 안녕하세요! 만나서 반갑습니다.";

void run_count(benchmark::State& state, Encoding encoding, const std::string& text) {
  const Tokenizer& t = Tokenizer::get(encoding);
  const std::size_t tokens = t.count(text);
  for (auto _ : state) benchmark::DoNotOptimize(t.count(text));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.counters["bytes"] = static_cast<double>(text.size());
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

void BM_TokenizerCountProse(benchmark::State& state, Encoding e) { run_count(state, e, kProse); }
void BM_TokenizerCountCode(benchmark::State& state, Encoding e) { run_count(state, e, kCode); }
void BM_TokenizerCountCjk(benchmark::State& state, Encoding e) { run_count(state, e, kCjk); }
void BM_TokenizerCountSpaces(benchmark::State& state, Encoding e) {
  run_count(state, e, std::string(64 * 1024, ' ') + "x");
}
BENCHMARK_CAPTURE(BM_TokenizerCountProse, o200k, Encoding::kO200kBase);
BENCHMARK_CAPTURE(BM_TokenizerCountProse, cl100k, Encoding::kCl100kBase);
BENCHMARK_CAPTURE(BM_TokenizerCountCode, o200k, Encoding::kO200kBase);
BENCHMARK_CAPTURE(BM_TokenizerCountCode, cl100k, Encoding::kCl100kBase);
BENCHMARK_CAPTURE(BM_TokenizerCountCjk, o200k, Encoding::kO200kBase);
BENCHMARK_CAPTURE(BM_TokenizerCountCjk, cl100k, Encoding::kCl100kBase);
BENCHMARK_CAPTURE(BM_TokenizerCountSpaces, o200k, Encoding::kO200kBase);

// What building an encoding's tables costs (offsets, hash table, two-byte table, compiled
// pattern, from the embedded vocabulary). The loop reuses freed memory, so this leaves out the
// page faults that the first Tokenizer::get() in a process also pays for its 5 MB.
void BM_TokenizerBuild(benchmark::State& state, Encoding e) {
  std::size_t bytes = 0;
  for (auto _ : state) {
    const Tokenizer t(e);
    bytes = t.memory_bytes();
    benchmark::DoNotOptimize(bytes);
  }
  state.counters["heap_bytes"] = static_cast<double>(bytes);
}
BENCHMARK_CAPTURE(BM_TokenizerBuild, o200k, Encoding::kO200kBase)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_TokenizerBuild, cl100k, Encoding::kCl100kBase)->Unit(benchmark::kMillisecond);

}  // namespace
