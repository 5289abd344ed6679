#include "cache/memory_tier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace sluice::cache {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kHour = 3'600'000;

// Real keys are XXH3-128 hashes; splitmix64 of a counter is as uniform.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Key key_of(std::uint64_t i) { return {mix(2 * i), mix(2 * i + 1)}; }

// An answer whose body starts with `tag`, padded to `body_bytes`.
EntryPtr make_entry(const core::Clock& clock, std::string tag, std::size_t body_bytes = 1000,
                    std::string ns = "tenant-a", std::int64_t ttl_ms = kHour) {
  auto e = std::make_shared<Entry>();
  e->ns = std::move(ns);
  e->body = std::move(tag);
  e->body.resize(std::max(body_bytes, e->body.size()), '.');
  e->body.shrink_to_fit();
  e->created_ms = clock.unix_ms();
  e->expires_ms = clock.unix_ms() + ttl_ms;
  return e;
}

std::size_t charge_of(const EntryPtr& e) { return e->charge() + MemoryTier::kBookkeepingBytes; }

TEST(MemoryTier, HitAfterInsert) {
  core::ManualClock clock;
  MemoryTier tier(1 << 20, clock);
  auto e = make_entry(clock, "answer");
  tier.insert(key_of(1), e);
  EXPECT_EQ(tier.lookup(key_of(1)), e);
  EXPECT_EQ(tier.lookup(key_of(1)), e);
  auto s = tier.stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes, charge_of(e));
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 0u);
  EXPECT_EQ(s.inserts, 1u);
}

TEST(MemoryTier, MissForUnknownKey) {
  core::ManualClock clock;
  MemoryTier tier(1 << 20, clock);
  tier.insert(key_of(1), make_entry(clock, "answer"));
  EXPECT_EQ(tier.lookup(key_of(2)), nullptr);
  EXPECT_EQ(tier.stats().misses, 1u);
}

