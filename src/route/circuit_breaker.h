// The circuit breaker of one deployment (docs/routing.md, "Health"; config::CircuitBreaker):
//   closed    -> open       when, over the last `window`, at least min_requests outcomes were
//                           recorded and failures / requests >= failure_ratio;
//   open      -> half-open  once open_for has passed since it opened (found lazily: by
//                           available() without changing anything, by the next write for real);
//   half-open -> closed     after half_open_probes successes (the window starts empty);
//   half-open -> open       on any failure (open_for starts again).
// Half-open admits at most half_open_probes attempts in flight; an abandoned one frees its slot.
//
// The window is a ring of kBuckets buckets of window / kBuckets each, indexed by the time
// passed in, so the ratio covers between window x (kBuckets - 1) / kBuckets and `window` of
// history; old buckets are dropped when the ring comes round to them, with no timer.
//
// Outcomes of attempts admitted before the breaker changed state cannot be told apart from its
// probes (admit() hands out no token): while open they are ignored; while half-open a late
// success counts as a probe success and a late failure reopens. Both are real evidence of how the
// deployment is doing now, so this errs in the right direction.
//
// Thread safety: available() and state() are lock-free atomic loads and may run at any time,
// concurrently with anything. Everything else (admit, the outcomes, failure_ratio) must be
// serialized by the caller; HealthGroup holds the deployment's lock.
// A disabled breaker (enabled = false) admits everything and records nothing.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "config/config.h"
#include "core/clock.h"
#include "route/health.h"

namespace sluice::route {

class CircuitBreaker {
 public:
  using time_point = core::Clock::time_point;
  static constexpr int kBuckets = 10;

  explicit CircuitBreaker(const config::CircuitBreaker& config);

  // Whether the breaker lets an attempt through at `now`. Lock-free.
  bool available(time_point now) const;
  // The state at `now`, with open -> half-open applied. Lock-free.
  BreakerState state(time_point now) const;

  // Writes; the caller serializes them.
  bool admit(time_point now);  // false: open, or half-open with every probe slot taken
  void on_success(time_point now);
  void on_failure(time_point now);
  void on_abandoned(time_point now);

  // failures / requests over the window at `now` (0 without requests). Reads the window, so
  // call it under the writers' lock.
  double failure_ratio(time_point now) const;

 private:
  struct Bucket {
    std::int64_t epoch = -1;  // which window / kBuckets interval it counts; -1 unused
    std::uint32_t requests = 0;
    std::uint32_t failures = 0;
  };
  struct Totals {
    std::uint64_t requests = 0;
    std::uint64_t failures = 0;
  };

  void refresh(std::int64_t now_ns);  // open -> half-open once open_for has passed
  void record(std::int64_t now_ns, bool failed);
  Totals totals(std::int64_t now_ns) const;
  void open(std::int64_t now_ns);
  void close();

  const bool enabled_;
  const double failure_ratio_;
  const std::uint64_t min_requests_;
  const std::int64_t bucket_ns_;
  const std::int64_t open_for_ns_;
  const int half_open_probes_;

  // Read lock-free by available(); written only under the caller's lock.
  std::atomic<BreakerState> state_{BreakerState::kClosed};
  std::atomic<std::int64_t> half_open_at_ns_{0};  // when open turns half-open
  std::atomic<int> probes_in_flight_{0};          // half-open only

  // Writers only.
  int probe_successes_ = 0;
  std::array<Bucket, kBuckets> ring_{};
};

}  // namespace sluice::route
