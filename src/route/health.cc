#include "route/health.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstdint>
#include <limits>
#include <mutex>

#include "route/circuit_breaker.h"

namespace sluice::route {

namespace {

// "Not set" for the until-timestamps: earlier than any time a clock can give, so `now < until`
// is simply false.
constexpr std::int64_t kNone = std::numeric_limits<std::int64_t>::min();

std::int64_t ns(core::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::int64_t ns(config::Duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

core::Clock::time_point at(std::int64_t t) {
  return core::Clock::time_point(
      std::chrono::duration_cast<core::Clock::duration>(std::chrono::nanoseconds(t)));
}

// One deployment. The atomics are what available() reads without a lock; they are written only
// under `mutex`, which also guards the plain fields.
struct Member {
  explicit Member(const config::CircuitBreaker& config) : breaker(config) {}

  std::atomic<std::int64_t> ejected_until_ns{kNone};
  std::atomic<std::int64_t> cooldown_until_ns{kNone};
  std::atomic<bool> probe_down{false};

  mutable std::mutex mutex;
  CircuitBreaker breaker;  // its own atomics serve available(); its writes happen under `mutex`
  int consecutive_failures = 0;
  int times_ejected = 0;
  // Decay of times_ejected: one is taken off per base_ejection that has passed since this
  // moment, which is the end of the last ejection, moved on by each step taken.
  std::int64_t decay_from_ns = 0;
  int probe_failures = 0;   // consecutive failed probes
  int probe_successes = 0;  // consecutive good probes
};

}  // namespace

std::string_view breaker_state_name(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half-open";
  }
  return "closed";
}

struct HealthGroup::Impl {
  Impl(const config::Health& config, std::size_t n)
      : outlier_enabled(config.outlier.enabled),
        consecutive_failures(std::max(config.outlier.consecutive_failures, 1)),
        base_ejection_ns(std::max<std::int64_t>(ns(config.outlier.base_ejection), 1)),
        max_ejection_ns(std::max<std::int64_t>(ns(config.outlier.max_ejection), 0)),
        // Integer percent of the group, rounded down, but one may always be ejected: with
        // three deployments and 10% a single bad one must still be avoidable.
        max_ejected(std::clamp<std::size_t>(
            static_cast<std::size_t>(std::max(config.outlier.max_ejection_percent, 0)) * n / 100, 1,
            std::max<std::size_t>(n, 1))),
        cooldown_ns(std::max<std::int64_t>(ns(config.cooldown), 0)),
        max_cooldown_ns(std::max<std::int64_t>(ns(config.max_cooldown), 0)),
        probe_enabled(config.probe.enabled),
        unhealthy_after(std::max(config.probe.unhealthy_after, 1)),
        healthy_after(std::max(config.probe.healthy_after, 1)),
        size(n),
        members(std::make_unique<std::unique_ptr<Member>[]>(n)) {
    for (std::size_t i = 0; i < n; ++i) members[i] = std::make_unique<Member>(config.breaker);
  }

  Member& member(std::size_t i) const {
    assert(i < size);
    return *members[i];
  }

  // times_ejected at `t` with the decay applied, without changing anything (for state()).
  int decayed_times(const Member& m, std::int64_t t) const {
    if (m.times_ejected == 0 || t < m.decay_from_ns) return m.times_ejected;
    const std::int64_t steps = (t - m.decay_from_ns) / base_ejection_ns;
    return static_cast<int>(std::max<std::int64_t>(m.times_ejected - steps, 0));
  }

  void apply_decay(Member& m, std::int64_t t) const {
    const int now_times = decayed_times(m, t);
    m.decay_from_ns += (m.times_ejected - now_times) * base_ejection_ns;
    m.times_ejected = now_times;
  }

  // base x times, capped; computed so that a long history cannot overflow.
  std::int64_t ejection_ns(int times) const {
    if (times > max_ejection_ns / base_ejection_ns) return max_ejection_ns;
    return std::min(base_ejection_ns * times, max_ejection_ns);
  }

  // Ejects `self` (whose lock the caller holds) unless max_ejected others are out at `t`.
  // eject_mutex makes count-then-eject atomic across the group, so two deployments failing at
  // the same moment cannot both slip under the limit. It is taken only at the threshold.
  void try_eject(std::size_t self, Member& m, std::int64_t t) {
    std::lock_guard group_lock(eject_mutex);
    std::size_t ejected = 0;
    for (std::size_t j = 0; j < size; ++j) {
      if (j != self && t < members[j]->ejected_until_ns.load(std::memory_order_relaxed)) {
        ++ejected;
      }
    }
    if (ejected >= max_ejected) return;  // the count stays: the next failure tries again
    ++m.times_ejected;
    const std::int64_t until = t + ejection_ns(m.times_ejected);
    m.ejected_until_ns.store(until, std::memory_order_relaxed);
    m.decay_from_ns = until;
    m.consecutive_failures = 0;
  }