TEST(MemoryTier, ExpiredEntryIsNeverReturnedAndIsRemoved) {
  core::ManualClock clock;
  MemoryTier tier(1 << 20, clock);
  tier.insert(key_of(1), make_entry(clock, "answer", 1000, "t", 10'000));
  clock.advance(9'999ms);
  EXPECT_NE(tier.lookup(key_of(1)), nullptr);
  clock.advance(1ms);  // expires_ms is the first instant it must not be served
  EXPECT_EQ(tier.lookup(key_of(1)), nullptr);
  auto s = tier.stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.bytes, 0u);
  EXPECT_EQ(s.expirations, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 1u);
}

TEST(MemoryTier, AnAlreadyExpiredEntryIsNotStored) {
  core::ManualClock clock;
  MemoryTier tier(1 << 20, clock);
  tier.insert(key_of(1), make_entry(clock, "old"));
  tier.insert(key_of(1), make_entry(clock, "stale", 1000, "t", 0));
  EXPECT_EQ(tier.lookup(key_of(1)), nullptr);  // the old value is gone too: it was replaced
  EXPECT_EQ(tier.stats().entries, 0u);
  EXPECT_EQ(tier.stats().expirations, 1u);
}

TEST(MemoryTier, ReplaceSwapsTheValueAndItsBytes) {
  core::ManualClock clock;
  MemoryTier tier(1 << 20, clock);
  auto small = make_entry(clock, "first", 100);
  auto large = make_entry(clock, "second", 5000);
  tier.insert(key_of(1), small);
  tier.insert(key_of(1), large);
  EXPECT_EQ(tier.lookup(key_of(1)), large);
  auto s = tier.stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes, charge_of(large));
  EXPECT_EQ(s.inserts, 2u);
  tier.insert(key_of(1), small);
  EXPECT_EQ(tier.stats().bytes, charge_of(small));
}

TEST(MemoryTier, Erase) {
  core::ManualClock clock;
  MemoryTier tier(1 << 20, clock);
  tier.insert(key_of(1), make_entry(clock, "a"));
  tier.insert(key_of(2), make_entry(clock, "b"));
  EXPECT_TRUE(tier.erase(key_of(1)));
  EXPECT_FALSE(tier.erase(key_of(1)));
  EXPECT_FALSE(tier.erase(key_of(3)));
  EXPECT_EQ(tier.lookup(key_of(1)), nullptr);
  EXPECT_NE(tier.lookup(key_of(2)), nullptr);
  EXPECT_EQ(tier.stats().entries, 1u);
}

TEST(MemoryTier, ClearAllAndClearOneNamespace) {
  core::ManualClock clock;
  MemoryTier tier(8 << 20, clock);  // several shards
  ASSERT_GT(tier.shard_count(), 1u);
  for (std::uint64_t i = 0; i < 300; ++i) {
    tier.insert(key_of(i), make_entry(clock, "x", 500, i % 3 == 0 ? "alpha" : "beta"));
  }
  EXPECT_EQ(tier.stats().entries, 300u);
  EXPECT_EQ(tier.clear("alpha"), 100u);
  EXPECT_EQ(tier.clear("gamma"), 0u);
  for (std::uint64_t i = 0; i < 300; ++i) {
    EXPECT_EQ(tier.lookup(key_of(i)) != nullptr, i % 3 != 0) << i;
  }
  auto s = tier.stats();
  EXPECT_EQ(s.entries, 200u);
  EXPECT_EQ(s.bytes, 200 * charge_of(make_entry(clock, "x", 500, "beta")));
  EXPECT_EQ(tier.clear(), 200u);
  EXPECT_EQ(tier.stats().entries, 0u);
  EXPECT_EQ(tier.stats().bytes, 0u);
}

TEST(MemoryTier, OversizedEntryIsRefused) {
  core::ManualClock clock;
  MemoryTier one(64 << 10, clock, EvictionPolicy::kTinyLfu, 1);
  one.insert(key_of(1), make_entry(clock, "huge", 100 << 10));
  EXPECT_EQ(one.lookup(key_of(1)), nullptr);
  auto s = one.stats();
  EXPECT_EQ(s.rejections, 1u);
  EXPECT_EQ(s.inserts, 0u);
  EXPECT_EQ(s.entries, 0u);

  // With four shards each holds a quarter: an entry under max_bytes but over a quarter is refused.
  MemoryTier four(64 << 10, clock, EvictionPolicy::kLru, 4);
  four.insert(key_of(1), make_entry(clock, "big", 20 << 10));
  EXPECT_EQ(four.lookup(key_of(1)), nullptr);
  EXPECT_EQ(four.stats().rejections, 1u);
  four.insert(key_of(1), make_entry(clock, "fits", 10 << 10));
  EXPECT_NE(four.lookup(key_of(1)), nullptr);
}

TEST(MemoryTier, DefaultShardCount) {
  core::ManualClock clock;
  EXPECT_EQ(MemoryTier(100 << 10, clock).shard_count(), 1u);
  EXPECT_EQ(MemoryTier(3 << 20, clock).shard_count(), 2u);
  EXPECT_EQ(MemoryTier(16 << 20, clock).shard_count(), 16u);
  EXPECT_EQ(MemoryTier(std::size_t{1} << 30, clock).shard_count(), 64u);
  EXPECT_EQ(MemoryTier(1 << 20, clock, EvictionPolicy::kLru, 6).shard_count(), 4u);
}

class ByteBound : public ::testing::TestWithParam<std::tuple<EvictionPolicy, std::size_t>> {};

TEST_P(ByteBound, IsNeverExceeded) {
  const auto [policy, shards] = GetParam();
  core::ManualClock clock;
  constexpr std::size_t kMax = 256 << 10;
  MemoryTier tier(kMax, clock, policy, shards);
  std::mt19937_64 rng(7);
  std::uint64_t stored_bytes = 0;
  for (std::uint64_t i = 0; i < 3000; ++i) {
    // Mostly small answers, some large ones, and repeats so that replacement happens too.
    const std::uint64_t k = rng() % 1500;
    tier.lookup(key_of(k));
    const std::size_t size = rng() % 8 == 0 ? 4000 + rng() % 12000 : 100 + rng() % 2000;
    tier.insert(key_of(k), make_entry(clock, std::to_string(k), size));
    auto s = tier.stats();
    ASSERT_LE(s.bytes, kMax) << "after insert " << i;
    stored_bytes = s.bytes;
  }
  EXPECT_GT(stored_bytes, kMax / 2);  // and it is actually used
}

INSTANTIATE_TEST_SUITE_P(MemoryTier, ByteBound,
                         ::testing::Combine(::testing::Values(EvictionPolicy::kTinyLfu,
                                                              EvictionPolicy::kLru),
                                            ::testing::Values(std::size_t{1}, std::size_t{4})));

// A hot answer used 20 times, then a scan of one-hit answers three times the cache's size, then
// the hot answer is asked for again.
bool hot_entry_survives_scan(EvictionPolicy policy, MemoryTierStats* stats) {
  core::ManualClock clock;
  const std::size_t charge = charge_of(make_entry(clock, "hot"));
  MemoryTier tier(64 * charge, clock, policy, 1);
  const Key hot = key_of(1'000'000);
  tier.lookup(hot);
  tier.insert(hot, make_entry(clock, "hot"));
  for (int i = 0; i < 20; ++i) tier.lookup(hot);
  for (std::uint64_t i = 0; i < 3 * 64; ++i) {
    if (tier.lookup(key_of(i)) == nullptr) tier.insert(key_of(i), make_entry(clock, "scan"));
  }
  const bool survived = tier.lookup(hot) != nullptr;
  *stats = tier.stats();
  return survived;
}

TEST(MemoryTier, TinyLfuKeepsAFrequentEntryThroughAScan) {
  MemoryTierStats s;
  EXPECT_TRUE(hot_entry_survives_scan(EvictionPolicy::kTinyLfu, &s));
  EXPECT_GT(s.rejections, 0u);  // the scan's entries were the ones refused
  // Every stored entry is still there or was counted leaving.
  EXPECT_EQ(s.entries, s.inserts - s.evictions - s.rejections);
}

TEST(MemoryTier, LruLosesAFrequentEntryToAScan) {
  MemoryTierStats s;
  EXPECT_FALSE(hot_entry_survives_scan(EvictionPolicy::kLru, &s));
  EXPECT_EQ(s.rejections, 0u);
  EXPECT_EQ(s.entries, s.inserts - s.evictions);
}

TEST(MemoryTier, TinyLfuAdmitsALargeEntryOnlyIfItBeatsEveryVictim) {
  core::ManualClock clock;
  const std::size_t small = charge_of(make_entry(clock, "s"));
  MemoryTier tier(40 * small, clock, EvictionPolicy::kTinyLfu, 1);
  for (std::uint64_t i = 0; i < 40; ++i) {
    tier.lookup(key_of(i));
    tier.insert(key_of(i), make_entry(clock, "s"));
  }
  // A large answer asked for once is no better than the small ones it would displace.
  const Key cold = key_of(100);
  tier.lookup(cold);
  tier.insert(cold, make_entry(clock, "cold", 8000));
  EXPECT_EQ(tier.lookup(cold), nullptr);
  int small_left = 0;
  for (std::uint64_t i = 0; i < 40; ++i) small_left += tier.lookup(key_of(i)) != nullptr;
  // The small one still in the admission window had to compete too, to make room, and lost.
  EXPECT_EQ(small_left, 39);
  EXPECT_EQ(tier.stats().rejections, 2u);

  // One asked for often wins, and takes the room of several small ones.
  const Key popular = key_of(101);
  for (int i = 0; i < 6; ++i) tier.lookup(popular);
  const auto before = tier.stats();
  tier.insert(popular, make_entry(clock, "popular", 8000));
  EXPECT_NE(tier.lookup(popular), nullptr);
  const auto after = tier.stats();
  EXPECT_GE(after.evictions - before.evictions, 6u);
  EXPECT_LE(after.bytes, after.max_bytes);
}

TEST(MemoryTier, ExpiredEntriesDoNotKeepNewOnesOut) {
  core::ManualClock clock;
  const std::size_t charge = charge_of(make_entry(clock, "x"));
  MemoryTier tier(20 * charge, clock, EvictionPolicy::kTinyLfu, 1);
  for (std::uint64_t i = 0; i < 20; ++i) {
    tier.insert(key_of(i), make_entry(clock, "popular", 1000, "t", 1000));
    for (int n = 0; n < 5; ++n) tier.lookup(key_of(i));
  }
  clock.advance(2s);
  // Asked for once each, the new answers would lose to the popular ones, were those not dead.
  for (std::uint64_t i = 100; i < 110; ++i) {
    tier.lookup(key_of(i));
    tier.insert(key_of(i), make_entry(clock, "new"));
  }
  for (std::uint64_t i = 100; i < 110; ++i) EXPECT_NE(tier.lookup(key_of(i)), nullptr) << i;
  auto s = tier.stats();
  EXPECT_EQ(s.rejections, 0u);
  EXPECT_EQ(s.evictions, 0u);  // the ones pushed out had expired, and are counted so
  EXPECT_GE(s.expirations, 10u);
}

TEST(MemoryTier, StatsCountersAreExact) {
  core::ManualClock clock;
  const std::size_t charge = charge_of(make_entry(clock, "a"));
  MemoryTier tier(4 * charge, clock, EvictionPolicy::kLru, 1);
  tier.insert(key_of(1), make_entry(clock, "a", 1000, "t", 10'000));
  for (std::uint64_t k = 2; k <= 4; ++k) tier.insert(key_of(k), make_entry(clock, "b"));
  EXPECT_NE(tier.lookup(key_of(1)), nullptr);      // hit; 1 becomes most recent
  EXPECT_EQ(tier.lookup(key_of(9)), nullptr);      // miss
  tier.insert(key_of(5), make_entry(clock, "c"));  // full: evicts 2, the least recent
  EXPECT_EQ(tier.lookup(key_of(2)), nullptr);      // miss
  EXPECT_TRUE(tier.erase(key_of(3)));
  tier.insert(key_of(4), make_entry(clock, "d"));                   // replacement
  tier.insert(key_of(6), make_entry(clock, "gone", 1000, "t", 0));  // expired on arrival
  tier.insert(key_of(7), make_entry(clock, "huge", 10 * charge));   // too large
  clock.advance(10s);
  EXPECT_EQ(tier.lookup(key_of(1)), nullptr);  // miss, expired
  auto s = tier.stats();
  EXPECT_EQ(s.entries, 2u);  // 4 and 5
  EXPECT_EQ(s.bytes, 2 * charge);
  EXPECT_EQ(s.max_bytes, 4 * charge);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.misses, 3u);
  EXPECT_EQ(s.inserts, 6u);
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_EQ(s.rejections, 1u);
  EXPECT_EQ(s.expirations, 2u);
}

TEST(MemoryTier, ConcurrentUseKeepsItsInvariants) {
  core::ManualClock clock;
  constexpr std::size_t kMax = 512 << 10;
  constexpr std::uint64_t kKeys = 2000;
  constexpr int kThreads = 4;
  constexpr int kOps = 20'000;
  MemoryTier tier(kMax, clock, EvictionPolicy::kTinyLfu, 4);
  std::atomic<std::uint64_t> lookups{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < kOps; ++i) {
        const std::uint64_t k = rng() % kKeys;
        const auto op = rng() % 100;
        if (op < 60) {
          lookups.fetch_add(1, std::memory_order_relaxed);
          if (auto e = tier.lookup(key_of(k)); e && e->body.rfind(std::to_string(k) + ".", 0)) {
            wrong.fetch_add(1, std::memory_order_relaxed);
          }
        } else if (op < 90) {
          tier.insert(key_of(k), make_entry(clock, std::to_string(k) + ".", 200 + k % 1500,
                                            k % 2 ? "odd" : "even"));
        } else if (op < 99) {
          tier.erase(key_of(k));
        } else if (t == 0) {
          tier.clear("odd");
        } else {
          EXPECT_LE(tier.stats().bytes, kMax);
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  EXPECT_EQ(wrong.load(), 0u);
  const auto s = tier.stats();
  EXPECT_EQ(s.hits + s.misses, lookups.load());
  EXPECT_LE(s.bytes, kMax);
  // What the counters say is held is exactly what lookups find.
  std::uint64_t found = 0, found_bytes = 0;
  for (std::uint64_t k = 0; k < kKeys; ++k) {
    if (auto e = tier.lookup(key_of(k))) {
      ++found;
      found_bytes += charge_of(e);
    }
  }
  EXPECT_EQ(found, s.entries);
  EXPECT_EQ(found_bytes, s.bytes);
  EXPECT_GT(found, 0u);
}

}  // namespace
}  // namespace sluice::cache
