// The Limiter facade: local decisions all or nothing and their conventions (unlimited charges,
// what a refused verdict reports), reconciliation, the sweep, the rate-limited log lines; and
// with a real redis-server (tests/support/redis_server.h): decisions made in Redis, Redis killed
// (local limits when fail-open, unavailable when fail-closed) and restarted (back to Redis).
// The local limiter runs on a ManualClock; Redis uses its own clock, with timeouts generous
// enough for a busy host.
#include "limit/limiter.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <optional>
#include <thread>

#include "support/await.h"
#include "support/redis_server.h"

namespace sluice::limit {
namespace {

using namespace std::chrono_literals;
using testing::RedisServer;
using SteadyTime = std::chrono::steady_clock;
using Outcome = Verdict::Outcome;

const core::Clock::time_point kT0 = core::Clock::time_point{} + 1h;

Charge key_rpm(std::uint64_t rpm) { return Charge{"key:rpm:k1", Rate{.per_minute = rpm}, 1}; }
Charge model_rpm(std::uint64_t rpm) { return Charge{"model:rpm:m", Rate{.per_minute = rpm}, 1}; }
Charge global_unlimited() { return Charge{"global:rpm", Rate{}, 1}; }

class LocalLimiterTest : public ::testing::Test {
 protected:
  Verdict acquire(std::span<const Charge> charges) {
    std::optional<Verdict> result;
    asio::co_spawn(io_, limiter_.acquire(charges), [&](std::exception_ptr e, Verdict v) {
      if (e) std::rethrow_exception(e);
      result = std::move(v);
    });
    io_.run();
    io_.restart();
    EXPECT_TRUE(result.has_value());
    return result ? std::move(*result) : Verdict{};
  }

