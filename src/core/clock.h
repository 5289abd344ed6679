// Injectable time. Components whose behaviour depends on time (deadlines, TTLs, limiters,
// balancer statistics) take a Clock& so tests drive time by hand instead of sleeping. now() is
// monotonic, for intervals; unix_ms() is wall-clock time, for what must mean the same after a
// restart or on another machine (cache expiry on disk and in Redis).
//
// SteadyClock is stateless and thread-safe. ManualClock is for tests; its now() and advance()
// are safe to call from several threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice::core {

class Clock {
 public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual time_point now() const = 0;
  // Milliseconds since the Unix epoch.
  virtual std::int64_t unix_ms() const = 0;
};

class SteadyClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
  std::int64_t unix_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  static SteadyClock& instance();
};

class ManualClock final : public Clock {
 public:
  // Wall-clock time starts at 2026-01-01T00:00:00Z unless given.
  explicit ManualClock(time_point start = time_point{}, std::int64_t start_unix_ms = 1767225600000)
      : now_(start.time_since_epoch().count()), start_(start), start_unix_ms_(start_unix_ms) {}
  time_point now() const override { return time_point(duration(now_.load())); }
  std::int64_t unix_ms() const override {
    return start_unix_ms_ +
           std::chrono::duration_cast<std::chrono::milliseconds>(now() - start_).count();
  }
  void advance(duration d) { now_.fetch_add(d.count()); }

 private:
  std::atomic<duration::rep> now_;
  time_point start_;
  std::int64_t start_unix_ms_;
};

}  // namespace sluice::core
