// The health of a model's deployments (docs/routing.md, "Health"), shared by every worker:
//   - passive outlier ejection: `consecutive_failures` failures in a row eject a deployment for
//     base_ejection x (times it has been ejected), capped at max_ejection; never more than
//     max_ejection_percent of the group at once (but at least one may always be ejected);
//     a deployment that comes back and fails again is ejected for longer, one that stays good
//     for a while has its ejection count brought back down (as Envoy does);
//   - a circuit breaker per deployment: closed -> open when the failure ratio over the last
//     `window` reaches failure_ratio with at least min_requests; open -> half-open after
//     open_for; half-open admits half_open_probes requests at once; when all of them succeed
//     it closes, when one fails it opens again;
//   - cooldown: a 429 keeps requests away for its Retry-After (or `cooldown`), capped;
//   - active probes: unhealthy_after failed probes in a row mark it down, healthy_after good
//     ones bring it back.
// A deployment is available when none of these holds it back. A disabled outlier detector,
// breaker or prober (enabled = false) never holds one back.
//
// The precise rules (health.cc, circuit_breaker.h):
//   - the ejection limit is max(1, floor(max_ejection_percent x size / 100)) deployments ejected
//     at `now`; a deployment refused ejection keeps its count and tries again on its next failure;
//     failures reported while it is ejected (attempts sent before) are not counted;
//   - decay: for each base_ejection that passes after an ejection ends without a new one, the
//     ejection count goes down by one, so the next ejection is one step shorter;
//   - a 429 is neither a failure nor a success: it sets the cooldown and, for the breaker, ends
//     the attempt without a verdict (as on_abandoned); the consecutive failure count stays;
//   - admit() also refuses a member that is ejected, cooling down or probed down at `now`.
//
// What counts as a failure is the caller's call: connect errors, timeouts and 5xx answers are
// failures; 4xx answers other than 429 mean the deployment works and count as successes.
//
// Thread safety: every member is safe to call from any worker. available() is on every pick's
// path and is lock-free (atomic loads); the outcome calls take a short per-deployment lock.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "config/config.h"
#include "core/clock.h"

namespace sluice::route {

enum class BreakerState { kClosed, kOpen, kHalfOpen };
std::string_view breaker_state_name(BreakerState state);  // "closed", "open", "half-open"

class HealthGroup {
 public:
  using time_point = core::Clock::time_point;
  using Duration = std::chrono::milliseconds;

  HealthGroup(const config::Health& config, std::size_t members);
  ~HealthGroup();

  // Whether member `i` may be picked now. Lock-free.
  bool available(std::size_t i, time_point now) const;
  // Called for the picked member just before its attempt is sent. A half-open breaker admits
  // only its probe requests: false means this one was refused (pick another). Every admit()
  // that returned true is followed by exactly one of the four outcome calls below.
  bool admit(std::size_t i, time_point now);

  // Panic routing (Envoy's): when health holds back every deployment a request could still go
  // to, ejection, probes and cooldown are ignored, so that health alone never turns a working
  // upstream into errors; an open breaker still refuses (failing fast is its purpose).
  bool available_in_panic(std::size_t i, time_point now) const;
  bool admit_in_panic(std::size_t i, time_point now);

  void on_success(std::size_t i, time_point now);
  void on_failure(std::size_t i, time_point now);
  // A 429: cooldown for `retry_after` (capped at max_cooldown), or `cooldown` when absent. Not a
  // failure for ejection or the breaker.
  void on_rate_limited(std::size_t i, time_point now, std::optional<Duration> retry_after);
  // The attempt ended without a verdict (the client left, a hedge lost): frees a half-open slot.
  void on_abandoned(std::size_t i, time_point now);

  // An active probe's result.
  void on_probe(std::size_t i, bool ok, time_point now);

  // For /admin/deployments.
  struct MemberState {
    bool available = true;
    BreakerState breaker = BreakerState::kClosed;
    std::optional<time_point> ejected_until;
    std::optional<time_point> cooldown_until;
    bool probe_down = false;
    int consecutive_failures = 0;
    int times_ejected = 0;
    double failure_ratio = 0;  // over the breaker's window
  };
  MemberState state(std::size_t i, time_point now) const;
  std::size_t size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::route
