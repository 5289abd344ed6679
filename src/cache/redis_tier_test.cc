// The Redis tier against a real redis-server (tests/support/redis_server.h), driven by one
// io_context on the test thread as a worker's would be: stores and lookups, TTLs, corrupt values,
// a Redis that does not answer, one that is down at start, killed and restarted, clears by
// namespace, AUTH and SELECT, the bound on commands in flight, and detaching.
#include "cache/redis_tier.h"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <optional>
#include <thread>

#include "cache/entry_codec.h"
#include "support/await.h"
#include "support/redis_server.h"

namespace sluice::cache {
namespace {

using namespace std::chrono_literals;
using testing::RedisServer;
using SteadyTime = std::chrono::steady_clock;

constexpr std::int64_t kHour = 3'600'000;

class RedisTierTest : public ::testing::Test {
 protected:
  void make_tier(const std::string& url, net::RedisConnection::Options tuning = {}) {
    config::Cache c;
    c.enabled = true;
    c.redis.url = url;
    c.redis.timeout = 50ms;
    tier_ = std::make_unique<RedisTier>(c, clock_, tuning);
    tier_->attach_worker(io_.get_executor());
  }
  void connect(const std::string& url, net::RedisConnection::Options tuning = {}) {
    make_tier(url, tuning);
    ASSERT_TRUE(run_until([&] { return stat("connected") == 1; })) << tier_->stats();
  }

  template <class F>
  bool run_until(F done, std::chrono::milliseconds limit = 5s) {
    return sluice::testing::run_until(io_, done, limit);
  }
  void run_for(std::chrono::milliseconds d) {
    auto deadline = SteadyTime::now() + d;
    run_until([&] { return SteadyTime::now() >= deadline; }, d + 1s);
  }

  EntryPtr lookup(const Key& key) {
    std::optional<EntryPtr> result;
    asio::co_spawn(io_, tier_->lookup("default", key), [&](std::exception_ptr e, EntryPtr entry) {
      if (e) std::rethrow_exception(e);
      result = std::move(entry);
    });
    EXPECT_TRUE(run_until([&] { return result.has_value(); }, 10s));
    return result ? *result : nullptr;
  }
  void clear(std::string_view ns) {
    bool done = false;
    asio::co_spawn(io_, tier_->clear(ns), [&](std::exception_ptr e) {
      if (e) std::rethrow_exception(e);
      done = true;
    });
    EXPECT_TRUE(run_until([&] { return done; }, 20s));
  }

  EntryPtr make_entry(std::string body, std::string ns = "default", std::int64_t ttl_ms = kHour) {
    auto e = std::make_shared<Entry>();
    e->format = Format::kSse;
    e->endpoint = api::Endpoint::kCompletions;
    e->ns = std::move(ns);
    e->body = std::move(body);
    e->created_ms = clock_.unix_ms();
    e->expires_ms = clock_.unix_ms() + ttl_ms;
    e->prompt_tokens = 7;
    e->completion_tokens = 11;
    return e;
  }
  static std::string name_of(const Key& key, std::string_view ns = "default") {
    return RedisTier::key_name("sluice:", ns, key);
  }
  // Stores and waits until Redis has it and the tier has taken Redis's reply.
  void store(const Key& key, const EntryPtr& e, RedisServer& redis) {
    tier_->store(key, e);
    ASSERT_TRUE(run_until([&] { return redis.command({"EXISTS", name_of(key, e->ns)}).integer; }));
    run_for(20ms);
  }

  std::int64_t stat(const char* name) const {
    const json::object stats = tier_->stats();
    const auto& v = stats.at(name);
    return v.is_null() ? -1 : v.to_number<std::int64_t>();
  }

