#include "limit/gcra.h"

#include <algorithm>
#include <limits>

namespace sluice::limit {

namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr std::int64_t kMinuteNs = 60'000'000'000;
// Spans (cost or burst x interval) saturate at 2^61 ns, about 73 years: far beyond any limit
// that means anything, and TAT + span + span stays inside int64 for any steady-clock reading.
constexpr std::int64_t kMaxSpan = std::int64_t{1} << 61;
constexpr std::int64_t kUnlimited = std::numeric_limits<std::int64_t>::max();
// Stands for "no entry": any now is after it, so the TAT becomes now.
constexpr std::int64_t kAbsent = std::numeric_limits<std::int64_t>::min();

std::int64_t ns(core::Clock::time_point t) {
  return std::chrono::duration_cast<nanoseconds>(t.time_since_epoch()).count();
}

milliseconds ceil_ms(std::int64_t span_ns) {
  return std::chrono::ceil<milliseconds>(nanoseconds(span_ns));
}

// n x interval, saturating at kMaxSpan; interval >= 1.
std::int64_t span(std::int64_t interval, std::uint64_t n) {
  if (n >= static_cast<std::uint64_t>(kMaxSpan / interval)) return kMaxSpan;
  return interval * static_cast<std::int64_t>(n);
}

// The integer parameters of a rate with per_minute > 0.
struct Params {
  std::int64_t interval;   // emission interval: the cost of one unit, in ns
  std::int64_t tolerance;  // how far ahead of now the TAT may run: burst x interval
  std::uint64_t burst;
};

Params params_of(const Rate& rate) {
  // Above 6e10 per minute the interval would round to 0; one unit per nanosecond is the
  // finest rate this can express, and far more than anything will ask for.
  const auto per_ns = static_cast<std::uint64_t>(kMinuteNs);
  const std::int64_t interval =
      rate.per_minute >= per_ns ? 1 : kMinuteNs / static_cast<std::int64_t>(rate.per_minute);
  const std::uint64_t burst = rate.burst == 0 ? rate.per_minute : rate.burst;
  return Params{interval, span(interval, burst), burst};
}

struct Outcome {
  Decision decision;
  std::int64_t new_tat;  // to store when allowed
};

// The whole algorithm, pure: acquire() stores new_tat when allowed, peek() does not.
Outcome decide(std::int64_t stored_tat, std::int64_t now, const Params& p, std::uint64_t cost) {
  const std::int64_t tat = std::max(stored_tat, now);
  // Units left when the TAT is `ahead` ns after now. Floored, so a fraction of a unit that has
  // come back does not count until it is whole. Past the tolerance (the rate was lowered since
  // the TAT was set) nothing is left.
  const auto remaining = [&](std::int64_t ahead) -> std::int64_t {
    return ahead >= p.tolerance ? 0 : (p.tolerance - ahead) / p.interval;
  };
  const auto refused = [&](milliseconds retry_after) {
    return Outcome{Decision{false, remaining(tat - now), retry_after, ceil_ms(tat - now)}, tat};
  };
  // Never allowed, however long the caller waits; saying so spares it a pointless retry.
  if (cost > p.burst) return refused(milliseconds::max());
  const std::int64_t new_tat = tat + span(p.interval, cost);
  const std::int64_t allow_at = new_tat - p.tolerance;
  if (allow_at > now) return refused(ceil_ms(allow_at - now));
  return Outcome{Decision{true, remaining(new_tat - now), milliseconds(0), ceil_ms(new_tat - now)},
                 new_tat};
}

Decision unlimited() { return Decision{true, kUnlimited, milliseconds(0), milliseconds(0)}; }

}  // namespace

GcraLimiter::Shard& GcraLimiter::shard_of(std::string_view key) {
  // The top bits: the map itself buckets by the low bits of the same hash.
  return shards_[(StringHash{}(key) >> 58) % kShards];
}

const GcraLimiter::Shard& GcraLimiter::shard_of(std::string_view key) const {
  return const_cast<GcraLimiter*>(this)->shard_of(key);
}

Decision GcraLimiter::acquire(std::string_view key, const Rate& rate, std::uint64_t cost,
                              time_point now) {
  if (rate.per_minute == 0) return unlimited();
  const Params p = params_of(rate);
  const std::int64_t t = ns(now);
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.tat_ns.find(key);
  const Outcome out = decide(it == shard.tat_ns.end() ? kAbsent : it->second, t, p, cost);
  if (out.decision.allowed) {
    if (it != shard.tat_ns.end()) {
      it->second = out.new_tat;
    } else if (out.new_tat > t) {  // a cost of 0 on a new key leaves nothing worth storing
      shard.tat_ns.emplace(std::string(key), out.new_tat);
    }
  }
  return out.decision;
}

void GcraLimiter::release(std::string_view key, const Rate& rate, std::uint64_t cost,
                          time_point now) {
  if (rate.per_minute == 0) return;
  const Params p = params_of(rate);
  const std::int64_t t = ns(now);
  Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.tat_ns.find(key);
  // Absent or in the past: the bucket is already full, there is nothing to give back.
  if (it == shard.tat_ns.end() || it->second <= t) return;
  it->second = std::max(it->second - span(p.interval, cost), t);
}

Decision GcraLimiter::peek(std::string_view key, const Rate& rate, std::uint64_t cost,
                           time_point now) const {
  if (rate.per_minute == 0) return unlimited();
  const Params p = params_of(rate);
  const Shard& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.tat_ns.find(key);
  return decide(it == shard.tat_ns.end() ? kAbsent : it->second, ns(now), p, cost).decision;
}

std::size_t GcraLimiter::sweep(time_point now) {
  const std::int64_t t = ns(now);
  std::size_t removed = 0;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    removed += std::erase_if(shard.tat_ns, [t](const auto& entry) { return entry.second <= t; });
  }
  return removed;
}

std::size_t GcraLimiter::size() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    n += shard.tat_ns.size();
  }
  return n;
}

}  // namespace sluice::limit
