// Micro benchmarks of the cache's memory tier: how fast a hit is when every worker is looking
// things up at once, and how many requests W-TinyLFU answers from memory compared with a plain
// LRU of the same size, on Zipf-distributed traffic. Run with
// `build/release/bench/sluice_micro_bench --benchmark_filter=MemoryTier`.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "cache/memory_tier.h"
#include "core/clock.h"

namespace {

using namespace sluice;
using cache::EvictionPolicy;
using cache::MemoryTier;

std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Real keys are XXH3-128 hashes; splitmix64 of a counter is as uniform.
cache::Key key_of(std::uint64_t i) { return {mix(2 * i), mix(2 * i + 1)}; }

cache::EntryPtr answer(std::int64_t now_ms) {
  auto e = std::make_shared<cache::Entry>();
  e->ns = "tenant";
  e->body.assign(1024, 'x');
  e->created_ms = now_ms;
  e->expires_ms = now_ms + 86'400'000;
  return e;
}

// 16 Ki answers of 1 KiB (about 20 MiB with bookkeeping) in a 64 MiB tier (64 shards): all
// hits, spread over every shard, and more than the CPU caches hold, as in a real gateway.
constexpr std::size_t kHotKeys = 16 * 1024;

struct HotTier {
  HotTier() : tier(64 << 20, core::SteadyClock::instance()) {
    auto e = answer(core::SteadyClock::instance().unix_ms());
    for (std::size_t i = 0; i < kHotKeys; ++i) {
      keys.push_back(key_of(i));
      // A distinct entry per key, so that threads do not share one reference count.
      tier.insert(keys.back(), std::make_shared<cache::Entry>(*e));
    }
  }
  MemoryTier tier;
  std::vector<cache::Key> keys;
};

void BM_MemoryTierLookupHit(benchmark::State& state) {
  static HotTier hot;  // built once, by whichever thread gets here first
  // Each thread walks the keys from its own offset; the keys are random, so consecutive
  // lookups land on random shards and buckets.
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * (kHotKeys / 2 + 77);
  std::int64_t misses = 0;
  for (auto _ : state) {
    auto e = hot.tier.lookup(hot.keys[i++ % kHotKeys]);
    misses += e == nullptr;
    benchmark::DoNotOptimize(e);
  }
  if (misses > 0) state.SkipWithError("a lookup in the hot set missed");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MemoryTierLookupHit)->Threads(1)->Threads(2)->UseRealTime();

// Zipf(s) over ranks 1..n by inversion of the exact cumulative distribution, with a seeded
// generator so every run replays the same trace.
class Zipf {
 public:
  Zipf(std::size_t n, double s) : cdf_(n) {
    double sum = 0;
    for (std::size_t k = 0; k < n; ++k) cdf_[k] = sum += std::pow(static_cast<double>(k + 1), -s);
    for (double& c : cdf_) c /= sum;
  }
  // The 0-based rank for a uniform 64-bit draw.
  std::size_t rank(std::uint64_t draw) const {
    const double u = static_cast<double>(draw >> 11) * 0x1.0p-53;
    auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
    return std::min(static_cast<std::size_t>(it - cdf_.begin()), cdf_.size() - 1);
  }
  // The share of requests for the `top` most popular keys: the best any cache of `top` entries
  // can do on this stream in the long run.
  double top_share(std::size_t top) const { return top == 0 ? 0 : cdf_[top - 1]; }

 private:
  std::vector<double> cdf_;
};

constexpr std::size_t kZipfKeys = 100'000;
constexpr std::size_t kZipfRequests = 1'000'000;

struct Trace {
  Zipf zipf;
  std::vector<cache::Key> requests;
};

const Trace& zipf_trace(int skew_percent) {
  static std::map<int, Trace> traces;  // the benchmarks run one at a time
  auto it = traces.find(skew_percent);
  if (it != traces.end()) return it->second;
  Trace t{Zipf(kZipfKeys, skew_percent / 100.0), {}};
  std::uint64_t seed = 42;
  t.requests.reserve(kZipfRequests);
  for (std::size_t i = 0; i < kZipfRequests; ++i) {
    // key_of scatters the popular ranks over shards and sketch slots.
    t.requests.push_back(key_of(t.zipf.rank(mix(seed++))));
  }
  return traces.emplace(skew_percent, std::move(t)).first->second;
}

// Args: skew x 100, cache size in % of the distinct keys' bytes, policy (0 W-TinyLFU, 1 LRU).
void BM_MemoryTierZipfHitRate(benchmark::State& state) {
  const int skew = static_cast<int>(state.range(0));
  const auto percent = static_cast<std::size_t>(state.range(1));
  const auto policy = state.range(2) == 0 ? EvictionPolicy::kTinyLfu : EvictionPolicy::kLru;
  const Trace& trace = zipf_trace(skew);
  core::ManualClock clock;
  const auto entry = answer(clock.unix_ms());  // one shared value: its size is what matters
  const std::size_t charge = entry->charge() + MemoryTier::kBookkeepingBytes;
  const std::size_t capacity_entries = kZipfKeys * percent / 100;
  double hit_rate = 0;
  for (auto _ : state) {
    MemoryTier tier(capacity_entries * charge, clock, policy);
    std::size_t hits = 0;
    for (const cache::Key& k : trace.requests) {
      if (tier.lookup(k)) {
        ++hits;
      } else {
        tier.insert(k, entry);
      }
    }
    hit_rate = static_cast<double>(hits) / static_cast<double>(trace.requests.size());
  }
  state.counters["hit_rate"] = hit_rate;
  state.counters["ideal"] = trace.zipf.top_share(capacity_entries);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(trace.requests.size()));
  state.SetLabel(policy == EvictionPolicy::kTinyLfu ? "W-TinyLFU" : "LRU");
}
BENCHMARK(BM_MemoryTierZipfHitRate)
    ->ArgNames({"skew", "size_pct", "lru"})
    ->ArgsProduct({{80, 99, 120}, {5, 10}, {0, 1}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace
