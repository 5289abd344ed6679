// The live load of one deployment, shared by every worker: requests in flight, a peak-EWMA
// latency estimate, and the requests and tokens of the last minute (against the provider's
// rpm / tpm). Balancers read it on every pick; the routing stage writes it around every attempt.
//
// Peak EWMA (as in Finagle and Linkerd): a sample above the estimate replaces it at once, so a
// deployment that turns slow is avoided on its first slow answer; a sample below moves it with a
// weight that grows with the time since the last sample. Read, the estimate decays toward zero
// with the same time constant, so a deployment that stopped getting traffic because it was slow
// is tried again later rather than never.
//
// Thread safety: every member is safe to call from any worker. Reads are relaxed atomic loads;
// latency samples are relaxed stores (two at the same instant may lose one), usage takes a
// short per-deployment lock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>

#include "core/clock.h"

namespace sluice::route {

class DeploymentLoad {
 public:
  using time_point = core::Clock::time_point;

  explicit DeploymentLoad(std::chrono::nanoseconds decay = std::chrono::seconds(10))
      : decay_ns_(static_cast<double>(decay.count())) {}

  DeploymentLoad(const DeploymentLoad&) = delete;
  DeploymentLoad& operator=(const DeploymentLoad&) = delete;

  void begin() { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  // begin() unless `limit` (> 0) requests are already in flight: the check and the increment are
  // one step, so workers racing for the last slot cannot both take it.
  bool try_begin(std::int64_t limit) {
    std::int64_t n = in_flight_.load(std::memory_order_relaxed);
    do {
      if (n >= limit) return false;
    } while (!in_flight_.compare_exchange_weak(n, n + 1, std::memory_order_relaxed));
    return true;
  }
  void end() { in_flight_.fetch_sub(1, std::memory_order_relaxed); }
  std::int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

  // One attempt's latency: request sent to response head (for a stream, time to first token).
  void observe(time_point now, std::chrono::nanoseconds latency);
  // The estimate in milliseconds at `now`; 0 before the first sample.
  double latency_ms(time_point now) const;

  // Requests and tokens sent in the last minute (a sliding window of two one-minute buckets,
  // the older weighted by how much of it is still inside the window).
  struct Usage {
    double requests = 0;
    double tokens = 0;
  };
  void add_usage(time_point now, std::uint64_t requests, std::uint64_t tokens);
  Usage usage(time_point now) const;

  // Lifetime counters, for /admin/deployments.
  void count(bool failed) {
    requests_.fetch_add(1, std::memory_order_relaxed);
    if (failed) failures_.fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  std::uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

 private:
  const double decay_ns_;
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<double> latency_ns_{0};
  std::atomic<std::int64_t> stamp_ns_{0};  // time of the last latency sample
  std::atomic<std::uint64_t> requests_{0};
  std::atomic<std::uint64_t> failures_{0};

  mutable std::mutex mutex_;  // usage writes and reads
  std::int64_t minute_ = -1;  // index of the current one-minute bucket
  double current_requests_ = 0, current_tokens_ = 0;
  double previous_requests_ = 0, previous_tokens_ = 0;
};

}  // namespace sluice::route
