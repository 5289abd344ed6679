// An adaptive concurrency limit for one deployment (docs/routing.md, "Adaptive concurrency"),
// after Netflix's Gradient2: the limit follows the ratio of the long-run latency to the recent
// one, so it grows while latency stays flat and shrinks once queueing makes latency climb. A
// self-hosted server is kept near its knee instead of being pushed past it.
//
//   gradient  = clamp(tolerance x long_rtt / short_rtt, 0.5, 1)
//   new_limit = limit x gradient + sqrt(limit)          (the square root is the probe headroom)
//   limit     = limit x (1 - smoothing) + new_limit x smoothing, clamped to [min, max]
// short_rtt is an EWMA over the last ~10 samples, long_rtt over ~600; when the short one falls
// well below the long one (the overload passed) the long one is pulled down toward it.
//
// Thread safety: safe from any worker; limit() is an atomic load, on_sample() takes a short lock.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>

#include "config/config.h"

namespace sluice::route {

class AdaptiveLimit {
 public:
  explicit AdaptiveLimit(const config::AdaptiveConcurrency& config);

  int limit() const { return limit_.load(std::memory_order_relaxed); }
  // One finished attempt: its latency and how many were in flight when it started. Samples
  // taken while far below the limit (in_flight < limit / 2) say nothing about the knee and only
  // update the latencies.
  void on_sample(std::chrono::nanoseconds rtt, int in_flight);

 private:
  config::AdaptiveConcurrency config_;
  std::atomic<int> limit_;
  std::mutex mutex_;
  double estimate_;  // the limit, unrounded
  double short_rtt_ = 0;
  double long_rtt_ = 0;
  long samples_ = 0;
};

}  // namespace sluice::route
