// Micro benchmark of the GCRA limiter (src/limit/gcra.h): the cost of one acquire with 10,000
// active keys, as a gateway with that many API keys sending sees it, on one worker and on two
// at once (the shards are what keeps the second from waiting on the first). Run with
// `build/release/bench/sluice_micro_bench --benchmark_filter=BM_Gcra`.
#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "config/config.h"
#include "core/clock.h"
#include "limit/gcra.h"
#include "limit/limiter.h"
#include "support/redis_server.h"

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

// ---- The Limiter facade (src/limit/limiter.h) ----
//
// What the admit stage pays per request: one all-or-nothing decision over three charges (the
// key's rpm among 10,000 keys, the model's rpm among 4 models, the global rpm), with the local
// backend, on one worker and on two (every worker shares the model and global buckets, as in the
// gateway). BM_LimiterAcquire goes through the coroutine (`co_await limiter.acquire(...)`, what
// the pipeline does), BM_LimiterAcquireLocal calls the plain function it returns at once with
// charges by name (a lookup under a shard lock each), BM_LimiterAcquireLocalBuckets with the
// buckets resolved once (Charge::bucket, as the admit stage charges them: a compare-and-swap
// each, no lookup, no lock), BM_LimiterAcquireLocalRefused measures the refused path. The Charge
// strings and buckets are resolved once, as the caller's own cost. Run with
// `build/release/bench/sluice_micro_bench --benchmark_filter=BM_Limiter`.

