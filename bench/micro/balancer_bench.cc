// Micro benchmarks of the balancers (src/route/balancer.h): the cost of one pick for each
// strategy over groups of 2, 16 and 256 deployments, all eligible, with loads as a busy gateway
// sees them (a few requests in flight, latency samples of different ages, usage against rpm /
// tpm limits). Picks do not change the loads, so every iteration sees the same state. Run with
// `build/release/sluice_micro_bench --benchmark_filter=BM_Pick`.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "route/balancer.h"
#include "route/load_stats.h"
#include "route/rng.h"

namespace {

using namespace sluice;
using config::Strategy;

const core::Clock::time_point kNow = core::Clock::time_point{} + std::chrono::hours(1);

struct Group {
  explicit Group(std::size_t n) {
    route::Rng rng(n);
    for (std::size_t i = 0; i < n; ++i) {
      ids.push_back("openai/gpt-4o-mini/" + std::to_string(i));
      loads.push_back(std::make_unique<route::DeploymentLoad>());
      route::DeploymentLoad& load = *loads.back();
      for (std::uint32_t k = rng.below(6); k > 0; --k) load.begin();
      // Samples of 50 to 500 ms, taken up to 2 s ago.
      load.observe(kNow - std::chrono::milliseconds(rng.below(2000)),
                   std::chrono::milliseconds(50 + rng.below(450)));
      load.add_usage(kNow, rng.below(300), rng.below(200'000));
    }
    for (std::size_t i = 0; i < n; ++i) {
      members.push_back(route::Member{
          .id = ids[i],
          .weight = 1 + static_cast<std::uint32_t>(i % 3),
          .rpm = 1000,
          .tpm = 1'000'000,
          .input_cost_per_mtok = 0.15 * static_cast<double>(1 + i % 2),
          .output_cost_per_mtok = 0.6 * static_cast<double>(1 + i % 2),
          .load = loads[i].get(),
      });
    }
    eligible.resize(n);
    std::iota(eligible.begin(), eligible.end(), 0u);
  }
  std::vector<std::string> ids;
  std::vector<std::unique_ptr<route::DeploymentLoad>> loads;
  std::vector<route::Member> members;
  std::vector<std::uint32_t> eligible;
};

void BM_Pick(benchmark::State& state, Strategy strategy, std::size_t size) {
  Group group(size);
  route::Rng rng(1);
  auto balancer = route::make_balancer(strategy, config::HashKey{}, group.members, rng);
  std::uint64_t affinity = 0;
  for (auto _ : state) {
    // A new key each pick, as requests from many users would bring (consistent-hash only).
    affinity += 0x9e3779b97f4a7c15ULL;
    route::PickContext ctx{.now = kNow, .affinity = affinity, .has_affinity = true};
    benchmark::DoNotOptimize(balancer->pick(group.eligible, ctx));
  }
}

const bool kRegistered = [] {
  for (Strategy s : {Strategy::kRoundRobin, Strategy::kWeighted, Strategy::kRandom,
                     Strategy::kLeastRequests, Strategy::kLatency, Strategy::kP2cEwma,
                     Strategy::kConsistentHash, Strategy::kUsage, Strategy::kCost}) {
    for (std::size_t n : {2, 16, 256}) {
      const std::string name =
          "BM_Pick/" + std::string(config::strategy_name(s)) + "/" + std::to_string(n);
      benchmark::RegisterBenchmark(name.c_str(), BM_Pick, s, n);
    }
  }
  return true;
}();

}  // namespace
