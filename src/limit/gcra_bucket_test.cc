// The lock-free operations on a GcraBucket (limit/gcra.h) against the operations by name, which
// gcra_test.cc pins down: the same decisions for the same sequences, no lost or doubled grants
// when two threads charge one bucket, and a sweep that never removes a bucket someone holds. The
// time is given by hand.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "limit/gcra.h"

namespace sluice::limit {
namespace {

using namespace std::chrono_literals;

const core::Clock::time_point kT0 = core::Clock::time_point{} + 1h;

// Runs `body(round)` on two threads for rounds 0 .. rounds - 1, both starting every round together
// (each spins until the other has arrived too), so their compare-and-swaps really interleave:
// a thread started a few microseconds late would otherwise find the race long over.
template <class Body>
void on_two_threads(int rounds, Body body) {
  std::atomic<int> arrived{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int r = 0; r < rounds; ++r) {
        arrived.fetch_add(1);
        while (arrived.load() < 2 * (r + 1)) {
        }
        body(r);
      }
    });
  }
  for (auto& t : threads) t.join();
}

void expect_same(const Decision& by_name, const Decision& by_bucket, int step) {
  EXPECT_EQ(by_name.allowed, by_bucket.allowed) << "step " << step;
  EXPECT_EQ(by_name.remaining, by_bucket.remaining) << "step " << step;
  EXPECT_EQ(by_name.retry_after, by_bucket.retry_after) << "step " << step;
  EXPECT_EQ(by_name.reset_after, by_bucket.reset_after) << "step " << step;
}

// One limiter driven by names, one by buckets resolved once, through the same random sequence of
// acquires, releases, consumes, peeks and sweeps (time moving forward by random steps, often not
// at all): every decision and every bucket's state agree. The name-driven limiter creates and
// sweeps its entries as it goes; the bucket-driven one keeps all of them, held.
TEST(GcraBucket, DecidesAsTheOperationsByName) {
  GcraLimiter by_name;
  GcraLimiter by_bucket;
  const std::vector<std::string> names = {"a", "b", "c", "d"};
  std::vector<std::shared_ptr<GcraBucket>> buckets;
  for (const std::string& n : names) buckets.push_back(by_bucket.bucket(n));
  // A few rates (a bucket's rate may change between calls, as a key edit does), small enough that
  // buckets fill, refuse, overdraw and refill within the run.
  const Rate rates[] = {{.per_minute = 60},
                        {.per_minute = 60, .burst = 5},
                        {.per_minute = 1000, .burst = 20},
                        {.per_minute = 7},
                        {.per_minute = 0}};
  std::mt19937_64 rng(20240611);
  auto pick = [&](std::uint64_t n) { return rng() % n; };
  core::Clock::time_point now = kT0;
  std::size_t swept = 0;
  int allowed = 0, refused = 0;
  for (int step = 0; step < 5000; ++step) {
    if (pick(3) == 0) now += std::chrono::milliseconds(pick(4000));
    const std::size_t i = pick(names.size());
    const Rate& rate = rates[pick(std::size(rates))];
    // Mostly small costs; sometimes none, sometimes more than any burst here.
    const std::uint64_t cost = pick(10) == 0 ? pick(100) : pick(4);
    switch (pick(9)) {
      case 0:
      case 1:
      case 2:
      case 3: {
        const Decision d = by_name.acquire(names[i], rate, cost, now);
        expect_same(d, GcraLimiter::acquire(*buckets[i], rate, cost, now), step);
        ++(d.allowed ? allowed : refused);
        break;
      }
      case 4:
        by_name.release(names[i], rate, cost, now);
        GcraLimiter::release(*buckets[i], rate, cost, now);
        break;
      case 5:
        by_name.consume(names[i], rate, cost, now);
        GcraLimiter::consume(*buckets[i], rate, cost, now);
        break;
      case 6:
      case 7:
        expect_same(by_name.peek(names[i], rate, cost, now),
                    GcraLimiter::peek(*buckets[i], rate, cost, now), step);
        break;
      case 8:
        swept += by_name.sweep(now);
        EXPECT_EQ(by_bucket.sweep(now), 0u) << "step " << step;  // every bucket is held
        break;
    }
    for (std::size_t k = 0; k < names.size(); ++k) {
      const Rate steady{.per_minute = 60};
      expect_same(by_name.peek(names[k], steady, 0, now),
                  GcraLimiter::peek(*buckets[k], steady, 0, now), step);
      // By name on the bucket-driven limiter: the held bucket itself.
      expect_same(by_bucket.peek(names[k], steady, 0, now),
                  GcraLimiter::peek(*buckets[k], steady, 0, now), step);
    }
    if (::testing::Test::HasFailure()) break;
  }
  // The sequence did exercise refusals as well as grants, and entries coming and going.
  EXPECT_GT(allowed, 100);
  EXPECT_GT(refused, 100);
  EXPECT_GT(swept, 0u);
  EXPECT_EQ(by_bucket.size(), names.size());
}

