// What the gateway's admit stage calls (docs/keys-and-limits.md, "Rate limits" and "Distributed
// limits"): one Limiter per worker decides a request's charges (key rpm and tpm, model rpm and
// tpm, global) all or nothing, with Redis when `limits.backend: redis`, else with the process's
// local limiter (SharedLimits, shared_limits.h).
//
// When Redis does not answer within limits.redis.timeout (down, frozen, erroring), the decision is
// made by the local limiter (fail-open, the default: each instance enforces the limits on its
// own, so N instances allow up to N times a limit until Redis is back) or the request is refused
// as unavailable (fail-closed). Both are counted and logged (SharedLimits). Local buckets start
// full at a fall-back: nothing is mirrored locally while Redis answers.
//
// Conventions of a Verdict's decisions: one per charge, in order. A charge with
// rate.per_minute == 0 is unlimited: never sent anywhere, Decision{allowed = true, remaining =
// kNoLimit}. When the verdict is kRefused nothing was taken, and every decision describes its
// bucket as it stands: a charge refused by itself has its retry_after (the request may retry after
// the largest of them), one that would have been allowed says allowed with retry_after 0.
//
// Local all-or-nothing takes the charges one by one and gives back the ones taken when a later one
// is refused: another worker may, for that instant, see a unit taken that is then given back.
// Redis's is atomic (one script). Locally, a charge whose caller resolved its bucket
// (Charge::bucket) is decided on it without a lookup or a lock; one without goes by its name.
// Redis always goes by the name.
//
// release() and consume() (reconciling a token reservation with the real usage) go to Redis when
// its connection is up, else to the local limiter (fail-open only: nothing local decides when
// fail-closed). A reconciliation that crosses a change of Redis's state lands on the other side;
// it errs by at most that request's estimate.
//
// Thread safety: a Limiter belongs to one worker: acquire, release, consume and close on its
// executor's thread; start() from any thread (it posts the connect). close() must run before the
// executor's io_context is destroyed (or once its loop has stopped). The Limiter must outlive
// every acquire in flight: one awaiting Redis resumes (with the connection lost) after close().
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "config/config.h"
#include "core/asio.h"
#include "limit/gcra.h"
#include "limit/redis_gcra.h"
#include "limit/shared_limits.h"
#include "net/redis_connection.h"

namespace sluice::limit {

// Decision::remaining of an unlimited charge.
inline constexpr std::int64_t kNoLimit = -1;

struct Verdict {
  enum class Outcome { kAllowed, kRefused, kUnavailable };  // kUnavailable: Redis down, fail-closed
  Outcome outcome = Outcome::kAllowed;
  // One per charge, same order (empty for kUnavailable); inline for the six a request can carry.
  boost::container::small_vector<Decision, 6> decisions;
  bool fell_back = false;  // decided by the local limiter because Redis did not answer
};

class Limiter {
 public:
  // Every this many decisions (local or in Redis) a Limiter calls SharedLimits::maybe_sweep.
  static constexpr std::uint32_t kSweepCheckEvery = 1024;

  // Throws std::invalid_argument for a bad limits.redis.url (startup only; the loader has checked
  // it already). `tuning` adjusts the Redis connection (tests); its endpoint is the URL's.
  Limiter(SharedLimits& shared, const config::RateLimits& config, asio::any_io_executor executor,
          net::RedisConnection::Options tuning = {});
  ~Limiter();
  Limiter(const Limiter&) = delete;
  Limiter& operator=(const Limiter&) = delete;

  // Connect to Redis (and keep reconnecting) / disconnect, when the backend is Redis.
  void start();
  void close();

  // All or nothing. With the local backend it completes without suspending.
  asio::awaitable<Verdict> acquire(std::span<const Charge> charges);
  // The local backend's decision, as a plain call (what acquire returns for it, without a
  // coroutine frame); with the Redis backend, what a fall-back would decide.
  Verdict acquire_local(std::span<const Charge> charges);
  // Gives back `cost` units of each charge (a reservation that used fewer tokens).
  void release(std::span<const Charge> charges);
  // Takes `cost` units of each charge unconditionally (usage above the reservation).
  void consume(std::span<const Charge> charges);

  bool distributed() const { return redis_ != nullptr; }
  // Whether this worker's Redis connection is up (false for the local backend).
  bool redis_ready() const { return redis_ && redis_->ready(); }

 private:
  void count_decision();

  SharedLimits& shared_;
  const bool fail_open_;
  std::shared_ptr<net::RedisConnection> connection_;
  std::unique_ptr<RedisGcra> redis_;
  std::uint32_t decisions_ = 0;  // since the last sweep check
};

}  // namespace sluice::limit
