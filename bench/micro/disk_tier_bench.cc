// Micro benchmarks of the cache's disk tier: what a lookup costs a worker, from co_await to
// resuming on the worker, through the tier's thread pool and RocksDB, for a key that is there (a
// hit: read, checksum, decompress) and for one that is not (the bloom filters answer). The
// database is in a temporary directory and small enough to sit in the page cache, so this is
// the tier's own cost, not the disk's. Run with
// `build/release/bench/sluice_micro_bench --benchmark_filter=DiskTier`.
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cache/disk_tier.h"
#include "core/clock.h"

namespace {

using namespace sluice;

std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

cache::Key key_of(std::uint64_t i) { return {mix(2 * i), mix(2 * i + 1)}; }

// 16 Ki answers of about 1 KiB of chat-completion JSON.
constexpr std::size_t kKeys = 16 * 1024;

struct DiskFixture {
  DiskFixture() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sluice-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = pattern;
    cache::DiskTier::Options o;
    o.path = (dir / "db").string();
    o.max_bytes = 256ull << 20;
    tier = std::make_unique<cache::DiskTier>(o, core::SteadyClock::instance());
    const std::int64_t now = core::SteadyClock::instance().unix_ms();
    for (std::size_t i = 0; i < kKeys; ++i) {
      auto e = std::make_shared<cache::Entry>();
      e->ns = "tenant";
      e->body = R"({"id":"chatcmpl-)" + std::to_string(mix(i)) +
                R"(","object":"chat.completion","choices":[{"index":0,"message":{"role":)"
                R"("assistant","content":")";
      while (e->body.size() < 1000)
        e->body += "word" + std::to_string(mix(i + e->body.size()) % 97) + " ";
      e->body += R"("},"finish_reason":"stop"}]})";
      e->created_ms = now;
      e->expires_ms = now + 86'400'000;
      tier->store(key_of(i), std::move(e));
      if (i % 512 == 511) sync();  // within the tier's write queue
    }
    sync();
  }
  void sync() {
    asio::io_context ioc;
    asio::co_spawn(ioc, tier->sync(), asio::detached);
    ioc.run();
  }
  ~DiskFixture() {
    tier.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::filesystem::path dir;
  std::unique_ptr<cache::DiskTier> tier;
};

DiskFixture& fixture() {
  static DiskFixture f;
  return f;
}

// One worker awaiting lookups one after another, as a request does after a memory miss.
void run_lookups(benchmark::State& state, std::uint64_t first_key) {
  DiskFixture& f = fixture();
  asio::io_context worker;
  std::int64_t found = 0;
  auto loop = [&]() -> asio::awaitable<void> {
    std::uint64_t i = 0;
    for (auto _ : state) {
      cache::EntryPtr e = co_await f.tier->lookup("default", key_of(first_key + (i++ % kKeys)));
      found += e != nullptr;
    }
  };
  asio::co_spawn(worker, loop(), asio::detached);
  worker.run();
  state.counters["found"] =
      benchmark::Counter(static_cast<double>(found), benchmark::Counter::kAvgIterations);
}

void BM_DiskTierLookupHit(benchmark::State& state) { run_lookups(state, 0); }
BENCHMARK(BM_DiskTierLookupHit)->UseRealTime();

void BM_DiskTierLookupMiss(benchmark::State& state) { run_lookups(state, kKeys); }
BENCHMARK(BM_DiskTierLookupMiss)->UseRealTime();

}  // namespace