  RedisServer redis_;
  core::ManualClock clock_;
  asio::io_context io_{1};
  std::unique_ptr<RedisTier> tier_;  // destroyed before the loop it is attached to
};

TEST_F(RedisTierTest, StoreThenLookupHitsThroughOneWorker) {
  connect(redis_.url());
  const Key key{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  auto e = make_entry(std::string(2000, 'x') + "the answer");
  store(key, e, redis_);
  EXPECT_EQ(name_of(key), "sluice:cache:v1:default:0123456789abcdeffedcba9876543210");

  EntryPtr got = lookup(key);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->body, e->body);
  EXPECT_EQ(got->format, e->format);
  EXPECT_EQ(got->endpoint, e->endpoint);
  EXPECT_EQ(got->ns, "default");
  EXPECT_EQ(got->created_ms, e->created_ms);
  EXPECT_EQ(got->expires_ms, e->expires_ms);
  EXPECT_EQ(got->prompt_tokens, 7u);
  EXPECT_EQ(got->completion_tokens, 11u);
  // The value is the entry codec's bytes (compressed: the body repeats).
  auto raw = redis_.command({"GET", name_of(key)});
  EXPECT_LT(raw.str.size(), e->body.size());
  EXPECT_TRUE(decode_entry(raw.str, 1 << 20));

  EXPECT_FALSE(lookup(Key{9, 9}));
  EXPECT_EQ(stat("hits"), 1);
  EXPECT_EQ(stat("misses"), 1);
  EXPECT_EQ(stat("stores"), 1);
  EXPECT_EQ(stat("timeouts"), 0);
  EXPECT_EQ(stat("errors"), 0);
  EXPECT_EQ(stat("bypassed"), 0);
  EXPECT_EQ(stat("connections"), 1);
  EXPECT_EQ(stat("entries"), -1);  // unknown: Redis is shared
}

TEST_F(RedisTierTest, TtlIsPassedAsPxAndHonoured) {
  connect(redis_.url());
  store(Key{1, 1}, make_entry("long", "default", 60'000), redis_);
  long long pttl = redis_.command({"PTTL", name_of(Key{1, 1})}).integer;
  EXPECT_GT(pttl, 55'000);
  EXPECT_LE(pttl, 60'000);

  store(Key{2, 2}, make_entry("short", "default", 200), redis_);
  std::this_thread::sleep_for(400ms);  // Redis expires in real time
  EXPECT_FALSE(lookup(Key{2, 2}));
  EXPECT_EQ(redis_.command({"EXISTS", name_of(Key{2, 2})}).integer, 0);

  // An entry already past its expiry is not written at all.
  tier_->store(Key{3, 3}, make_entry("dead", "default", 0));
  run_for(100ms);
  EXPECT_EQ(redis_.command({"EXISTS", name_of(Key{3, 3})}).integer, 0);
  EXPECT_EQ(stat("stores"), 2);
}

TEST_F(RedisTierTest, CorruptValueIsAMissAndIsDeleted) {
  connect(redis_.url());
  const Key garbage{4, 4}, truncated{5, 5};
  redis_.command({"SET", name_of(garbage), "not an entry at all"});
  std::string bytes = encode_entry(*make_entry("almost"));
  bytes.pop_back();
  redis_.command({"SET", name_of(truncated), bytes});

  EXPECT_FALSE(lookup(garbage));
  EXPECT_FALSE(lookup(truncated));
  EXPECT_EQ(stat("corrupt"), 2);
  EXPECT_EQ(stat("misses"), 2);
  EXPECT_TRUE(run_until([&] {
    return redis_.command({"EXISTS", name_of(garbage), name_of(truncated)}).integer == 0;
  }));
}

TEST_F(RedisTierTest, UnansweredLookupTimesOutAndItsLateReplyIsDropped) {
  connect(redis_.url());
  const Key a{10, 10}, b{11, 11};
  auto ea = make_entry("answer A");
  store(a, ea, redis_);

  redis_.freeze();
  auto t0 = SteadyTime::now();
  EXPECT_FALSE(lookup(b));
  auto waited = SteadyTime::now() - t0;
  EXPECT_GE(waited, 45ms);
  EXPECT_LT(waited, 300ms);
  EXPECT_EQ(stat("timeouts"), 1);

  // Its reply can only come after the late one: a miss at once, without waiting again.
  t0 = SteadyTime::now();
  EXPECT_FALSE(lookup(a));
  EXPECT_LT(SteadyTime::now() - t0, 30ms);
  EXPECT_EQ(stat("bypassed"), 1);

  redis_.thaw();
  run_for(100ms);  // B's late reply (nil) arrives now and is matched to B, then dropped
  EntryPtr got = lookup(a);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->body, "answer A");
  EXPECT_EQ(stat("timeouts"), 1);
  EXPECT_EQ(stat("errors"), 0);
  EXPECT_EQ(stat("reconnects"), 0);
}

TEST_F(RedisTierTest, BusyRedisTimesOutTheLookupNotTheConnection) {
  connect(redis_.url());
  store(Key{12, 12}, make_entry("still here"), redis_);
  std::thread busy([&] { redis_.command({"DEBUG", "SLEEP", "0.5"}); });
  std::this_thread::sleep_for(50ms);  // let the sleep start
  auto t0 = SteadyTime::now();
  EXPECT_FALSE(lookup(Key{12, 12}));
  EXPECT_LT(SteadyTime::now() - t0, 300ms);
  busy.join();
  run_for(50ms);
  EXPECT_TRUE(lookup(Key{12, 12}));
  EXPECT_EQ(stat("timeouts"), 1);
  EXPECT_EQ(stat("connected"), 1);
}

TEST_F(RedisTierTest, DownAtStartMissesThenConnectsWhenRedisStarts) {
  RedisServer later(/*start_now=*/false);
  make_tier(later.url());
  run_for(150ms);
  EXPECT_EQ(stat("connected"), 0);
  auto t0 = SteadyTime::now();
  EXPECT_FALSE(lookup(Key{20, 20}));
  EXPECT_LT(SteadyTime::now() - t0, 30ms);
  EXPECT_EQ(stat("bypassed"), 1);
  tier_->store(Key{20, 20}, make_entry("dropped"));
  run_for(20ms);
  EXPECT_EQ(stat("dropped_stores"), 1);
  EXPECT_GE(stat("connect_errors"), 1);

  later.start();
  ASSERT_TRUE(run_until([&] { return stat("connected") == 1; }, 5s));
  store(Key{21, 21}, make_entry("now shared"), later);
  EXPECT_TRUE(lookup(Key{21, 21}));
  EXPECT_EQ(stat("reconnects"), 0);  // the first connection is not a reconnection
}

TEST_F(RedisTierTest, KilledAndRestartedRedisIsReconnected) {
  connect(redis_.url());
  store(Key{30, 30}, make_entry("before"), redis_);
  redis_.kill();
  ASSERT_TRUE(run_until([&] { return stat("connected") == 0; }, 2s));
  EXPECT_FALSE(lookup(Key{30, 30}));
  EXPECT_EQ(stat("bypassed"), 1);

  redis_.start();
  ASSERT_TRUE(run_until([&] { return stat("connected") == 1; }, 5s));
  EXPECT_EQ(stat("reconnects"), 1);
  EXPECT_FALSE(lookup(Key{30, 30}));  // no persistence: it is gone
  store(Key{31, 31}, make_entry("after"), redis_);
  EXPECT_TRUE(lookup(Key{31, 31}));
}

TEST_F(RedisTierTest, StalledConnectionIsReplaced) {
  net::RedisConnection::Options tuning;
  tuning.stall_limit = 300ms;
  tuning.connect_timeout = 200ms;
  connect(redis_.url(), tuning);
  redis_.freeze();
  EXPECT_FALSE(lookup(Key{40, 40}));  // times out
  run_for(350ms);
  EXPECT_FALSE(lookup(Key{40, 40}));  // finds the connection stalled: dropped, reconnecting
  EXPECT_EQ(stat("connected"), 0);
  run_for(300ms);  // a new attempt connects (the kernel accepts) but the handshake times out
  EXPECT_EQ(stat("connected"), 0);
  redis_.thaw();
  ASSERT_TRUE(run_until([&] { return stat("connected") == 1; }, 5s));
  EXPECT_EQ(stat("reconnects"), 1);
  store(Key{41, 41}, make_entry("fine again"), redis_);
  EXPECT_TRUE(lookup(Key{41, 41}));
}

TEST_F(RedisTierTest, ClearRemovesOnlyThatNamespace) {
  connect(redis_.url());
  std::vector<std::vector<std::string>> sets;
  std::string value = encode_entry(*make_entry("v"));
  for (std::uint64_t i = 0; i < 2500; ++i) sets.push_back({"SET", name_of(Key{i, i}, "a"), value});
  for (std::uint64_t i = 0; i < 10; ++i) sets.push_back({"SET", name_of(Key{i, i}, "b"), value});
  for (std::uint64_t i = 0; i < 5; ++i) sets.push_back({"SET", name_of(Key{i, i}, "a:b"), value});
  sets.push_back({"SET", "sluice:other", "x"});
  sets.push_back({"SET", "someone-else:cache:v1:a:0", "x"});
  ASSERT_EQ(redis_.pipeline(sets).size(), sets.size());
  ASSERT_EQ(redis_.command({"DBSIZE"}).integer, 2517);

  clear("a");
  EXPECT_EQ(redis_.command({"DBSIZE"}).integer, 17);
  EXPECT_EQ(redis_.command({"EXISTS", name_of(Key{3, 3}, "b")}).integer, 1);
  EXPECT_EQ(redis_.command({"EXISTS", name_of(Key{3, 3}, "a:b")}).integer, 1);

  clear("");
  EXPECT_EQ(redis_.command({"DBSIZE"}).integer, 2);
  EXPECT_EQ(redis_.command({"EXISTS", "sluice:other", "someone-else:cache:v1:a:0"}).integer, 2);
}

TEST_F(RedisTierTest, AuthAndSelectComeFromTheUrl) {
  RedisServer secured(true, {"--requirepass", "s3cret"}, "s3cret");
  connect(secured.url(3));
  tier_->store(Key{50, 50}, make_entry("in db 3"));
  ASSERT_TRUE(run_until([&] {
    return secured.command({"EXISTS", name_of(Key{50, 50})}, 3).integer;
  }));
  EXPECT_EQ(secured.command({"EXISTS", name_of(Key{50, 50})}, 0).integer, 0);
  EXPECT_TRUE(lookup(Key{50, 50}));

  make_tier("redis://:wrong@127.0.0.1:" + std::to_string(secured.port()) + "/3");
  run_for(300ms);
  EXPECT_EQ(stat("connected"), 0);
  EXPECT_GE(stat("connect_errors"), 1);
  EXPECT_FALSE(lookup(Key{50, 50}));
}

TEST_F(RedisTierTest, HostNamesAreResolved) {
  connect("redis://localhost:" + std::to_string(redis_.port()));
  store(Key{55, 55}, make_entry("by name"), redis_);
  EXPECT_TRUE(lookup(Key{55, 55}));
}

TEST_F(RedisTierTest, StoresBeyondTheInFlightBoundAreDropped) {
  net::RedisConnection::Options tuning;
  tuning.max_in_flight = 10;
  connect(redis_.url(), tuning);
  redis_.freeze();
  for (std::uint64_t i = 0; i < 30; ++i) tier_->store(Key{60, i}, make_entry("e"));
  run_for(50ms);
  EXPECT_EQ(stat("stores"), 10);
  EXPECT_EQ(stat("dropped_stores"), 20);
  redis_.thaw();
  EXPECT_TRUE(run_until([&] { return redis_.command({"DBSIZE"}).integer == 10; }));
}

TEST_F(RedisTierTest, LookupOffAnAttachedWorkerIsAMiss) {
  connect(redis_.url());
  store(Key{70, 70}, make_entry("attached only"), redis_);
  asio::io_context other{1};
  std::optional<EntryPtr> result;
  asio::co_spawn(other, tier_->lookup("default", Key{70, 70}),
                 [&](std::exception_ptr, EntryPtr e) { result = std::move(e); });
  other.run_for(1s);
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(*result);
  EXPECT_EQ(stat("bypassed"), 1);
}

TEST_F(RedisTierTest, DetachLetsTheWorkersLoopRunOutOfWork) {
  connect(redis_.url());
  EXPECT_FALSE(lookup(Key{80, 80}));
  tier_->detach_worker(io_.get_executor());
  EXPECT_EQ(stat("connected"), 0);
  io_.restart();
  auto t0 = SteadyTime::now();
  io_.run_for(3s);  // returns as soon as nothing is left: no wait, no timer of the tier
  EXPECT_LT(SteadyTime::now() - t0, 1s);
  EXPECT_FALSE(lookup(Key{80, 80}));  // detached: a miss, no crash
}

}  // namespace
}  // namespace sluice::cache
