#include "route/adaptive_limit.h"

#include <algorithm>
#include <cmath>

namespace sluice::route {

namespace {

// EWMA weights 2 / (N + 1), the usual match of an exponential average to an N-sample window.
constexpr double kShortAlpha = 2.0 / (10 + 1);
constexpr double kLongAlpha = 2.0 / (600 + 1);
// How far each sample moves the limit toward its target: enough to follow a change within tens
// of samples, little enough that one slow answer does not halve the limit.
constexpr double kSmoothing = 0.2;
// Gradient2's recovery: once the recent latency is under half the long-run one, the long-run
// average still remembers the overload and would hide the next one; it decays 5% per sample.
constexpr double kDriftRatio = 2.0;
constexpr double kDriftDecay = 0.95;

}  // namespace

AdaptiveLimit::AdaptiveLimit(const config::AdaptiveConcurrency& config)
    : config_(config),
      limit_(std::max(config.min_limit, std::min(config.initial_limit, config.max_limit))),
      estimate_(limit_.load(std::memory_order_relaxed)) {
  // A misconfigured max below min would make std::clamp undefined; min wins.
  config_.max_limit = std::max(config_.max_limit, config_.min_limit);
}

void AdaptiveLimit::on_sample(std::chrono::nanoseconds rtt, int in_flight) {
  // A zero latency (a coarse clock) would divide by zero below.
  const double sample = static_cast<double>(std::max<std::int64_t>(rtt.count(), 1));
  std::lock_guard lock(mutex_);
  if (samples_++ == 0) {
    short_rtt_ = long_rtt_ = sample;
  } else {
    short_rtt_ += (sample - short_rtt_) * kShortAlpha;
    long_rtt_ += (sample - long_rtt_) * kLongAlpha;
  }
  if (long_rtt_ / short_rtt_ > kDriftRatio) long_rtt_ *= kDriftDecay;

  if (in_flight < estimate_ / 2) return;

  const double gradient = std::clamp(config_.tolerance * long_rtt_ / short_rtt_, 0.5, 1.0);
  const double target = estimate_ * gradient + std::sqrt(estimate_);
  estimate_ = estimate_ * (1 - kSmoothing) + target * kSmoothing;
  estimate_ = std::clamp(estimate_, static_cast<double>(config_.min_limit),
                         static_cast<double>(config_.max_limit));
  limit_.store(std::max(config_.min_limit, static_cast<int>(std::lround(estimate_))),
               std::memory_order_relaxed);
}

}  // namespace sluice::route
