#include "limit/gcra.h"

#include <algorithm>
#include <limits>

#include "limit/gcra_math.h"

namespace sluice::limit {

namespace {

constexpr std::int64_t kUnlimited = std::numeric_limits<std::int64_t>::max();

// The TAT is the only state and no other memory is published through it: every read and
// compare-and-swap on it may be relaxed. Its modification order alone makes each decision act on
// the TAT it replaces. (Operations by name run under their shard's lock as well.)
constexpr auto kRelaxed = std::memory_order_relaxed;

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

// ---- On a bucket: lock-free ----
//
// Each reads the TAT, computes its successor with gcra_math.h and installs it only if the TAT is
// still the one it read; otherwise it decides again on the new one. A decision that changes
// nothing writes nothing, so refusals (and peeks) leave the cache line shared.

Decision GcraLimiter::acquire(GcraBucket& bucket, const Rate& rate, std::uint64_t cost,
                              time_point now) {
  if (rate.per_minute == 0) return unlimited();
  const GcraParams p = gcra_params(rate);
  const std::int64_t t = ns(now);
  std::int64_t seen = bucket.tat_ns.load(kRelaxed);
  for (;;) {
    const GcraStep step = gcra_decide(ahead_of(seen, t), p, cost);
    if (!step.decision.allowed) return step.decision;
    // A cost of 0 on a bucket never charged leaves nothing worth storing (and an entry by name
    // none to sweep).
    if (seen == kGcraFull && step.new_ahead == 0) return step.decision;
    const std::int64_t tat = t + step.new_ahead;
    if (tat == seen || bucket.tat_ns.compare_exchange_weak(seen, tat, kRelaxed)) {
      return step.decision;
    }
  }
}

void GcraLimiter::release(GcraBucket& bucket, const Rate& rate, std::uint64_t cost,
                          time_point now) {
  if (rate.per_minute == 0) return;
  const GcraParams p = gcra_params(rate);
  const std::int64_t t = ns(now);
  const std::int64_t span = gcra_span(p.interval, cost);
  std::int64_t seen = bucket.tat_ns.load(kRelaxed);
  // Never charged or in the past: the bucket is already full, there is nothing to give back.
  while (seen > t) {
    const std::int64_t tat = std::max(seen - span, t);
    if (tat == seen || bucket.tat_ns.compare_exchange_weak(seen, tat, kRelaxed)) return;
  }
}

void GcraLimiter::consume(GcraBucket& bucket, const Rate& rate, std::uint64_t cost,
                          time_point now) {
  if (rate.per_minute == 0 || cost == 0) return;
  const GcraParams p = gcra_params(rate);
  const std::int64_t t = ns(now);
  const std::int64_t span = gcra_span(p.interval, cost);
  std::int64_t seen = bucket.tat_ns.load(kRelaxed);
  for (;;) {
    // Unconditional, so it may run past the tolerance (and refuse the next requests until it is
    // paid off); capped like every span so repeated huge costs cannot overflow.
    const std::int64_t tat = t + std::min(ahead_of(seen, t) + span, kGcraMaxSpan);
    if (tat == seen || bucket.tat_ns.compare_exchange_weak(seen, tat, kRelaxed)) return;
  }
}

Decision GcraLimiter::peek(const GcraBucket& bucket, const Rate& rate, std::uint64_t cost,
                           time_point now) {
  if (rate.per_minute == 0) return unlimited();
  return gcra_decide(ahead_of(bucket.tat_ns.load(kRelaxed), ns(now)), gcra_params(rate), cost)
      .decision;
}

// ---- By name: the bucket under its shard's lock ----
//
// The lock is held through the operation so sweep() cannot remove the bucket in between (the
// change would be lost with it). An unknown name is decided on a full bucket of its own, which
// joins the map only when the operation stored something in it.

std::shared_ptr<GcraBucket> GcraLimiter::bucket(std::string_view key) {
  const Hashed k = hashed(key);
  Shard& shard = shard_of(k);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.buckets.find(k);
  if (it != shard.buckets.end()) return it->second;
  return shard.buckets.emplace(std::string(key), std::make_shared<GcraBucket>()).first->second;
}

Decision GcraLimiter::acquire(std::string_view key, const Rate& rate, std::uint64_t cost,
                              time_point now) {
  if (rate.per_minute == 0) return unlimited();
  const Hashed k = hashed(key);
  Shard& shard = shard_of(k);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.buckets.find(k);
  if (it != shard.buckets.end()) return acquire(*it->second, rate, cost, now);
  auto fresh = std::make_shared<GcraBucket>();
  const Decision d = acquire(*fresh, rate, cost, now);
  if (fresh->tat_ns.load(kRelaxed) != kGcraFull) shard.buckets.emplace(std::string(key), fresh);
  return d;
}

void GcraLimiter::release(std::string_view key, const Rate& rate, std::uint64_t cost,
                          time_point now) {
  if (rate.per_minute == 0) return;
  const Hashed k = hashed(key);
  Shard& shard = shard_of(k);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.buckets.find(k);
  // Unknown: the bucket is full, there is nothing to give back.
  if (it != shard.buckets.end()) release(*it->second, rate, cost, now);
}

void GcraLimiter::consume(std::string_view key, const Rate& rate, std::uint64_t cost,
                          time_point now) {
  if (rate.per_minute == 0 || cost == 0) return;
  const Hashed k = hashed(key);
  Shard& shard = shard_of(k);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.buckets.find(k);
  if (it != shard.buckets.end()) {
    consume(*it->second, rate, cost, now);
    return;
  }
  auto fresh = std::make_shared<GcraBucket>();
  consume(*fresh, rate, cost, now);
  shard.buckets.emplace(std::string(key), std::move(fresh));
}

Decision GcraLimiter::peek(std::string_view key, const Rate& rate, std::uint64_t cost,
                           time_point now) const {
  if (rate.per_minute == 0) return unlimited();
  const Hashed k = hashed(key);
  const Shard& shard = shard_of(k);
  std::lock_guard lock(shard.mutex);
  const auto it = shard.buckets.find(k);
  if (it != shard.buckets.end()) return peek(*it->second, rate, cost, now);
  return peek(GcraBucket{}, rate, cost, now);
}

std::size_t GcraLimiter::sweep(time_point now) {
  const std::int64_t t = ns(now);
  std::size_t removed = 0;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    removed += std::erase_if(shard.buckets, [t](const auto& entry) {
      // Held elsewhere: kept. With a count of 1 only the map holds it, and new references come
      // only from the map, under this lock (or as copies of a holder's), so the count cannot grow
      // while we decide.
      if (entry.second.use_count() != 1) return false;
      // The last other holder may have charged the bucket just before letting it go: its
      // release of the reference (a release operation) is what the count of 1 was read from, so
      // this fence makes that charge visible to the load below.
      std::atomic_thread_fence(std::memory_order_acquire);
      return entry.second->tat_ns.load(kRelaxed) <= t;
    });
  }
  return removed;
}

std::size_t GcraLimiter::size() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    n += shard.buckets.size();
  }
  return n;
}

}  // namespace sluice::limit
