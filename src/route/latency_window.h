// The recent latencies of one model (its last 256 successful attempts), for hedging: a second
// attempt goes out when the first has taken longer than the model's p95. The quantile is
// recomputed every 32 samples and read as an atomic, so the request path does not sort.
//
// Thread safety: safe from any worker; record() takes a short lock, p95() is an atomic load.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>

namespace sluice::route {

class LatencyWindow {
 public:
  void record(std::chrono::nanoseconds latency);
  // 0 until 32 samples have been seen.
  std::chrono::nanoseconds p95() const {
    return std::chrono::nanoseconds(p95_ns_.load(std::memory_order_relaxed));
  }

 private:
  static constexpr std::size_t kSize = 256;
  static constexpr std::size_t kRecomputeEvery = 32;

  std::mutex mutex_;
  std::array<std::int64_t, kSize> samples_{};
  std::size_t count_ = 0;  // samples ever recorded
  std::atomic<std::int64_t> p95_ns_{0};
};

}  // namespace sluice::route
