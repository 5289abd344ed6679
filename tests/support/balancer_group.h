// Test support: a deployment group for the balancer tests (src/route/*_test.cc): members with
// stable ids and their live loads, a fixed point in time, and a discrete-event driver in which
// each pick starts a request that ends, and reports its latency, some time later.
//
// Thread safety: none; one group per test.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <numeric>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "route/balancer.h"
#include "route/load_stats.h"

namespace sluice::testing {

// An hour after the clock's epoch, so that every age the loads compute is positive.
inline const core::Clock::time_point kNow = core::Clock::time_point{} + std::chrono::hours(1);

// splitmix64: affinity hashes as uniform as real XXH3 ones, from a counter.
inline std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class BalancerGroup {
 public:
  // One member per weight, with ids "d0", "d1", ...
  explicit BalancerGroup(std::vector<std::uint32_t> weights) {
    for (std::size_t i = 0; i < weights.size(); ++i) {
      ids_.push_back("d" + std::to_string(i));
      loads_.push_back(std::make_unique<route::DeploymentLoad>());
    }
    // Only once ids_ no longer grows: Member::id views its strings.
    for (std::size_t i = 0; i < weights.size(); ++i) {
      members_.push_back(
          route::Member{.id = ids_[i], .weight = weights[i], .load = loads_[i].get()});
    }
  }

  std::vector<route::Member>& members() { return members_; }
  route::Member& member(std::size_t i) { return members_[i]; }
  route::DeploymentLoad& load(std::size_t i) { return *loads_[i]; }
  std::size_t size() const { return members_.size(); }

  std::vector<std::uint32_t> all() const {
    std::vector<std::uint32_t> v(members_.size());
    std::iota(v.begin(), v.end(), 0u);
    return v;
  }
  std::vector<std::uint32_t> all_but(std::uint32_t excluded) const {
    std::vector<std::uint32_t> v;
    for (std::uint32_t i = 0; i < members_.size(); ++i) {
      if (i != excluded) v.push_back(i);
    }
    return v;
  }

  // Puts `n` requests in flight on member i (never ended).
  void busy(std::size_t i, int n) {
    for (int k = 0; k < n; ++k) loads_[i]->begin();
  }

  // `requests` picks among `eligible`, one every `gap` from kNow. Each starts a request on the
  // member picked that ends latency[member] later, reporting that latency: the loads follow the
  // picks, as the routing stage makes them. Returns the picks per member.
  std::vector<int> simulate(route::Balancer& balancer, const std::vector<std::uint32_t>& eligible,
                            const std::vector<std::chrono::milliseconds>& latency, int requests,
                            std::chrono::microseconds gap = std::chrono::milliseconds(1)) {
    using Done = std::pair<core::Clock::time_point, std::uint32_t>;
    std::priority_queue<Done, std::vector<Done>, std::greater<>> done;
    std::vector<int> picks(members_.size(), 0);
    core::Clock::time_point now = kNow;
    for (int r = 0; r < requests; ++r) {
      now += gap;
      while (!done.empty() && done.top().first <= now) {
        const auto [at, m] = done.top();
        done.pop();
        loads_[m]->observe(at, latency[m]);
        loads_[m]->end();
      }
      const std::uint32_t m = balancer.pick(eligible, route::PickContext{.now = now});
      loads_[m]->begin();
      done.push({now + latency[m], m});
      ++picks[m];
    }
    while (!done.empty()) {  // leave nothing in flight
      loads_[done.top().second]->end();
      done.pop();
    }
    return picks;
  }

 private:
  std::vector<std::string> ids_;
  std::vector<std::unique_ptr<route::DeploymentLoad>> loads_;
  std::vector<route::Member> members_;
};

// Picks per member over `n` picks at kNow, the loads left as they are.
inline std::vector<int> count_picks(route::Balancer& balancer, std::size_t members,
                                    const std::vector<std::uint32_t>& eligible, int n,
                                    route::PickContext ctx = {.now = kNow}) {
  std::vector<int> picks(members, 0);
  for (int i = 0; i < n; ++i) ++picks[balancer.pick(eligible, ctx)];
  return picks;
}

}  // namespace sluice::testing
