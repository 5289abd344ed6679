// Injectable time. Components whose behaviour depends on time (deadlines, TTLs, limiters,
// balancer statistics) take a Clock& so tests drive time by hand instead of sleeping.
//
// SteadyClock is stateless and thread-safe. ManualClock is for tests; its now() and advance()
// are safe to call from several threads.
#pragma once

#include <atomic>
#include <chrono>

namespace sluice::core {

class Clock {
 public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::steady_clock::now(); }
  static SteadyClock& instance();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(time_point start = time_point{}) : now_(start.time_since_epoch().count()) {}
  time_point now() const override { return time_point(duration(now_.load())); }
  void advance(duration d) { now_.fetch_add(d.count()); }

 private:
  std::atomic<duration::rep> now_;
};

}  // namespace sluice::core