namespace facade {

// Each thread keeps its own time and moves it 10 us per decision, as BM_GcraAcquire does.
thread_local core::Clock::time_point t_now = kStart;

class ThreadClock final : public core::Clock {
 public:
  time_point now() const override { return t_now; }
  std::int64_t unix_ms() const override { return 0; }
};

struct Requests {
  Requests() {
    const limit::Rate model{.per_minute = 100'000'000};
    const limit::Rate global{.per_minute = 1'000'000'000};
    for (std::size_t i = 0; i < kKeys; ++i) {
      names.push_back("key:rpm:sk-sluice-" + std::to_string(1'000'003 * (i + 1)));
    }
    for (std::size_t i = 0; i < kKeys; ++i) {
      charges.push_back({limit::Charge{names[i], kRate, 1}, limit::Charge{kModels[i % 4], model, 1},
                         limit::Charge{"global:rpm", global, 1}});
    }
    // The same charges on the same state, each with its bucket, as tenants and runtimes hold them.
    for (const auto& request : charges) {
      auto& with = bucket_charges.emplace_back(request);
      for (limit::Charge& c : with) {
        held.push_back(shared.local().bucket(c.key));
        c.bucket = held.back().get();
      }
    }
    order.resize(4 * kKeys + 17);
    std::mt19937_64 rng(42);
    for (auto& i : order) i = static_cast<std::uint32_t>(rng() % kKeys);
  }
  static constexpr std::string_view kModels[] = {"model:rpm:m0", "model:rpm:m1", "model:rpm:m2",
                                                 "model:rpm:m3"};
  ThreadClock clock;
  limit::SharedLimits shared{clock};
  std::vector<std::string> names;  // the keys' buckets, which the charges view
  std::vector<std::array<limit::Charge, 3>> charges;
  std::vector<std::array<limit::Charge, 3>> bucket_charges;
  std::vector<std::shared_ptr<limit::GcraBucket>> held;  // what bucket_charges point to
  std::vector<std::uint32_t> order;
  std::atomic<std::int64_t> horizon_ns{0};
};

Requests& requests() {
  static Requests r;
  return r;
}

// Runs `body(limiter, charges)` once per iteration and reports the allowed share; with
// `buckets`, the charges carry their buckets.
template <class Body>
void run(benchmark::State& state, Body body, bool buckets = false) {
  Requests& r = requests();
  asio::io_context io{1};
  limit::Limiter limiter(r.shared, config::RateLimits{}, io.get_executor());
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * (r.order.size() / 2);
  t_now = kStart + std::chrono::nanoseconds(r.horizon_ns.load());
  std::int64_t allowed = 0;
  body(
      state, io, limiter,
      [&]() -> std::span<const limit::Charge> {
        t_now += kStep;
        const std::size_t k = r.order[i++ % r.order.size()];
        return buckets ? r.bucket_charges[k] : r.charges[k];
      },
      allowed);
  const std::int64_t end_ns = (t_now - kStart + std::chrono::minutes(1)).count();
  std::int64_t seen = r.horizon_ns.load();
  while (seen < end_ns && !r.horizon_ns.compare_exchange_weak(seen, end_ns)) {
  }
  state.counters["allowed"] =
      benchmark::Counter(static_cast<double>(allowed) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
  state.SetItemsProcessed(state.iterations());
}

}  // namespace facade

void BM_LimiterAcquireLocal(benchmark::State& state) {
  facade::run(state, [](benchmark::State& st, asio::io_context&, limit::Limiter& limiter, auto next,
                        std::int64_t& allowed) {
    for (auto _ : st) {
      const limit::Verdict v = limiter.acquire_local(next());
      allowed += v.outcome == limit::Verdict::Outcome::kAllowed;
      benchmark::DoNotOptimize(v);
    }
  });
}
BENCHMARK(BM_LimiterAcquireLocal)->Threads(1)->Threads(2)->UseRealTime();

void BM_LimiterAcquireLocalBuckets(benchmark::State& state) {
  facade::run(
      state,
      [](benchmark::State& st, asio::io_context&, limit::Limiter& limiter, auto next,
         std::int64_t& allowed) {
        for (auto _ : st) {
          const limit::Verdict v = limiter.acquire_local(next());
          allowed += v.outcome == limit::Verdict::Outcome::kAllowed;
          benchmark::DoNotOptimize(v);
        }
      },
      /*buckets=*/true);
}
BENCHMARK(BM_LimiterAcquireLocalBuckets)->Threads(1)->Threads(2)->UseRealTime();

void BM_LimiterAcquire(benchmark::State& state) {
  facade::run(state, [](benchmark::State& st, asio::io_context& io, limit::Limiter& limiter,
                        auto next, std::int64_t& allowed) {
    auto loop = [&]() -> asio::awaitable<void> {
      for (auto _ : st) {
        const std::span<const limit::Charge> charges = next();
        const limit::Verdict v = co_await limiter.acquire(charges);
        allowed += v.outcome == limit::Verdict::Outcome::kAllowed;
        benchmark::DoNotOptimize(v);
      }
    };
    asio::co_spawn(io, loop, asio::detached);
    io.run();
  });
}
BENCHMARK(BM_LimiterAcquire)->Threads(1)->Threads(2)->UseRealTime();

// The refused path, as a client past its limit hammering the gateway sees it: the key's charge
// is refused, and the other two are looked at as they stand (two peeks each) so the verdict can
// report them.
void BM_LimiterAcquireLocalRefused(benchmark::State& state) {
  facade::ThreadClock clock;
  limit::SharedLimits shared{clock};
  asio::io_context io{1};
  limit::Limiter limiter(shared, config::RateLimits{}, io.get_executor());
  const limit::Charge charges[] = {
      limit::Charge{"key:rpm:sk-sluice-hammering", limit::Rate{.per_minute = 60}, 1},
      limit::Charge{"model:rpm:m0", limit::Rate{.per_minute = 100'000'000}, 1},
      limit::Charge{"global:rpm", limit::Rate{.per_minute = 1'000'000'000}, 1}};
  facade::t_now = kStart;  // frozen: after the first 60, every decision is refused
  std::int64_t refused = 0;
  for (auto _ : state) {
    const limit::Verdict v = limiter.acquire_local(charges);
    refused += v.outcome == limit::Verdict::Outcome::kRefused;
    benchmark::DoNotOptimize(v);
  }
  state.counters["refused"] =
      static_cast<double>(refused) / static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LimiterAcquireLocalRefused)->UseRealTime();

// The same three charges as three plain GcraLimiter::acquire calls (not all or nothing): what the
// facade costs on top of the limiter itself.
void BM_LimiterBaselineThreeAcquires(benchmark::State& state) {
  facade::run(state, [](benchmark::State& st, asio::io_context&, limit::Limiter&, auto next,
                        std::int64_t& allowed) {
    limit::GcraLimiter& local = facade::requests().shared.local();
    for (auto _ : st) {
      const std::span<const limit::Charge> charges = next();
      bool all = true;
      for (const limit::Charge& c : charges) {
        all &= local.acquire(c.key, c.rate, c.cost, facade::t_now).allowed;
      }
      allowed += all;
      benchmark::DoNotOptimize(all);
    }
  });
}
BENCHMARK(BM_LimiterBaselineThreeAcquires)->Threads(1)->Threads(2)->UseRealTime();

// ---- The Redis backend ----
//
// The same decision through Redis (a redis-server started on a free loopback port, as the tests
// do; skipped when there is none): one at a time, the round trip a request waits for, and 32 at
// once on one connection, as a busy worker sends them (pipelined on the socket, one script run
// each). Redis's own clock: the key buckets fill up and refuse, which costs Redis the same.

namespace redis_backend {

struct Server {
  Server() {
    try {
      redis.emplace();
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  std::optional<sluice::testing::RedisServer> redis;
  std::string error;
};

// Runs `rounds(io, limiter)` with a connected Redis-backed Limiter on this thread.
template <class Rounds>
void with_limiter(benchmark::State& state, Rounds rounds) {
  static Server server;
  if (!server.redis) {
    state.SkipWithError(("no redis-server: " + server.error).c_str());
    return;
  }
  facade::Requests& r = facade::requests();
  asio::io_context io{1};
  config::RateLimits c;
  c.backend = config::RateLimits::Backend::kRedis;
  c.redis.url = server.redis->url();
  c.redis.timeout = std::chrono::seconds(1);
  limit::Limiter limiter(r.shared, c, io.get_executor());
  limiter.start();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!limiter.redis_ready() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(5));
  }
  if (!limiter.redis_ready()) {
    state.SkipWithError("cannot connect to redis-server");
    return;
  }
  server.redis->command({"CONFIG", "RESETSTAT"});
  rounds(io, limiter);
  limiter.close();
  io.run();
  state.counters["fell_back"] = static_cast<double>(r.shared.redis_failures());
  // Redis's own time per script run, to tell it from the round trip.
  const std::string stats = server.redis->command({"INFO", "commandstats"}).str;
  const auto at = stats.find("cmdstat_evalsha:");
  const auto per_call = stats.find("usec_per_call=", at);
  if (at != std::string::npos && per_call != std::string::npos) {
    state.counters["redis_us_per_script"] = std::stod(stats.substr(per_call + 14));
  }
}

}  // namespace redis_backend

void BM_LimiterRedisAcquire(benchmark::State& state) {
  redis_backend::with_limiter(state, [&](asio::io_context& io, limit::Limiter& limiter) {
    facade::Requests& r = facade::requests();
    std::size_t i = 0;
    auto loop = [&]() -> asio::awaitable<void> {
      for (auto _ : state) {
        const std::span<const limit::Charge> charges = r.charges[r.order[i++ % r.order.size()]];
        const limit::Verdict v = co_await limiter.acquire(charges);
        benchmark::DoNotOptimize(v);
      }
    };
    // Not io.run(): the connection keeps the loop busy until it is closed.
    bool done = false;
    asio::co_spawn(io, loop, [&](std::exception_ptr) { done = true; });
    while (!done) io.run_one();
    state.SetItemsProcessed(state.iterations());
  });
}
BENCHMARK(BM_LimiterRedisAcquire)->UseRealTime();

void BM_LimiterRedisAcquire32InFlight(benchmark::State& state) {
  constexpr int kInFlight = 32;
  redis_backend::with_limiter(state, [&](asio::io_context& io, limit::Limiter& limiter) {
    facade::Requests& r = facade::requests();
    std::size_t i = 0;
    int running = 0;
    auto one = [&](std::span<const limit::Charge> charges) -> asio::awaitable<void> {
      const limit::Verdict v = co_await limiter.acquire(charges);
      benchmark::DoNotOptimize(v);
      --running;
    };
    for (auto _ : state) {
      running = kInFlight;
      for (int k = 0; k < kInFlight; ++k) {
        asio::co_spawn(io, one(r.charges[r.order[i++ % r.order.size()]]), asio::detached);
      }
      while (running > 0) io.run_one();
    }
    state.SetItemsProcessed(state.iterations() * kInFlight);
  });
}
BENCHMARK(BM_LimiterRedisAcquire32InFlight)->UseRealTime();

}  // namespace