  const bool outlier_enabled;
  const int consecutive_failures;
  const std::int64_t base_ejection_ns;
  const std::int64_t max_ejection_ns;
  const std::size_t max_ejected;
  const std::int64_t cooldown_ns;
  const std::int64_t max_cooldown_ns;
  const bool probe_enabled;
  const int unhealthy_after;
  const int healthy_after;
  const std::size_t size;
  // Each Member on its own allocation: a worker updating one deployment does not bounce the
  // cache line another worker is reading for its neighbour.
  std::unique_ptr<std::unique_ptr<Member>[]> members;
  std::mutex eject_mutex;
};

HealthGroup::HealthGroup(const config::Health& config, std::size_t members)
    : impl_(std::make_unique<Impl>(config, members)) {}

HealthGroup::~HealthGroup() = default;

std::size_t HealthGroup::size() const { return impl_->size; }

// Relaxed loads: whether a deployment is picked is advisory, a pick may race with a change
// either way, and admit() and the outcomes settle it under the lock.
bool HealthGroup::available(std::size_t i, time_point now) const {
  const Member& m = impl_->member(i);
  const std::int64_t t = ns(now);
  if (t < m.ejected_until_ns.load(std::memory_order_relaxed)) return false;
  if (t < m.cooldown_until_ns.load(std::memory_order_relaxed)) return false;
  if (m.probe_down.load(std::memory_order_relaxed)) return false;
  return m.breaker.available(now);
}

bool HealthGroup::admit(std::size_t i, time_point now) {
  Member& m = impl_->member(i);
  const std::int64_t t = ns(now);
  // The common case, a closed breaker and nothing else holding it back, takes no lock.
  if (m.breaker.state(now) == BreakerState::kClosed && available(i, now)) return true;
  std::lock_guard lock(m.mutex);
  // Held back for another reason since it was picked: refuse before taking a probe slot.
  if (t < m.ejected_until_ns.load(std::memory_order_relaxed) ||
      t < m.cooldown_until_ns.load(std::memory_order_relaxed) ||
      m.probe_down.load(std::memory_order_relaxed)) {
    return false;
  }
  return m.breaker.admit(now);
}

bool HealthGroup::available_in_panic(std::size_t i, time_point now) const {
  return impl_->member(i).breaker.available(now);
}

bool HealthGroup::admit_in_panic(std::size_t i, time_point now) {
  Member& m = impl_->member(i);
  std::lock_guard lock(m.mutex);
  return m.breaker.admit(now);
}

void HealthGroup::on_success(std::size_t i, time_point now) {
  Member& m = impl_->member(i);
  std::lock_guard lock(m.mutex);
  m.breaker.on_success(now);
  m.consecutive_failures = 0;
  impl_->apply_decay(m, ns(now));
}

void HealthGroup::on_failure(std::size_t i, time_point now) {
  Member& m = impl_->member(i);
  const std::int64_t t = ns(now);
  std::lock_guard lock(m.mutex);
  m.breaker.on_failure(now);
  if (!impl_->outlier_enabled) return;
  // Failures of attempts sent before the ejection say nothing new; counting them would eject it
  // again the moment it comes back.
  if (t < m.ejected_until_ns.load(std::memory_order_relaxed)) return;
  impl_->apply_decay(m, t);
  if (++m.consecutive_failures >= impl_->consecutive_failures) impl_->try_eject(i, m, t);
}

void HealthGroup::on_rate_limited(std::size_t i, time_point now,
                                  std::optional<Duration> retry_after) {
  Member& m = impl_->member(i);
  const std::int64_t t = ns(now);
  std::int64_t wait =
      retry_after ? std::max<std::int64_t>(ns(*retry_after), 0) : impl_->cooldown_ns;
  wait = std::min(wait, impl_->max_cooldown_ns);
  std::lock_guard lock(m.mutex);
  m.cooldown_until_ns.store(t + wait, std::memory_order_relaxed);
  // Neither a failure nor proof of health: for the breaker it is an attempt without a verdict.
  m.breaker.on_abandoned(now);
}

void HealthGroup::on_abandoned(std::size_t i, time_point now) {
  Member& m = impl_->member(i);
  std::lock_guard lock(m.mutex);
  m.breaker.on_abandoned(now);
}

void HealthGroup::on_probe(std::size_t i, bool ok, time_point) {
  if (!impl_->probe_enabled) return;
  Member& m = impl_->member(i);
  std::lock_guard lock(m.mutex);
  // The streaks are capped at their thresholds: beyond them they change nothing.
  if (ok) {
    m.probe_failures = 0;
    m.probe_successes = std::min(m.probe_successes + 1, impl_->healthy_after);
    if (m.probe_successes >= impl_->healthy_after) {
      m.probe_down.store(false, std::memory_order_relaxed);
    }
  } else {
    m.probe_successes = 0;
    m.probe_failures = std::min(m.probe_failures + 1, impl_->unhealthy_after);
    if (m.probe_failures >= impl_->unhealthy_after) {
      m.probe_down.store(true, std::memory_order_relaxed);
    }
  }
}

HealthGroup::MemberState HealthGroup::state(std::size_t i, time_point now) const {
  const Member& m = impl_->member(i);
  const std::int64_t t = ns(now);
  std::lock_guard lock(m.mutex);
  MemberState s;
  s.available = available(i, now);
  s.breaker = m.breaker.state(now);
  if (std::int64_t until = m.ejected_until_ns.load(std::memory_order_relaxed); t < until) {
    s.ejected_until = at(until);
  }
  if (std::int64_t until = m.cooldown_until_ns.load(std::memory_order_relaxed); t < until) {
    s.cooldown_until = at(until);
  }
  s.probe_down = m.probe_down.load(std::memory_order_relaxed);
  s.consecutive_failures = m.consecutive_failures;
  s.times_ejected = impl_->decayed_times(m, t);
  s.failure_ratio = m.breaker.failure_ratio(now);
  return s;
}

}  // namespace sluice::route