  core::ManualClock clock_{kT0};
  SharedLimits shared_{clock_};
  asio::io_context io_{1};
  Limiter limiter_{shared_, config::RateLimits{}, io_.get_executor()};
};

TEST_F(LocalLimiterTest, AllOrNothingAcrossTheCharges) {
  EXPECT_FALSE(limiter_.distributed());
  const Charge charges[] = {key_rpm(3), model_rpm(100), global_unlimited()};
  for (int i = 0; i < 3; ++i) {
    const Verdict v = acquire(charges);
    ASSERT_EQ(v.outcome, Outcome::kAllowed) << i;
    ASSERT_EQ(v.decisions.size(), 3u);
    EXPECT_EQ(v.decisions[0].remaining, 2 - i);
    EXPECT_EQ(v.decisions[1].remaining, 99 - i);
    EXPECT_TRUE(v.decisions[2].allowed);
    EXPECT_EQ(v.decisions[2].remaining, kNoLimit);
    EXPECT_FALSE(v.fell_back);
  }
  // The key is out: nothing is taken from the model either, whose decision shows its bucket as
  // it stands.
  const Verdict refused = acquire(charges);
  EXPECT_EQ(refused.outcome, Outcome::kRefused);
  EXPECT_FALSE(refused.decisions[0].allowed);
  EXPECT_EQ(refused.decisions[0].retry_after, 20s);
  EXPECT_TRUE(refused.decisions[1].allowed);
  EXPECT_EQ(refused.decisions[1].remaining, 97);
  EXPECT_EQ(refused.decisions[1].retry_after, 0ms);
  EXPECT_EQ(refused.decisions[1].reset_after, 1800ms);
  EXPECT_EQ(refused.decisions[2].remaining, kNoLimit);
  const Charge model_only[] = {model_rpm(100)};
  EXPECT_EQ(acquire(model_only).decisions[0].remaining, 96);
}

TEST_F(LocalLimiterTest, EveryChargeRefusedByItselfReportsItsRetryAfter) {
  const Charge first[] = {key_rpm(2), model_rpm(1)};
  ASSERT_EQ(acquire(first).outcome, Outcome::kAllowed);
  const Charge key_only[] = {key_rpm(2)};
  ASSERT_EQ(acquire(key_only).outcome, Outcome::kAllowed);
  // A charge after the one that refused is still looked at: the caller's Retry-After is the
  // largest of them.
  const Charge global_first[] = {Charge{"g", Rate{.per_minute = 10}, 1}, key_rpm(2), model_rpm(1)};
  const Verdict v = limiter_.acquire_local(global_first);
  EXPECT_EQ(v.outcome, Outcome::kRefused);
  EXPECT_TRUE(v.decisions[0].allowed);
  EXPECT_EQ(v.decisions[0].remaining, 10);  // given back
  EXPECT_EQ(v.decisions[0].reset_after, 0ms);
  EXPECT_FALSE(v.decisions[1].allowed);
  EXPECT_EQ(v.decisions[1].retry_after, 30s);
  EXPECT_FALSE(v.decisions[2].allowed);
  EXPECT_EQ(v.decisions[2].retry_after, 60s);
  EXPECT_EQ(shared_.local().peek("g", Rate{.per_minute = 10}, 0, clock_.now()).remaining, 10);
}

TEST_F(LocalLimiterTest, ReservationsAreReconciled) {
  const Rate tpm{.per_minute = 60'000};
  const Charge reserve[] = {Charge{"key:tpm:k1", tpm, 1000}};
  ASSERT_EQ(acquire(reserve).decisions[0].remaining, 59'000);
  const Charge unused[] = {Charge{"key:tpm:k1", tpm, 700}};
  limiter_.release(unused);
  const Charge all[] = {Charge{"key:tpm:k1", tpm, 59'700}};
  EXPECT_EQ(acquire(all).outcome, Outcome::kAllowed);
  const Charge over[] = {Charge{"key:tpm:k1", tpm, 5000}};
  limiter_.consume(over);
  const Verdict v = acquire(reserve);
  EXPECT_EQ(v.outcome, Outcome::kRefused);
  EXPECT_EQ(v.decisions[0].retry_after, 6s);
}

// Charges whose caller resolved their buckets (as the admit stage does) decide the same, all or
// nothing, on the very state the names reach.
TEST_F(LocalLimiterTest, ChargesOnResolvedBucketsDecideOnTheNamedState) {
  std::shared_ptr<GcraBucket> key = shared_.local().bucket("key:rpm:k1");
  std::shared_ptr<GcraBucket> model = shared_.local().bucket("model:rpm:m");
  Charge charges[] = {key_rpm(3), model_rpm(100), global_unlimited()};
  charges[0].bucket = key.get();
  charges[1].bucket = model.get();
  for (int i = 0; i < 3; ++i) {
    const Verdict v = limiter_.acquire_local(charges);
    ASSERT_EQ(v.outcome, Outcome::kAllowed) << i;
    EXPECT_EQ(v.decisions[0].remaining, 2 - i);
    EXPECT_EQ(v.decisions[1].remaining, 99 - i);
    EXPECT_EQ(v.decisions[2].remaining, kNoLimit);
  }
  const Verdict refused = limiter_.acquire_local(charges);
  EXPECT_EQ(refused.outcome, Outcome::kRefused);
  EXPECT_EQ(refused.decisions[0].retry_after, 20s);
  EXPECT_EQ(refused.decisions[1].remaining, 97);  // given back
  EXPECT_EQ(refused.decisions[1].reset_after, 1800ms);
  // The same buckets by name: a charge without a bucket sees what the ones with it took.
  const Charge model_by_name[] = {model_rpm(100)};
  EXPECT_EQ(limiter_.acquire_local(model_by_name).decisions[0].remaining, 96);
  EXPECT_EQ(GcraLimiter::peek(*model, Rate{.per_minute = 100}, 0, clock_.now()).remaining, 96);

  // Reconciliation goes to the bucket too.
  const Rate tpm{.per_minute = 60'000};
  std::shared_ptr<GcraBucket> tokens = shared_.local().bucket("key:tpm:k1");
  Charge reserve[] = {Charge{"key:tpm:k1", tpm, 1000, tokens.get()}};
  ASSERT_EQ(limiter_.acquire_local(reserve).decisions[0].remaining, 59'000);
  reserve[0].cost = 700;
  limiter_.release(reserve);
  EXPECT_EQ(shared_.local().peek("key:tpm:k1", tpm, 0, clock_.now()).remaining, 59'700);
  reserve[0].cost = 5000;
  limiter_.consume(reserve);
  EXPECT_EQ(GcraLimiter::peek(*tokens, tpm, 0, clock_.now()).remaining, 54'700);
}

TEST_F(LocalLimiterTest, IdleBucketsAreSweptBySomeLaterDecision) {
  for (int i = 0; i < 10; ++i) {
    const std::string key = "k" + std::to_string(i);
    const Charge c[] = {Charge{key, Rate{.per_minute = 60}, 1}};
    ASSERT_EQ(limiter_.acquire_local(c).outcome, Outcome::kAllowed);
  }
  EXPECT_EQ(shared_.local().size(), 10u);
  clock_.advance(SharedLimits::kSweepEvery);  // each was full again after a second
  const Charge unlimited[] = {global_unlimited()};
  std::uint32_t decisions = 10;
  while (shared_.local().size() != 0 && decisions < 3 * Limiter::kSweepCheckEvery) {
    limiter_.acquire_local(unlimited);
    ++decisions;
  }
  EXPECT_EQ(shared_.local().size(), 0u);
  EXPECT_EQ(decisions, Limiter::kSweepCheckEvery);
}

TEST(SharedLimitsTest, FallbackAndRecoveryAreLoggedAtMostEveryTenSeconds) {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  core::ManualClock clock(kT0);
  SharedLimits shared(clock);
  for (int i = 0; i < 5; ++i) shared.on_redis_failure(true, "timed out");
  shared.on_redis_answer();
  shared.on_redis_answer();
  shared.on_redis_failure(false, "not connected");  // within 10 s of the first: not logged
  shared.on_redis_answer();                         // nor is this recovery
  clock.advance(10s);
  shared.on_redis_failure(false, "not connected");
  shared.on_redis_answer();
  const auto lines = sink->last_formatted();
  spdlog::set_default_logger(previous);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_NE(lines[0].find("Redis did not answer (timed out); deciding with this instance's local"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("(1 decision without Redis so far)"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("Redis answers again"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("refusing with 503"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("(7 decisions without Redis so far)"), std::string::npos) << lines[2];
  EXPECT_NE(lines[3].find("Redis answers again"), std::string::npos) << lines[3];
  EXPECT_EQ(shared.redis_failures(), 7u);
  EXPECT_EQ(shared.fallback_decisions(), 5u);
}

// ---- With Redis ----

class RedisLimiterTest : public ::testing::Test {
 protected:
  void make(bool fail_open, const std::string& url) {
    config::RateLimits c;
    c.backend = config::RateLimits::Backend::kRedis;
    c.redis.url = url;
    c.redis.timeout = 500ms;  // a busy host must not make a decision fall back
    c.fail_open = fail_open;
    net::RedisConnection::Options tuning;
    tuning.backoff_max = 200ms;  // reconnect soon after a restart
    limiter_.emplace(shared_, c, io_.get_executor(), tuning);
    limiter_->start();
  }
  void connect(bool fail_open = true) {
    make(fail_open, redis_.url());
    ASSERT_TRUE(run_until([&] { return limiter_->redis_ready(); }));
  }
  void TearDown() override {
    if (limiter_) limiter_->close();
  }

  template <class F>
  bool run_until(F done, std::chrono::milliseconds limit = 10s) {
    return sluice::testing::run_until(io_, done, limit);
  }
  Verdict acquire(std::span<const Charge> charges) {
    std::optional<Verdict> result;
    asio::co_spawn(io_, limiter_->acquire(charges), [&](std::exception_ptr e, Verdict v) {
      if (e) std::rethrow_exception(e);
      result = std::move(v);
    });
    EXPECT_TRUE(run_until([&] { return result.has_value(); }));
    return result ? std::move(*result) : Verdict{};
  }
  // Lets fire-and-forget commands reach Redis.
  void settle() {
    const auto until = SteadyTime::now() + 50ms;
    run_until([&] { return SteadyTime::now() >= until; });
  }

  RedisServer redis_;
  core::ManualClock clock_{kT0};  // the local limiter's; Redis keeps its own
  SharedLimits shared_{clock_};
  asio::io_context io_{1};
  std::optional<Limiter> limiter_;
};

TEST_F(RedisLimiterTest, DecidesInRedis) {
  connect();
  EXPECT_TRUE(limiter_->distributed());
  const Charge charges[] = {key_rpm(3), global_unlimited()};
  for (int i = 0; i < 3; ++i) {
    const Verdict v = acquire(charges);
    ASSERT_EQ(v.outcome, Outcome::kAllowed) << i;
    EXPECT_FALSE(v.fell_back);
    EXPECT_EQ(v.decisions[0].remaining, 2 - i);
    EXPECT_EQ(v.decisions[1].remaining, kNoLimit);
  }
  const Verdict refused = acquire(charges);
  EXPECT_EQ(refused.outcome, Outcome::kRefused);
  EXPECT_GT(refused.decisions[0].retry_after, 19s);
  EXPECT_EQ(redis_.command({"EXISTS", "sluice:rl:key:rpm:k1"}).integer, 1);
  EXPECT_EQ(redis_.command({"EXISTS", "sluice:rl:global:rpm"}).integer, 0);  // never sent
  EXPECT_EQ(shared_.local().size(), 0u);
  // Reconciliation goes to Redis too.
  const Charge one[] = {key_rpm(3)};
  limiter_->release(one);
  settle();
  EXPECT_EQ(acquire(one).outcome, Outcome::kAllowed);
  limiter_->consume(one);
  settle();
  EXPECT_EQ(acquire(one).outcome, Outcome::kRefused);
  EXPECT_EQ(shared_.local().size(), 0u);
  EXPECT_EQ(shared_.redis_failures(), 0u);
  EXPECT_EQ(shared_.dropped_updates(), 0u);
}

TEST_F(RedisLimiterTest, KilledRedisFallsBackToLocalLimitsThenComesBack) {
  connect();
  const Charge charges[] = {key_rpm(3), model_rpm(100)};
  ASSERT_FALSE(acquire(charges).fell_back);
  ASSERT_FALSE(acquire(charges).fell_back);

  redis_.kill();
  ASSERT_TRUE(run_until([&] { return !limiter_->redis_ready(); }));
  // This instance's own limits: a full bucket of 3, then refused.
  for (int i = 0; i < 3; ++i) {
    const Verdict v = acquire(charges);
    EXPECT_EQ(v.outcome, Outcome::kAllowed) << i;
    EXPECT_TRUE(v.fell_back);
    EXPECT_EQ(v.decisions[0].remaining, 2 - i);
  }
  const Verdict refused = acquire(charges);
  EXPECT_EQ(refused.outcome, Outcome::kRefused);
  EXPECT_TRUE(refused.fell_back);
  EXPECT_EQ(refused.decisions[0].retry_after, 20s);
  EXPECT_EQ(shared_.redis_failures(), 4u);
  EXPECT_EQ(shared_.fallback_decisions(), 4u);
  // Reconciliation while Redis is down stays local.
  const Charge key_only[] = {key_rpm(3)};
  limiter_->release(key_only);
  EXPECT_EQ(shared_.local().peek("key:rpm:k1", key_rpm(3).rate, 0, clock_.now()).remaining, 1);

  redis_.start();  // empty: no persistence, and no scripts loaded
  ASSERT_TRUE(run_until([&] { return limiter_->redis_ready(); }));
  const Verdict back = acquire(charges);
  EXPECT_FALSE(back.fell_back);
  EXPECT_EQ(back.outcome, Outcome::kAllowed);
  EXPECT_EQ(back.decisions[0].remaining, 2);
  EXPECT_EQ(redis_.command({"EXISTS", "sluice:rl:key:rpm:k1"}).integer, 1);
  EXPECT_EQ(shared_.redis_failures(), 4u);
}

TEST_F(RedisLimiterTest, DecisionsInFlightWhenRedisDiesFallBack) {
  connect();
  const Charge charges[] = {key_rpm(100)};
  ASSERT_FALSE(acquire(charges).fell_back);
  // Sent, and waiting on a Redis that does not answer; then it dies.
  redis_.freeze();
  constexpr int kInFlight = 20;
  std::vector<Verdict> verdicts;
  for (int i = 0; i < kInFlight; ++i) {
    asio::co_spawn(io_, limiter_->acquire(charges), [&](std::exception_ptr e, Verdict v) {
      if (e) std::rethrow_exception(e);
      verdicts.push_back(std::move(v));
    });
  }
  const auto until = SteadyTime::now() + 50ms;
  run_until([&] { return SteadyTime::now() >= until; });
  ASSERT_TRUE(verdicts.empty());
  redis_.kill();
  const auto killed = SteadyTime::now();
  ASSERT_TRUE(run_until([&] { return verdicts.size() == kInFlight; }));
  EXPECT_LT(SteadyTime::now() - killed, 400ms);  // not the 500 ms timeout: the connection broke
  for (const Verdict& v : verdicts) {
    EXPECT_TRUE(v.fell_back);
    EXPECT_EQ(v.outcome, Outcome::kAllowed);
  }
  EXPECT_EQ(shared_.fallback_decisions(), static_cast<std::uint64_t>(kInFlight));
  EXPECT_EQ(shared_.local().peek("key:rpm:k1", key_rpm(100).rate, 0, clock_.now()).remaining,
            100 - kInFlight);
}

TEST_F(RedisLimiterTest, FailClosedRefusesAsUnavailableWhileRedisIsDown) {
  connect(/*fail_open=*/false);
  const Charge charges[] = {key_rpm(3)};
  ASSERT_EQ(acquire(charges).outcome, Outcome::kAllowed);
  redis_.kill();
  ASSERT_TRUE(run_until([&] { return !limiter_->redis_ready(); }));
  const Verdict v = acquire(charges);
  EXPECT_EQ(v.outcome, Outcome::kUnavailable);
  EXPECT_TRUE(v.decisions.empty());
  EXPECT_FALSE(v.fell_back);
  EXPECT_EQ(shared_.redis_failures(), 1u);
  EXPECT_EQ(shared_.fallback_decisions(), 0u);
  // Nothing local decides, so nothing is kept there.
  limiter_->consume(charges);
  EXPECT_EQ(shared_.local().size(), 0u);
  // Unlimited charges need no Redis.
  const Charge unlimited[] = {global_unlimited()};
  EXPECT_EQ(acquire(unlimited).outcome, Outcome::kAllowed);

  redis_.start();
  ASSERT_TRUE(run_until([&] { return limiter_->redis_ready(); }));
  EXPECT_EQ(acquire(charges).outcome, Outcome::kAllowed);
}

TEST_F(RedisLimiterTest, FrozenRedisFallsBackAfterTheTimeout) {
  connect();
  const Charge charges[] = {key_rpm(3)};
  ASSERT_FALSE(acquire(charges).fell_back);
  redis_.freeze();
  const auto t0 = SteadyTime::now();
  const Verdict v = acquire(charges);
  EXPECT_GE(SteadyTime::now() - t0, 450ms);
  EXPECT_TRUE(v.fell_back);
  EXPECT_EQ(v.outcome, Outcome::kAllowed);
  // The next one does not wait again behind the unanswered one.
  const auto t1 = SteadyTime::now();
  EXPECT_TRUE(acquire(charges).fell_back);
  EXPECT_LT(SteadyTime::now() - t1, 400ms);
  redis_.thaw();
  ASSERT_TRUE(run_until([&] { return !acquire(charges).fell_back; }));
}

TEST_F(RedisLimiterTest, DownAtStartDecidesLocallyUntilRedisIsUp) {
  RedisServer later(/*start_now=*/false);
  make(/*fail_open=*/true, later.url());
  const Charge charges[] = {key_rpm(3)};
  EXPECT_TRUE(acquire(charges).fell_back);
  later.start();
  ASSERT_TRUE(run_until([&] { return limiter_->redis_ready(); }));
  EXPECT_FALSE(acquire(charges).fell_back);
}

}  // namespace
}  // namespace sluice::limit
