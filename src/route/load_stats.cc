#include "route/load_stats.h"

#include <cmath>

namespace sluice::route {

namespace {

std::int64_t ns(core::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

constexpr std::int64_t kMinuteNs = 60'000'000'000;

}  // namespace

void DeploymentLoad::observe(time_point now, std::chrono::nanoseconds latency) {
  // No lock: two workers finishing attempts on one deployment at the same instant may lose one
  // of the two samples, which an estimate can afford better than every request a lock.
  const double sample = static_cast<double>(latency.count());
  const double current = latency_ns_.load(std::memory_order_relaxed);
  const std::int64_t stamp = stamp_ns_.load(std::memory_order_relaxed);
  const std::int64_t t = ns(now);
  double next = sample;
  if (current > 0 && sample <= current) {
    const double elapsed = static_cast<double>(std::max<std::int64_t>(t - stamp, 0));
    const double w = std::exp(-elapsed / decay_ns_);
    next = current * w + sample * (1 - w);
  }
  latency_ns_.store(next, std::memory_order_relaxed);
  stamp_ns_.store(std::max(t, stamp), std::memory_order_relaxed);
}

double DeploymentLoad::latency_ms(time_point now) const {
  const double current = latency_ns_.load(std::memory_order_relaxed);
  if (current <= 0) return 0;
  const double elapsed = static_cast<double>(
      std::max<std::int64_t>(ns(now) - stamp_ns_.load(std::memory_order_relaxed), 0));
  return current * std::exp(-elapsed / decay_ns_) / 1e6;
}

void DeploymentLoad::add_usage(time_point now, std::uint64_t requests, std::uint64_t tokens) {
  const std::int64_t minute = ns(now) / kMinuteNs;
  std::lock_guard lock(mutex_);
  if (minute != minute_) {
    const bool adjacent = minute == minute_ + 1;
    previous_requests_ = adjacent ? current_requests_ : 0;
    previous_tokens_ = adjacent ? current_tokens_ : 0;
    current_requests_ = current_tokens_ = 0;
    minute_ = minute;
  }
  current_requests_ += static_cast<double>(requests);
  current_tokens_ += static_cast<double>(tokens);
}

DeploymentLoad::Usage DeploymentLoad::usage(time_point now) const {
  const std::int64_t t = ns(now);
  const std::int64_t minute = t / kMinuteNs;
  std::lock_guard lock(mutex_);
  if (minute == minute_) {
    const double left = 1.0 - static_cast<double>(t % kMinuteNs) / kMinuteNs;
    return Usage{current_requests_ + previous_requests_ * left,
                 current_tokens_ + previous_tokens_ * left};
  }
  if (minute == minute_ + 1) {
    const double left = 1.0 - static_cast<double>(t % kMinuteNs) / kMinuteNs;
    return Usage{current_requests_ * left, current_tokens_ * left};
  }
  return Usage{};
}

}  // namespace sluice::route
