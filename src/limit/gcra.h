// Rate limits with GCRA, the generic cell rate algorithm (as in redis-cell and Brandur Leach's
// "Rate limiting, cells, and GCRA"): requests per minute, or tokens per minute when a request
// reserves its tokens. Each key keeps one number, its theoretical arrival time (TAT): the
// instant by which everything it was allowed so far would have been paid off at the steady
// rate. A unit costs one emission interval (60 s / per_minute); a request is allowed when the
// new TAT lies no further ahead of now than the burst allows. No timers, no refill loop, and
// the decision is integer nanoseconds throughout, so it is exact and the same on every run. The
// arithmetic is in gcra_math.h, shared with the Redis limiter (redis_gcra.h).
//
// A TAT in the past means a fully replenished bucket, the same as no entry at all; sweep()
// removes such entries so keys that stop sending do not accumulate.
//
// Thread safety: every member is safe to call from any worker. Keys are spread over 64 shards
// by hash; a call locks one shard for a map lookup and a few additions (sweep() and size() visit
// every shard, one at a time).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"

namespace sluice::limit {

struct Rate {
  // 0 means unlimited.
  std::uint64_t per_minute = 0;
  // The most units allowed at once. 0 means per_minute: a whole minute's allowance may arrive
  // at once, as OpenAI's limits behave. Lower values smooth traffic out.
  std::uint64_t burst = 0;
};

struct Decision {
  bool allowed = false;
  // Whole units that could still be taken right now (after this decision, if allowed).
  std::int64_t remaining = 0;
  // When refused: how long until the same request would be allowed (rounded up, so retrying
  // then succeeds); milliseconds::max() when it never will (cost above the burst). 0 if allowed.
  std::chrono::milliseconds retry_after{0};
  // How long until the bucket is full again (x-ratelimit-reset-*), rounded up.
  std::chrono::milliseconds reset_after{0};
};

// One limit that a request is charged against: a bucket (the caller names it, e.g. "key:rpm:…"),
// its rate, and the units this request takes (1 for requests per minute, the reserved tokens for
// tokens per minute).
struct Charge {
  std::string_view key;  // viewed, not owned: callers name buckets with strings that outlive it
  Rate rate;
  std::uint64_t cost = 0;
};

class GcraLimiter {
 public:
  using time_point = core::Clock::time_point;

  GcraLimiter() = default;
  GcraLimiter(const GcraLimiter&) = delete;
  GcraLimiter& operator=(const GcraLimiter&) = delete;

  // Takes `cost` units (1 for a request, the reserved tokens for a reservation) if the rate
  // allows it now; a refusal takes nothing.
  Decision acquire(std::string_view key, const Rate& rate, std::uint64_t cost, time_point now);
  // Gives back `cost` units of an earlier acquire (a reservation that used fewer tokens): the
  // TAT moves back by cost emission intervals, but never before now, so unused capacity from
  // the past cannot be banked.
  void release(std::string_view key, const Rate& rate, std::uint64_t cost, time_point now);
  // Takes `cost` units unconditionally (a request used more tokens than it reserved): the TAT
  // becomes max(TAT, now) + cost emission intervals, even past the burst, so the next requests
  // are refused until the overdraft is paid off at the steady rate.
  void consume(std::string_view key, const Rate& rate, std::uint64_t cost, time_point now);
  // What acquire() would answer, without taking anything; with cost 0, the bucket as it stands
  // (for response headers).
  Decision peek(std::string_view key, const Rate& rate, std::uint64_t cost, time_point now) const;

  // Removes the entries whose TAT is not after `now`; returns how many.
  std::size_t sweep(time_point now);
  std::size_t size() const;

 private:
  static constexpr std::size_t kShards = 64;

  // A key with its hash, computed once per call: it picks the shard (top bits) and the map's
  // bucket (low bits) without hashing the key twice.
  struct Hashed {
    std::string_view text;
    std::size_t hash;
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    std::size_t operator()(const Hashed& k) const { return k.hash; }
  };
  struct KeyEqual {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
    bool operator()(const Hashed& a, std::string_view b) const { return a.text == b; }
    bool operator()(std::string_view a, const Hashed& b) const { return a == b.text; }
  };
  // Own cache line each, so workers on different shards do not contend for one.
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::int64_t, KeyHash, KeyEqual> tat_ns;
  };
  static Hashed hashed(std::string_view key) { return {key, KeyHash{}(key)}; }
  Shard& shard_of(const Hashed& key) { return shards_[(key.hash >> 58) % kShards]; }
  const Shard& shard_of(const Hashed& key) const { return shards_[(key.hash >> 58) % kShards]; }
  std::array<Shard, kShards> shards_;
};

}  // namespace sluice::limit
