// GCRA in Redis (docs/keys-and-limits.md, "Distributed limits"): every gateway that uses the same
// Redis shares the same buckets, so a limit holds across instances. One Lua script
// (redis_gcra_script.h) decides a whole request atomically: either every charge is taken or none.
//
// The decisions are the local limiter's (gcra.h), to the nanosecond: the script only reads and
// writes TATs and reports how far each lay ahead of now; the Decision is computed here by the
// same function the local limiter uses (gcra_math.h). Time is Redis's own (TIME), so instances
// on machines whose clocks differ still agree. Keys are `<key_prefix><charge.key>`, each with a
// PX at its TAT so idle buckets vanish.
//
// Charges with rate.per_minute == 0 are unlimited: not sent, answered with GcraLimiter's
// unlimited Decision (allowed, remaining = INT64_MAX). release() and consume() skip them and
// charges of cost 0.
//
// The script is run with EVALSHA; after a NOSCRIPT (Redis restarted or flushed its scripts) the
// same call is made with EVAL, which also loads it, within what is left of the timeout. Releases
// and consumes are fire-and-forget: EVALSHA once an awaited call has shown the script loaded on
// the current connection, else EVAL. One that cannot be sent, or that Redis answers with an error,
// is counted in Options::dropped_updates.
//
// Thread safety: one object per worker, used only on the thread of its connection's executor
// (acquire, release, consume, ready). The connection is shared with its owner, who starts and
// closes it.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/asio.h"
#include "core/clock.h"
#include "limit/gcra.h"
#include "net/redis_connection.h"

namespace sluice::limit {

class RedisGcra {
 public:
  struct Options {
    std::string key_prefix = "sluice:rl:";
    // For a whole decision, NOSCRIPT and EVAL included.
    std::chrono::milliseconds timeout{20};
    // Counts releases and consumes Redis did not apply; may be null.
    std::atomic<std::uint64_t>* dropped_updates = nullptr;
    // Tests only: decide at this clock's now() (whole microseconds since its epoch) instead of
    // Redis's TIME, so a sequence can be replayed against the local limiter.
    const core::Clock* clock = nullptr;
  };

  RedisGcra(std::shared_ptr<net::RedisConnection> connection, Options options);
  RedisGcra(const RedisGcra&) = delete;
  RedisGcra& operator=(const RedisGcra&) = delete;

  // One Decision per charge, in order; all allowed when the charges were taken, else nothing was
  // taken (see redis_gcra_script.h for what each refused call reports). nullopt when Redis did
  // not give an answer (not connected, timeout, error, script missing and EVAL failed): the
  // caller falls back to local limits. Resumes on the connection's executor; returns without
  // suspending when no charge is limited or the connection is down.
  asio::awaitable<std::optional<std::vector<Decision>>> acquire(std::span<const Charge> charges);
  // Gives back `cost` units of each charge (fire and forget).
  void release(std::span<const Charge> charges);
  // Takes `cost` units of each charge unconditionally (fire and forget).
  void consume(std::span<const Charge> charges);

  bool ready() const { return connection_->ready(); }
  // Why the last acquire answered nullopt, for log lines.
  std::string_view last_failure() const { return last_failure_; }

  // The Redis key of a bucket.
  std::string key_name(std::string_view key) const;

 private:
  void update(std::string_view op, std::span<const Charge> charges);
  bool script_loaded() const;
  std::string now_arg() const;

  std::shared_ptr<net::RedisConnection> connection_;
  Options options_;
  bool loaded_ = false;                  // an awaited call found the script on this connection
  std::uint64_t loaded_reconnects_ = 0;  // the connection's reconnect count then
  std::string last_failure_;
};

}  // namespace sluice::limit
