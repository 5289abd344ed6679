// What every worker's Limiter (limiter.h) shares in one process: the local GCRA limiter (used
// for the local backend, and by the Redis backend while Redis does not answer), the counters of
// Redis failures, the rate-limited log lines about falling back, the periodic sweep of idle
// local buckets, and the health of the Redis connections (one log line for all workers).
//
// Thread safety: every member is safe to call from any thread. The counters are atomics on their
// own cache lines, written only when Redis fails; on the path of a decision that Redis answered,
// on_redis_answer() reads one flag.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

#include "core/clock.h"
#include "limit/gcra.h"
#include "net/redis_connection.h"

namespace sluice::limit {

class SharedLimits {
 public:
  // Idle local buckets are swept at most this often; log lines about Redis come at most this
  // often (each kind).
  static constexpr std::chrono::seconds kSweepEvery{10};
  static constexpr std::chrono::seconds kLogEvery{10};

  explicit SharedLimits(const core::Clock& clock);
  SharedLimits(const SharedLimits&) = delete;
  SharedLimits& operator=(const SharedLimits&) = delete;

  GcraLimiter& local() { return local_; }
  const core::Clock& clock() const { return clock_; }

  // Decisions Redis did not answer (fail-open and fail-closed alike).
  std::uint64_t redis_failures() const { return failures_.load(std::memory_order_relaxed); }
  // Of those, the ones decided by the local limiter instead (fail-open).
  std::uint64_t fallback_decisions() const { return fallbacks_.load(std::memory_order_relaxed); }
  // Releases and consumes that Redis did not apply (not sent, or answered with an error).
  std::uint64_t dropped_updates() const { return dropped_.load(std::memory_order_relaxed); }

  // Removes the local buckets that are full again, if kSweepEvery has passed since the last
  // sweep (one caller does it; the others return at once). Returns how many were removed.
  // Limiters call it every kSweepCheckEvery decisions; an owner with a timer may call it too.
  std::size_t maybe_sweep();

  // For the Limiters: a decision Redis did not answer (why: for the log line), and one it did.
  void on_redis_failure(bool fail_open, std::string_view why);
  void on_redis_answer() {
    if (degraded_.load(std::memory_order_relaxed)) on_redis_back();
  }
  // The one RedisHealth of this process's rate-limit connections (created by the first call).
  std::shared_ptr<net::RedisHealth> redis_health(const net::RedisEndpoint& endpoint,
                                                 bool fail_open);
  std::atomic<std::uint64_t>* dropped_updates_counter() { return &dropped_; }

 private:
  // True for the one caller that finds `every` passed since `last` (and moves `last` to now).
  bool due(std::atomic<std::int64_t>& last, std::chrono::nanoseconds every);
  void on_redis_back();

  const core::Clock& clock_;
  GcraLimiter local_;

  std::mutex health_mutex_;
  std::shared_ptr<net::RedisHealth> health_;  // under health_mutex_

  alignas(64) std::atomic<std::uint64_t> failures_{0};
  std::atomic<std::uint64_t> fallbacks_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::int64_t> last_fallback_log_;
  std::atomic<std::int64_t> last_back_log_;
  alignas(64) std::atomic<bool> degraded_{false};  // a decision fell back since the last answer
  alignas(64) std::atomic<std::int64_t> last_sweep_;
};

}  // namespace sluice::limit
