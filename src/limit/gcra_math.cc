#include "limit/gcra_math.h"

#include <chrono>

namespace sluice::limit {

namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr std::int64_t kMinuteNs = 60'000'000'000;

milliseconds ceil_ms(std::int64_t span_ns) {
  return std::chrono::ceil<milliseconds>(nanoseconds(span_ns));
}

}  // namespace

std::int64_t gcra_span(std::int64_t interval, std::uint64_t n) {
  if (n >= static_cast<std::uint64_t>(kGcraMaxSpan / interval)) return kGcraMaxSpan;
  return interval * static_cast<std::int64_t>(n);
}

GcraParams gcra_params(const Rate& rate) {
  // Above 6e10 per minute the interval would round to 0; one unit per nanosecond is the
  // finest rate this can express, and far more than anything will ask for.
  const auto per_ns = static_cast<std::uint64_t>(kMinuteNs);
  const std::int64_t interval =
      rate.per_minute >= per_ns ? 1 : kMinuteNs / static_cast<std::int64_t>(rate.per_minute);
  const std::uint64_t burst = rate.burst == 0 ? rate.per_minute : rate.burst;
  return GcraParams{interval, gcra_span(interval, burst), burst};
}

GcraStep gcra_decide(std::int64_t ahead, const GcraParams& p, std::uint64_t cost) {
  // Units left when the TAT is `a` ns after now. Floored, so a fraction of a unit that has come
  // back does not count until it is whole. Past the tolerance (the rate was lowered since the
  // TAT was set) nothing is left.
  const auto remaining = [&](std::int64_t a) -> std::int64_t {
    return a >= p.tolerance ? 0 : (p.tolerance - a) / p.interval;
  };
  const auto refused = [&](milliseconds retry_after) {
    return GcraStep{Decision{false, remaining(ahead), retry_after, ceil_ms(ahead)}, ahead};
  };
  // Never allowed, however long the caller waits; saying so spares it a pointless retry.
  if (cost > p.burst) return refused(milliseconds::max());
  const std::int64_t new_ahead = ahead + gcra_span(p.interval, cost);
  const std::int64_t allow_at = new_ahead - p.tolerance;
  if (allow_at > 0) return refused(ceil_ms(allow_at));
  return GcraStep{Decision{true, remaining(new_ahead), milliseconds(0), ceil_ms(new_ahead)},
                  new_ahead};
}

Decision gcra_untaken(std::int64_t ahead, const GcraParams& p, std::uint64_t cost) {
  const Decision alone = gcra_decide(ahead, p, cost).decision;
  // Allowed alone means ahead + cost fits the tolerance, so the bucket as it stands does too.
  return alone.allowed ? gcra_decide(ahead, p, 0).decision : alone;
}

}  // namespace sluice::limit
