// RedisGcra against a real redis-server (tests/support/redis_server.h), driven by an io_context
// on the test thread as a worker's would be: bursts, all-or-nothing, release and consume, two
// workers sharing buckets, expiry, a flushed script cache, Redis down or frozen, and a long random
// sequence replayed against the local limiter that must give the same decisions to the
// nanosecond. Tests that need exact numbers freeze time with Options::clock; the others use
// Redis's TIME and tolerate a slow machine.
#include "limit/redis_gcra.h"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <limits>
#include <optional>
#include <random>
#include <thread>

#include "limit/limiter.h"
#include "limit/redis_gcra_script.h"
#include "support/await.h"
#include "support/redis_server.h"

namespace sluice::limit {
namespace {

using namespace std::chrono_literals;
using testing::RedisServer;
using SteadyTime = std::chrono::steady_clock;
using Decisions = std::optional<std::vector<Decision>>;

// 2026-01-01T00:00:00Z, so TATs are written with as many digits as real ones.
const core::Clock::time_point kEpochish = core::Clock::time_point{} + 1767225600s;

// A timeout that a busy shared host does not reach; tests of the timeout set their own.
RedisGcra::Options options(const core::Clock* clock = nullptr,
                           std::chrono::milliseconds timeout = 500ms) {
  RedisGcra::Options o;
  o.clock = clock;
  o.timeout = timeout;
  return o;
}

// One worker: an io_context, its connection and a RedisGcra on it.
struct Worker {
  explicit Worker(const RedisServer& redis, RedisGcra::Options options = limit::options()) {
    net::RedisConnection::Options tuning;
    tuning.endpoint = *net::RedisEndpoint::parse(redis.url());
    connection = std::make_shared<net::RedisConnection>(
        io.get_executor(), tuning,
        std::make_shared<net::RedisHealth>("test", tuning.endpoint.describe(), "down"));
    options.dropped_updates = &dropped;
    gcra = std::make_unique<RedisGcra>(connection, std::move(options));
    connection->start();
  }
  ~Worker() { connection->close(); }

  template <class F>
  bool run_until(F done, std::chrono::milliseconds limit = 5s) {
    return sluice::testing::run_until(io, done, limit);
  }
  bool connect() {
    return run_until([&] { return connection->ready(); });
  }

  Decisions acquire(std::span<const Charge> charges) {
    std::optional<Decisions> result;
    asio::co_spawn(io, gcra->acquire(charges), [&](std::exception_ptr e, Decisions d) {
      if (e) std::rethrow_exception(e);
      result = std::move(d);
    });
    EXPECT_TRUE(run_until([&] { return result.has_value(); }, 10s));
    return result ? *result : std::nullopt;
  }
  Decision acquire(const Charge& charge) {
    Decisions d = acquire(std::span(&charge, 1));
    EXPECT_TRUE(d.has_value()) << gcra->last_failure();
    return d ? d->at(0) : Decision{};
  }
  // Fire and forget, then wait until Redis has run it (a PING behind it on the same connection).
  void settle() {
    bool done = false;
    asio::co_spawn(
        io,
        [this]() -> asio::awaitable<void> {
          const std::string_view ping[] = {"PING"};
          co_await connection->call(ping, 5s);
        },
        [&](std::exception_ptr) { done = true; });
    EXPECT_TRUE(run_until([&] { return done; }, 10s));
  }

