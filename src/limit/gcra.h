// Rate limits with GCRA, the generic cell rate algorithm (as in redis-cell and Brandur Leach's
// "Rate limiting, cells, and GCRA"): requests per minute, or tokens per minute when a request
// reserves its tokens. Each bucket keeps one number, its theoretical arrival time (TAT): the
// instant by which everything it was allowed so far would have been paid off at the steady
// rate. A unit costs one emission interval (60 s / per_minute); a request is allowed when the
// new TAT lies no further ahead of now than the burst allows. No timers, no refill loop, and
// the decision is integer nanoseconds throughout, so it is exact and the same on every run. The
// arithmetic is in gcra_math.h, shared with the Redis limiter (redis_gcra.h).
//
// A bucket is a GcraBucket: its TAT in one atomic on its own cache line, shared by every worker.
// The limiter maps names to buckets. A caller that charges the same bucket again and again (a
// tenant's key, a model, the global limits) resolves it once with bucket() and keeps the
// pointer; its decisions are then a compare-and-swap on the TAT, with no hashing, no lookup and
// no lock, so workers charging the same bucket contend on nothing but that one cache line. The
// operations by name find the bucket (creating it only when there is something to store) and do
// the same, for callers that name a bucket only once in a while.
//
// A TAT in the past means a fully replenished bucket, the same as no entry at all; sweep()
// removes such entries so keys that stop sending do not accumulate, unless someone holds the
// bucket (then it stays, so one name never has two buckets).
//
// Thread safety: every member is safe to call from any worker, and so is every operation on a
// GcraBucket, concurrently with each other and with sweep(). Names are spread over 64 shards by
// hash; an operation by name, bucket() and a sweep lock one shard at a time (sweep() and size()
// visit every shard). Operations on a bucket lock nothing: they retry their compare-and-swap
// when another worker changed the TAT in between, so each decision is made on the TAT it
// replaces and none is lost or counted twice.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
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

// The TAT of a bucket that has never been charged (or was full when it was swept): any now is
// after it, so the bucket is full and its TAT becomes now at the first charge.
inline constexpr std::int64_t kGcraFull = std::numeric_limits<std::int64_t>::min();

// The state of one named bucket, shared by every worker that charges it. Its own cache line, so
// two buckets never share one that workers would fight over. Its address is stable for as long
// as anyone holds it (the limiter's map holds it by shared_ptr too).
struct alignas(64) GcraBucket {
  std::atomic<std::int64_t> tat_ns{kGcraFull};  // nanoseconds on core::Clock
};

// One limit that a request is charged against: a bucket (the caller names it, e.g. "key:rpm:…"),
// its rate, and the units this request takes (1 for requests per minute, the reserved tokens for
// tokens per minute).
struct Charge {
  std::string_view key;  // viewed, not owned: callers name buckets with strings that outlive it
  Rate rate;
  std::uint64_t cost = 0;
  // When set, the local state of `key`, resolved once by whoever named the charge (and kept
  // alive by it, as the name is): the local limiter uses it instead of looking `key` up. Redis
  // always goes by the name.
  GcraBucket* bucket = nullptr;
};

class GcraLimiter {
 public:
  using time_point = core::Clock::time_point;

  GcraLimiter() = default;
  GcraLimiter(const GcraLimiter&) = delete;
  GcraLimiter& operator=(const GcraLimiter&) = delete;

  // The bucket named `key`, created (full) when there is none: the same object for as long as
  // anyone holds it, so every holder and every operation by that name share one state. Locks one
  // shard; meant for callers that resolve a name once and charge it many times.
  std::shared_ptr<GcraBucket> bucket(std::string_view key);

  // The operations on a named bucket. Each has the same meaning on a GcraBucket (below); by name
  // it finds the bucket under its shard's lock, and creates it only when there is something to
  // store (a refusal, a peek or a release on an unknown name leave none).
  //
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

  // The same four on a bucket a caller holds (from bucket()): lock-free, with no lookup. Static:
  // they touch nothing but the bucket.
  static Decision acquire(GcraBucket& bucket, const Rate& rate, std::uint64_t cost, time_point now);
  static void release(GcraBucket& bucket, const Rate& rate, std::uint64_t cost, time_point now);
  static void consume(GcraBucket& bucket, const Rate& rate, std::uint64_t cost, time_point now);
  static Decision peek(const GcraBucket& bucket, const Rate& rate, std::uint64_t cost,
                       time_point now);

  // Removes the entries whose TAT is not after `now` and that nobody but the limiter holds;
  // returns how many. A held bucket stays however idle: its holder may charge it at any time,
  // and a new bucket for the same name would split the state in two.
  std::size_t sweep(time_point now);
  // How many buckets the limiter knows, held ones included.
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
  // Own cache line each, so workers on different shards do not contend for one. The map holds
  // every bucket by shared_ptr: a holder's reference comes from here, under the lock, which is
  // what lets sweep() tell by use_count() that nobody else has one.
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::shared_ptr<GcraBucket>, KeyHash, KeyEqual> buckets;
  };
  static Hashed hashed(std::string_view key) { return {key, KeyHash{}(key)}; }
  Shard& shard_of(const Hashed& key) { return shards_[(key.hash >> 58) % kShards]; }
  const Shard& shard_of(const Hashed& key) const { return shards_[(key.hash >> 58) % kShards]; }
  std::array<Shard, kShards> shards_;
};

}  // namespace sluice::limit
