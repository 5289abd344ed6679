#include "route/latency_window.h"

#include <algorithm>

namespace sluice::route {

void LatencyWindow::record(std::chrono::nanoseconds latency) {
  std::lock_guard lock(mutex_);
  samples_[count_ % kSize] = latency.count();
  ++count_;
  if (count_ % kRecomputeEvery != 0) return;
  const std::size_t n = std::min(count_, kSize);
  std::array<std::int64_t, kSize> copy;
  std::copy_n(samples_.begin(), n, copy.begin());
  const std::size_t rank = (n * 95 + 99) / 100 - 1;  // nearest rank
  std::nth_element(copy.begin(), copy.begin() + static_cast<std::ptrdiff_t>(rank),
                   copy.begin() + static_cast<std::ptrdiff_t>(n));
  p95_ns_.store(copy[rank], std::memory_order_relaxed);
}

}  // namespace sluice::route