  asio::io_context io{1};
  std::atomic<std::uint64_t> dropped{0};
  std::shared_ptr<net::RedisConnection> connection;
  std::unique_ptr<RedisGcra> gcra;
};

void expect_same(const Decision& a, const Decision& b, const std::string& where) {
  EXPECT_EQ(a.allowed, b.allowed) << where;
  EXPECT_EQ(a.remaining, b.remaining) << where;
  EXPECT_EQ(a.retry_after, b.retry_after) << where;
  EXPECT_EQ(a.reset_after, b.reset_after) << where;
}

TEST(RedisGcra, BurstOf60At60RpmAllowsExactly60ThenRetryAfterAboutASecond) {
  RedisServer redis;
  Worker w(redis);  // Redis's own clock
  ASSERT_TRUE(w.connect());
  const Charge c{"burst", Rate{.per_minute = 60}, 1};
  const auto t0 = SteadyTime::now();
  for (int i = 0; i < 60; ++i) {
    const Decision d = w.acquire(c);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, 59 - i);
  }
  const Decision refused = w.acquire(c);
  const auto elapsed = SteadyTime::now() - t0;
  // One unit comes back per second; a host too slow to send 61 commands within most of a second
  // cannot tell.
  if (elapsed > 900ms) GTEST_SKIP() << "61 acquisitions took " << elapsed.count() << " ns";
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_LE(refused.retry_after, 1000ms);
  EXPECT_GE(refused.retry_after, 1000ms - std::chrono::ceil<std::chrono::milliseconds>(elapsed));
  EXPECT_GT(refused.reset_after, 59s);
}

TEST(RedisGcra, AllOrNothingTakesNothingWhenOneChargeIsOver) {
  RedisServer redis;
  core::ManualClock clock(kEpochish);
  Worker w(redis, options(&clock));
  ASSERT_TRUE(w.connect());
  const Charge wide{"wide", Rate{.per_minute = 10}, 1};
  const Charge narrow{"narrow", Rate{.per_minute = 2}, 1};
  ASSERT_TRUE(w.acquire(wide).allowed);  // 9 left
  ASSERT_TRUE(w.acquire(narrow).allowed);
  ASSERT_TRUE(w.acquire(narrow).allowed);  // none left
  const auto stored = redis.command({"GET", "sluice:rl:wide"}).str;

  const Charge both[] = {wide, narrow};
  const Decisions d = w.acquire(both);
  ASSERT_TRUE(d);
  ASSERT_EQ(d->size(), 2u);
  // The wide bucket would have let it through, and says so with its bucket as it stands.
  EXPECT_TRUE((*d)[0].allowed);
  EXPECT_EQ((*d)[0].remaining, 9);
  EXPECT_EQ((*d)[0].reset_after, 6s);
  EXPECT_FALSE((*d)[1].allowed);
  EXPECT_EQ((*d)[1].retry_after, 30s);
  // Nothing was taken from the wide bucket.
  EXPECT_EQ(redis.command({"GET", "sluice:rl:wide"}).str, stored);
  EXPECT_EQ(w.acquire(wide).remaining, 8);
  // Both allowed: both taken.
  clock.advance(30s);
  const Decisions ok = w.acquire(both);
  ASSERT_TRUE(ok);
  EXPECT_TRUE((*ok)[0].allowed && (*ok)[1].allowed);
  EXPECT_EQ((*ok)[0].remaining, 9);  // the 12 s it owed were paid off meanwhile
  EXPECT_EQ((*ok)[1].remaining, 0);
}

TEST(RedisGcra, ReleaseGivesBackAndConsumeTakes) {
  RedisServer redis;
  core::ManualClock clock(kEpochish);
  Worker w(redis, options(&clock));
  ASSERT_TRUE(w.connect());
  const Rate tpm{.per_minute = 60'000};  // a token per millisecond
  const Charge reserve{"tpm", tpm, 1000};
  const Charge peek{"tpm", tpm, 0};
  ASSERT_EQ(w.acquire(reserve).remaining, 59'000);
  // Used 300 of the 1,000.
  const Charge unused{"tpm", tpm, 700};
  w.gcra->release(std::span(&unused, 1));
  w.settle();
  EXPECT_EQ(w.acquire(peek).remaining, 59'700);
  // Used 21,000 more than reserved: past the burst, refused for the time it takes to pay off.
  ASSERT_TRUE(w.acquire(Charge{"tpm", tpm, 50'000}).allowed);  // 9,700 left
  const Charge over{"tpm", tpm, 20'000};
  w.gcra->consume(std::span(&over, 1));
  w.settle();
  const Decision refused = w.acquire(Charge{"tpm", tpm, 1000});
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.remaining, 0);
  EXPECT_EQ(refused.reset_after, 70'300ms);
  EXPECT_EQ(refused.retry_after, 11'300ms);
  // Given back to full, the key is deleted.
  const Charge all{"tpm", tpm, 1'000'000};
  w.gcra->release(std::span(&all, 1));
  w.settle();
  EXPECT_EQ(redis.command({"EXISTS", "sluice:rl:tpm"}).integer, 0);
  EXPECT_EQ(w.dropped.load(), 0u);
}

TEST(RedisGcra, TwoWorkersOnTwoThreadsEnforceOneCombinedLimit) {
  RedisServer redis;
  core::ManualClock clock(kEpochish);  // frozen: the allowance is exactly one burst
  std::atomic<int> allowed{0};
  std::atomic<int> answered{0};
  auto run = [&] {
    Worker w(redis, options(&clock));
    ASSERT_TRUE(w.connect());
    const Charge key{"shared", Rate{.per_minute = 100}, 1};
    const Charge global{"global", Rate{.per_minute = 1000}, 1};
    const Charge both[] = {key, global};
    for (int i = 0; i < 200; ++i) {
      const Decisions d = w.acquire(both);
      if (!d) continue;
      answered.fetch_add(1);
      allowed.fetch_add((*d)[0].allowed && (*d)[1].allowed);
    }
  };
  std::thread a(run), b(run);
  a.join();
  b.join();
  EXPECT_EQ(answered.load(), 400);
  EXPECT_EQ(allowed.load(), 100);
  // The global bucket was charged for the allowed ones only: 900 of its 1,000 left.
  Worker w(redis, options(&clock));
  ASSERT_TRUE(w.connect());
  EXPECT_EQ(w.acquire(Charge{"global", Rate{.per_minute = 1000}, 0}).remaining, 900);
}

TEST(RedisGcra, KeysExpireWhenTheirBucketIsFullAgain) {
  RedisServer redis;
  Worker w(redis);
  ASSERT_TRUE(w.connect());
  ASSERT_TRUE(w.acquire(Charge{"fast", Rate{.per_minute = 6000}, 1}).allowed);  // 10 ms
  ASSERT_TRUE(w.acquire(Charge{"slow", Rate{.per_minute = 1}, 1}).allowed);     // a minute
  const auto value = redis.command({"GET", "sluice:rl:slow"});
  ASSERT_EQ(value.type, '$');
  EXPECT_EQ(value.str.size(), 19u);  // nanoseconds since the epoch
  const long long pttl = redis.command({"PTTL", "sluice:rl:slow"}).integer;
  EXPECT_GT(pttl, 50'000);
  EXPECT_LE(pttl, 60'000);
  const auto deadline = SteadyTime::now() + 5s;
  while (redis.command({"EXISTS", "sluice:rl:fast"}).integer != 0 && SteadyTime::now() < deadline)
    std::this_thread::sleep_for(5ms);
  EXPECT_EQ(redis.command({"EXISTS", "sluice:rl:fast"}).integer, 0);
  EXPECT_EQ(redis.command({"EXISTS", "sluice:rl:slow"}).integer, 1);
}

TEST(RedisGcra, AFlushedScriptCacheIsReloadedByTheNextAcquire) {
  RedisServer redis;
  core::ManualClock clock(kEpochish);
  Worker w(redis, options(&clock));
  ASSERT_TRUE(w.connect());
  const Charge c{"k", Rate{.per_minute = 60}, 1};
  // Not loaded yet: the first call is EVALSHA, NOSCRIPT, then EVAL.
  EXPECT_EQ(w.acquire(c).remaining, 59);
  EXPECT_EQ(redis.command({"SCRIPT", "EXISTS", std::string(redis_gcra_script_sha1())})
                .elements.at(0)
                .integer,
            1);
  ASSERT_TRUE(redis.command({"SCRIPT", "FLUSH"}).ok());
  // A release sent as EVALSHA meanwhile is lost, and counted.
  w.gcra->release(std::span(&c, 1));
  w.settle();
  EXPECT_EQ(w.dropped.load(), 1u);
  EXPECT_EQ(w.acquire(c).remaining, 58);
  w.gcra->release(std::span(&c, 1));
  w.settle();
  EXPECT_EQ(w.dropped.load(), 1u);
  EXPECT_EQ(w.acquire(Charge{"k", c.rate, 0}).remaining, 59);
}

TEST(RedisGcra, NoAnswerIsNulloptAndUnlimitedChargesNeedNoRedis) {
  RedisServer redis;
  Worker w(redis, options(nullptr, 100ms));
  ASSERT_TRUE(w.connect());
  const Charge limited{"k", Rate{.per_minute = 60}, 1};
  const Charge unlimited{"free", Rate{}, 1'000'000};

  redis.freeze();
  auto t0 = SteadyTime::now();
  EXPECT_FALSE(w.acquire(std::span(&limited, 1)));
  EXPECT_GE(SteadyTime::now() - t0, 90ms);
  EXPECT_EQ(w.gcra->last_failure(), "timed out");
  redis.thaw();

  redis.kill();
  ASSERT_TRUE(w.run_until([&] { return !w.connection->ready(); }));
  t0 = SteadyTime::now();
  EXPECT_FALSE(w.acquire(std::span(&limited, 1)));
  EXPECT_LT(SteadyTime::now() - t0, 50ms);
  EXPECT_EQ(w.gcra->last_failure(), "not connected");
  // Unlimited charges are not sent, so they are decided with Redis down.
  const Decisions free = w.acquire(std::span(&unlimited, 1));
  ASSERT_TRUE(free);
  EXPECT_TRUE((*free)[0].allowed);
  EXPECT_EQ((*free)[0].remaining, std::numeric_limits<std::int64_t>::max());
  // A release that cannot be sent is counted.
  w.gcra->release(std::span(&limited, 1));
  EXPECT_EQ(w.dropped.load(), 1u);
}

// The same random sequence of acquires (one to three charges, some on the same key, some costs
// beyond the burst), releases and consumes, at the same instants, against the local limiter
// through the Limiter's all-or-nothing and against Redis: every decision must be identical.
TEST(RedisGcra, AgreesWithTheLocalLimiterOnARandomSequence) {
  RedisServer redis;
  core::ManualClock clock(kEpochish);
  Worker w(redis, options(&clock));
  ASSERT_TRUE(w.connect());
  SharedLimits shared(clock);
  Limiter local(shared, config::RateLimits{}, w.io.get_executor());

  struct Bucket {
    std::string key;
    Rate rate;
    std::uint64_t typical_cost;
  };
  const Bucket buckets[] = {
      {"rpm60", {.per_minute = 60}, 1},
      {"rpm7", {.per_minute = 7}, 1},  // an interval that is not a whole number of microseconds
      {"rpm600b10", {.per_minute = 600, .burst = 10}, 1},
      {"tpm100k", {.per_minute = 100'000}, 8000},
      {"tpm7777b3000", {.per_minute = 7777, .burst = 3000}, 400},
  };
  std::mt19937_64 rng(20260101);
  auto pick = [&](std::uint64_t n) { return static_cast<std::size_t>(rng() % n); };
  int allowed = 0, refused = 0;
  for (int step = 0; step < 1500; ++step) {
    clock.advance(std::chrono::microseconds(rng() % 2'000'000));
    const std::size_t op = pick(6);
    std::vector<Charge> charges;
    const std::size_t n = 1 + pick(3);
    for (std::size_t i = 0; i < n; ++i) {
      const Bucket& b = buckets[pick(std::size(buckets))];
      std::uint64_t cost = b.typical_cost == 1 ? pick(3) : pick(2 * b.typical_cost);
      // Beyond any burst: never allowed (not for a consume, which would block the bucket for
      // the rest of the run).
      if (op > 1 && pick(50) == 0) cost = 1'000'000;
      charges.push_back(Charge{b.key, b.rate, cost});
    }
    const std::string where = "step " + std::to_string(step);
    switch (op) {
      case 0:
        local.release(charges);
        w.gcra->release(charges);
        w.settle();
        break;
      case 1:
        local.consume(charges);
        w.gcra->consume(charges);
        w.settle();
        break;
      default: {
        const Verdict expected = local.acquire_local(charges);
        const Decisions got = w.acquire(charges);
        ASSERT_TRUE(got) << where << ": " << w.gcra->last_failure();
        ASSERT_EQ(got->size(), charges.size());
        for (std::size_t i = 0; i < charges.size(); ++i) {
          expect_same((*got)[i], expected.decisions[i], where + " charge " + std::to_string(i));
        }
        (expected.outcome == Verdict::Outcome::kAllowed ? allowed : refused) += 1;
      }
    }
    if (HasFailure()) break;
  }
  // The sequence exercised both outcomes.
  EXPECT_GT(allowed, 200);
  EXPECT_GT(refused, 100);
  EXPECT_EQ(w.dropped.load(), 0u);
}

}  // namespace
}  // namespace sluice::limit
