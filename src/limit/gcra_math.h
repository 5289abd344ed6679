// The arithmetic of GCRA (gcra.h), shared by the local limiter and the Redis one
// (redis_gcra.h) so both give the same decision for the same bucket: a decision depends only on
// how far the bucket's theoretical arrival time (TAT) lies ahead of now, in integer nanoseconds.
// Pure functions; no state, no thread-safety concerns.
#pragma once

#include <cstdint>

#include "limit/gcra.h"

namespace sluice::limit {

// Spans (cost or burst x interval) saturate at 2^61 ns, about 73 years: far beyond any limit
// that means anything, and TAT + span + span stays inside int64 for any steady-clock reading.
inline constexpr std::int64_t kGcraMaxSpan = std::int64_t{1} << 61;

// The integer parameters of a rate with per_minute > 0.
struct GcraParams {
  std::int64_t interval;   // emission interval: the cost of one unit, in ns (>= 1)
  std::int64_t tolerance;  // how far ahead of now the TAT may run: burst x interval
  std::uint64_t burst;
};

GcraParams gcra_params(const Rate& rate);

// n x interval, saturating at kGcraMaxSpan; interval >= 1.
std::int64_t gcra_span(std::int64_t interval, std::uint64_t n);

struct GcraStep {
  Decision decision;
  std::int64_t new_ahead;  // how far ahead of now the TAT lies once the cost is taken (if allowed)
};

// The whole algorithm: the decision on taking `cost` units from a bucket whose TAT lies `ahead`
// ns after now (0 for a full bucket or no entry; never negative).
GcraStep gcra_decide(std::int64_t ahead, const GcraParams& p, std::uint64_t cost);

// The decision reported for a charge of an all-or-nothing acquire that was refused, when nothing
// was taken: a charge that would have been refused by itself says so (with its retry_after); one
// that would have been allowed says allowed, with the bucket as it stands (remaining and reset
// before any cost, since none was taken).
Decision gcra_untaken(std::int64_t ahead, const GcraParams& p, std::uint64_t cost);

}  // namespace sluice::limit
