#include "limit/gcra.h"

#include <algorithm>
#include <limits>

#include "limit/gcra_math.h"

namespace sluice::limit {

namespace {

constexpr std::int64_t kUnlimited = std::numeric_limits<std::int64_t>::max();
// Stands for "no entry": any now is after it, so the TAT becomes now.
constexpr std::int64_t kAbsent = std::numeric_limits<std::int64_t>::min();

std::int64_t ns(core::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// How far `stored_tat` lies ahead of `now`: 0 when it is in the past (a full bucket).
std::int64_t ahead_of(std::int64_t stored_tat, std::int64_t now) {
  return stored_tat > now ? stored_tat - now : 0;
}

Decision unlimited() {
  return Decision{true, kUnlimited, std::chrono::milliseconds(0), std::chrono::milliseconds(0)};
}

}  // namespace

Decision GcraLimiter::acquire(std::string_view key, const Rate& rate, std::uint64_t cost,
                              time_point now) {
  if (rate.per_minute == 0) return unlimited();
  const GcraParams p = gcra_params(rate);
  const std::int64_t t = ns(now);
  const Hashed k = hashed(key);
  Shard& shard = shard_of(k);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.tat_ns.find(k);
  const GcraStep step =
      gcra_decide(ahead_of(it == shard.tat_ns.end() ? kAbsent : it->second, t), p, cost);
  if (step.decision.allowed) {
    if (it != shard.tat_ns.end()) {
      it->second = t + step.new_ahead;
    } else if (step.new_ahead > 0) {  // a cost of 0 on a new key leaves nothing worth storing
      shard.tat_ns.emplace(std::string(key), t + step.new_ahead);
    }
  }
  return step.decision;
}

void GcraLimiter::release(std::string_view key, const Rate& rate, std::uint64_t cost,
                          time_point now) {
  if (rate.per_minute == 0) return;
  const GcraParams p = gcra_params(rate);
  const std::int64_t t = ns(now);
  const Hashed k = hashed(key);
  Shard& shard = shard_of(k);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.tat_ns.find(k);
  // Absent or in the past: the bucket is already full, there is nothing to give back.
  if (it == shard.tat_ns.end() || it->second <= t) return;
  it->second = std::max(it->second - gcra_span(p.interval, cost), t);
}

void GcraLimiter::consume(std::string_view key, const Rate& rate, std::uint64_t cost,
                          time_point now) {
  if (rate.per_minute == 0 || cost == 0) return;
  const GcraParams p = gcra_params(rate);
  const std::int64_t t = ns(now);
  const Hashed k = hashed(key);
  Shard& shard = shard_of(k);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.tat_ns.find(k);
  const std::int64_t ahead = ahead_of(it == shard.tat_ns.end() ? kAbsent : it->second, t);
  // Unconditional, so it may run past the tolerance (and refuse the next requests until it is
  // paid off); capped like every span so repeated huge costs cannot overflow.
  const std::int64_t tat = t + std::min(ahead + gcra_span(p.interval, cost), kGcraMaxSpan);
  if (it != shard.tat_ns.end()) {
    it->second = tat;
  } else {
    shard.tat_ns.emplace(std::string(key), tat);
  }
}

Decision GcraLimiter::peek(std::string_view key, const Rate& rate, std::uint64_t cost,
                           time_point now) const {
  if (rate.per_minute == 0) return unlimited();
  const GcraParams p = gcra_params(rate);
  const Hashed k = hashed(key);
  const Shard& shard = shard_of(k);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.tat_ns.find(k);
  return gcra_decide(ahead_of(it == shard.tat_ns.end() ? kAbsent : it->second, ns(now)), p, cost)
      .decision;
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