// Operations by name and on the bucket share one state: bucket() gives the map's own object.
TEST(GcraBucket, NameAndBucketAreOneState) {
  GcraLimiter limiter;
  const Rate rate{.per_minute = 10};
  ASSERT_TRUE(limiter.acquire("k", rate, 4, kT0).allowed);
  std::shared_ptr<GcraBucket> b = limiter.bucket("k");
  EXPECT_EQ(b, limiter.bucket("k"));
  EXPECT_EQ(GcraLimiter::peek(*b, rate, 0, kT0).remaining, 6);
  ASSERT_TRUE(GcraLimiter::acquire(*b, rate, 5, kT0).allowed);
  EXPECT_EQ(limiter.peek("k", rate, 0, kT0).remaining, 1);
  EXPECT_FALSE(limiter.acquire("k", rate, 2, kT0).allowed);
  // A new name's bucket starts full.
  std::shared_ptr<GcraBucket> fresh = limiter.bucket("new");
  EXPECT_EQ(fresh->tat_ns.load(), kGcraFull);
  EXPECT_EQ(GcraLimiter::peek(*fresh, rate, 0, kT0).remaining, 10);
  EXPECT_EQ(limiter.size(), 2u);
}

// Time frozen within a round, so a round's allowance is one burst: two threads hammering one
// bucket get exactly the burst between them, however their compare-and-swaps interleave. Each
// round is a minute after the last, when the bucket is full again.
TEST(GcraBucket, ConcurrentAcquiresGrantExactlyTheBurst) {
  GcraLimiter limiter;
  std::shared_ptr<GcraBucket> bucket = limiter.bucket("shared");
  const Rate rate{.per_minute = 6000, .burst = 100};  // 10 ms a unit: full again within 1 s
  constexpr int kRounds = 500;
  constexpr int kAttempts = 150;  // each thread, each round: together 3 times the burst
  std::atomic<int> total{0};
  on_two_threads(kRounds, [&](int round) {
    const auto now = kT0 + std::chrono::minutes(round);
    int n = 0;
    for (int i = 0; i < kAttempts; ++i) n += GcraLimiter::acquire(*bucket, rate, 1, now).allowed;
    total.fetch_add(n);
  });
  EXPECT_EQ(total.load(), kRounds * 100);
  const auto end = kT0 + std::chrono::minutes(kRounds - 1);
  EXPECT_EQ(GcraLimiter::peek(*bucket, rate, 0, end).remaining, 0);
  EXPECT_EQ(GcraLimiter::peek(*bucket, rate, 0, end).reset_after, 1s);  // 100 x 10 ms
}

