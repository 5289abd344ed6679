// Micro benchmark of the GCRA limiter (src/limit/gcra.h): the cost of one acquire with 10,000
// active keys, as a gateway with that many API keys sending sees it, on one worker and on two
// at once (the shards are what keeps the second from waiting on the first). Run with
// `build/release/bench/sluice_micro_bench --benchmark_filter=BM_Gcra`.
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "limit/gcra.h"

namespace {

using namespace sluice;

constexpr std::size_t kKeys = 10'000;
// 600 a minute is 100 ms per request. Each thread moves its own time 10 us per acquire, so a key
// comes round about every 100 ms of it: the buckets sit near their steady state and decisions
// are a mix of allowed and refused, as under real load.
const limit::Rate kRate{.per_minute = 600};
constexpr std::chrono::nanoseconds kStep = std::chrono::microseconds(10);
const core::Clock::time_point kStart = core::Clock::time_point{} + std::chrono::hours(1);

struct ActiveKeys {
  ActiveKeys() {
    for (std::size_t i = 0; i < kKeys; ++i) {
      keys.push_back("sk-sluice-" + std::to_string(1'000'003 * (i + 1)));
      limiter.acquire(keys.back(), kRate, 1, kStart);
    }
    // A random order, the same every run, longer than the key set so it does not repeat in step
    // with it.
    order.resize(4 * kKeys + 17);
    std::mt19937_64 rng(42);
    for (auto& i : order) i = static_cast<std::uint32_t>(rng() % kKeys);
  }
  limit::GcraLimiter limiter;
  std::vector<std::string> keys;
  std::vector<std::uint32_t> order;
  std::atomic<std::int64_t> horizon_ns{0};  // the latest time any run reached, plus a minute
};

void BM_GcraAcquire(benchmark::State& state) {
  static ActiveKeys active;  // built once, by whichever thread gets here first
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * (active.order.size() / 2);
  // Every run (Google Benchmark calls this several times to size the iterations) starts a
  // minute after where the previous one left its time, so it finds the buckets as they would be
  // in real time rather than owed far into the future.
  core::Clock::time_point now = kStart + std::chrono::nanoseconds(active.horizon_ns.load());
  std::int64_t allowed = 0;
  for (auto _ : state) {
    const limit::Decision d =
        active.limiter.acquire(active.keys[active.order[i++ % active.order.size()]], kRate, 1, now);
    allowed += d.allowed;
    benchmark::DoNotOptimize(d);
    now += kStep;
  }
  const std::int64_t end_ns = (now - kStart + std::chrono::minutes(1)).count();
  std::int64_t seen = active.horizon_ns.load();
  while (seen < end_ns && !active.horizon_ns.compare_exchange_weak(seen, end_ns)) {
  }
  if (active.limiter.size() > kKeys) state.SkipWithError("acquire created keys");
  state.counters["allowed"] =
      benchmark::Counter(static_cast<double>(allowed) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GcraAcquire)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
