#include "route/circuit_breaker.h"

#include <algorithm>
#include <chrono>

namespace sluice::route {

namespace {

std::int64_t ns(core::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::int64_t ns(config::Duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// Floor division, so that times before the clock's epoch (never on a steady clock, but possible
// with a hand-built time_point) still land in the right bucket.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

}  // namespace

CircuitBreaker::CircuitBreaker(const config::CircuitBreaker& config)
    : enabled_(config.enabled),
      failure_ratio_(config.failure_ratio),
      // A breaker that opens on zero requests would never close: at least one is needed.
      min_requests_(static_cast<std::uint64_t>(std::max(config.min_requests, 1))),
      bucket_ns_(std::max<std::int64_t>(ns(config.window) / kBuckets, 1)),
      open_for_ns_(std::max<std::int64_t>(ns(config.open_for), 0)),
      half_open_probes_(std::max(config.half_open_probes, 1)) {}

// The lock-free reads are advisory (a pick may race with a state change either way; admit()
// decides under the lock), so relaxed loads would do, except that open() publishes the time it
// turns half-open before the state: acquiring the state then never pairs "open" with the
// previous opening's, already past, half_open_at.
BreakerState CircuitBreaker::state(time_point now) const {
  if (!enabled_) return BreakerState::kClosed;
  BreakerState s = state_.load(std::memory_order_acquire);
  if (s == BreakerState::kOpen && ns(now) >= half_open_at_ns_.load(std::memory_order_relaxed)) {
    return BreakerState::kHalfOpen;
  }
  return s;
}

bool CircuitBreaker::available(time_point now) const {
  switch (state(now)) {
    case BreakerState::kClosed:
      return true;
    case BreakerState::kOpen:
      return false;
    case BreakerState::kHalfOpen:
      // Still marked open means it has just turned half-open and no probe is out yet.
      return state_.load(std::memory_order_relaxed) == BreakerState::kOpen ||
             probes_in_flight_.load(std::memory_order_relaxed) < half_open_probes_;
  }
  return true;
}

bool CircuitBreaker::admit(time_point now) {
  if (!enabled_) return true;
  refresh(ns(now));
  switch (state_.load(std::memory_order_relaxed)) {
    case BreakerState::kClosed:
      return true;
    case BreakerState::kOpen:
      return false;
    case BreakerState::kHalfOpen: {
      int in_flight = probes_in_flight_.load(std::memory_order_relaxed);
      if (in_flight >= half_open_probes_) return false;
      probes_in_flight_.store(in_flight + 1, std::memory_order_relaxed);
      return true;
    }
  }
  return true;
}

void CircuitBreaker::on_success(time_point now) {
  if (!enabled_) return;
  const std::int64_t t = ns(now);
  refresh(t);
  switch (state_.load(std::memory_order_relaxed)) {
    case BreakerState::kClosed:
      // A success can still complete min_requests with the ratio above the threshold.
      record(t, false);
      break;
    case BreakerState::kOpen:
      break;  // an attempt admitted before it opened; it proves nothing about open_for
    case BreakerState::kHalfOpen:
      if (int n = probes_in_flight_.load(std::memory_order_relaxed); n > 0) {
        probes_in_flight_.store(n - 1, std::memory_order_relaxed);
      }
      if (++probe_successes_ >= half_open_probes_) close();
      break;
  }
}

void CircuitBreaker::on_failure(time_point now) {
  if (!enabled_) return;
  const std::int64_t t = ns(now);
  refresh(t);
  switch (state_.load(std::memory_order_relaxed)) {
    case BreakerState::kClosed:
      record(t, true);
      break;
    case BreakerState::kOpen:
      break;  // already open; a late failure does not extend open_for
    case BreakerState::kHalfOpen:
      open(t);
      break;
  }
}

void CircuitBreaker::on_abandoned(time_point now) {
  if (!enabled_) return;
  refresh(ns(now));
  if (state_.load(std::memory_order_relaxed) != BreakerState::kHalfOpen) return;
  if (int n = probes_in_flight_.load(std::memory_order_relaxed); n > 0) {
    probes_in_flight_.store(n - 1, std::memory_order_relaxed);
  }
}

double CircuitBreaker::failure_ratio(time_point now) const {
  Totals sum = totals(ns(now));
  return sum.requests == 0 ? 0.0
                           : static_cast<double>(sum.failures) / static_cast<double>(sum.requests);
}

void CircuitBreaker::refresh(std::int64_t now_ns) {
  if (state_.load(std::memory_order_relaxed) == BreakerState::kOpen &&
      now_ns >= half_open_at_ns_.load(std::memory_order_relaxed)) {
    probe_successes_ = 0;
    probes_in_flight_.store(0, std::memory_order_relaxed);
    state_.store(BreakerState::kHalfOpen, std::memory_order_relaxed);
  }
}

void CircuitBreaker::record(std::int64_t now_ns, bool failed) {
  const std::int64_t epoch = floor_div(now_ns, bucket_ns_);
  Bucket& b = ring_[static_cast<std::size_t>(((epoch % kBuckets) + kBuckets) % kBuckets)];
  if (b.epoch != epoch) b = Bucket{epoch, 0, 0};
  ++b.requests;
  if (failed) ++b.failures;

  Totals sum = totals(now_ns);
  if (sum.requests >= min_requests_ &&
      static_cast<double>(sum.failures) >= failure_ratio_ * static_cast<double>(sum.requests)) {
    open(now_ns);
  }
}

CircuitBreaker::Totals CircuitBreaker::totals(std::int64_t now_ns) const {
  const std::int64_t epoch = floor_div(now_ns, bucket_ns_);
  Totals sum;
  for (const Bucket& b : ring_) {
    if (b.epoch > epoch - kBuckets && b.epoch <= epoch) {
      sum.requests += b.requests;
      sum.failures += b.failures;
    }
  }
  return sum;
}

void CircuitBreaker::open(std::int64_t now_ns) {
  probe_successes_ = 0;
  probes_in_flight_.store(0, std::memory_order_relaxed);
  half_open_at_ns_.store(now_ns + open_for_ns_, std::memory_order_relaxed);
  state_.store(BreakerState::kOpen, std::memory_order_release);
}

void CircuitBreaker::close() {
  // The failures that opened it are history: the deployment has just proven itself.
  ring_.fill(Bucket{});
  probe_successes_ = 0;
  probes_in_flight_.store(0, std::memory_order_relaxed);
  state_.store(BreakerState::kClosed, std::memory_order_relaxed);
}

}  // namespace sluice::route