// The unconditional updates lose nothing either: two threads consuming one unit at a time leave
// the TAT exactly their sum ahead, and releasing as many brings it back to now, not before.
TEST(GcraBucket, ConcurrentConsumesAndReleasesAddUpExactly) {
  GcraLimiter limiter;
  std::shared_ptr<GcraBucket> bucket = limiter.bucket("shared");
  const Rate rate{.per_minute = 60'000};  // 1 ms a unit
  constexpr int kRounds = 500;
  constexpr int kEach = 100;  // each thread, each round: 100 s in all
  on_two_threads(kRounds, [&](int) {
    for (int i = 0; i < kEach; ++i) GcraLimiter::consume(*bucket, rate, 1, kT0);
  });
  EXPECT_EQ(GcraLimiter::peek(*bucket, rate, 0, kT0).reset_after, 100s);
  on_two_threads(kRounds, [&](int) {
    for (int i = 0; i < kEach; ++i) GcraLimiter::release(*bucket, rate, 1, kT0);
  });
  const Decision full = GcraLimiter::peek(*bucket, rate, 0, kT0);
  EXPECT_EQ(full.reset_after, 0ms);
  EXPECT_EQ(full.remaining, 60'000);
  EXPECT_EQ(bucket->tat_ns.load(),
            std::chrono::duration_cast<std::chrono::nanoseconds>(kT0.time_since_epoch()).count());
}

// A held bucket is never swept, however idle: its holder may charge it any time, and a second
// bucket for the name would split its state. Once let go, it goes with the other idle ones.
TEST(GcraBucket, SweepKeepsHeldBucketsAndRemovesIdleOnes) {
  GcraLimiter limiter;
  const Rate rate{.per_minute = 60};
  std::shared_ptr<GcraBucket> held = limiter.bucket("held");
  ASSERT_TRUE(GcraLimiter::acquire(*held, rate, 30, kT0).allowed);  // full again at kT0 + 30 s
  ASSERT_TRUE(limiter.acquire("idle", rate, 1, kT0).allowed);       // full again at kT0 + 1 s
  std::shared_ptr<GcraBucket> never_charged = limiter.bucket("never");
  EXPECT_EQ(limiter.size(), 3u);

  EXPECT_EQ(limiter.sweep(kT0 + 1h), 1u);  // "idle"
  EXPECT_EQ(limiter.size(), 2u);
  EXPECT_EQ(limiter.bucket("held"), held);
  EXPECT_EQ(limiter.bucket("never"), never_charged);
  // The name still reaches the held bucket.
  ASSERT_TRUE(limiter.acquire("held", rate, 60, kT0 + 1h).allowed);
  EXPECT_EQ(GcraLimiter::peek(*held, rate, 0, kT0 + 1h).remaining, 0);

  // Let go while its TAT is still ahead: kept until it is full again, then swept.
  held.reset();
  never_charged.reset();
  EXPECT_EQ(limiter.sweep(kT0 + 1h + 59s), 1u);  // "never"
  EXPECT_EQ(limiter.peek("held", rate, 0, kT0 + 1h + 59s).remaining, 59);
  EXPECT_EQ(limiter.sweep(kT0 + 1h + 60s), 1u);
  EXPECT_EQ(limiter.size(), 0u);
  // A name swept starts from a full bucket, as it would have anyway.
  EXPECT_EQ(GcraLimiter::peek(*limiter.bucket("held"), rate, 0, kT0 + 2h).remaining, 60);
}

// Sweeping, long after anything was charged, while another thread charges a held bucket by
// pointer and by name: the held bucket stays (had it gone, the name would get a new, full one and
// grant more than the one burst), the idle unheld ones go.
TEST(GcraBucket, SweepRacingHoldersLosesNothing) {
  GcraLimiter limiter;
  const Rate rate{.per_minute = 6000, .burst = 1000};
  std::shared_ptr<GcraBucket> held = limiter.bucket("held");
  std::atomic<bool> done{false};
  int granted = 0;
  std::thread charger([&] {
    for (int i = 0; i < 5000; ++i) {
      granted += GcraLimiter::acquire(*held, rate, 1, kT0).allowed;
      granted += limiter.acquire("held", rate, 1, kT0).allowed;
    }
    done.store(true);
  });
  std::size_t swept = 0;
  int rounds = 0;
  while (!done.load() || rounds < 10) {
    limiter.acquire("idle" + std::to_string(rounds % 8), rate, 1, kT0 - 1s);
    swept += limiter.sweep(kT0 + 1h);
    ++rounds;
  }
  charger.join();
  EXPECT_EQ(granted, 1000);
  EXPECT_GT(swept, 0u);
  EXPECT_EQ(limiter.bucket("held"), held);
  EXPECT_EQ(limiter.peek("held", rate, 0, kT0).remaining, 0);
}

}  // namespace
}  // namespace sluice::limit
