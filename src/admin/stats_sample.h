// One reading of the gateway's metrics for the performance API (GET /admin/stats,
// docs/observability.md, "Performance API"): the running totals it reports on, read from the
// metrics registry's in-process API (never from the text exposition), and the arithmetic on them:
// the difference of two readings (a window) and percentiles from histogram buckets.
//
// Everything counts inference requests only (chat, completions, embeddings, images): the
// dashboard's own polling of /admin/ and scrapes of /metrics are not traffic.
//
// Percentiles: a histogram keeps how many observations fell in each bucket, not the
// observations, so a percentile is estimated as Prometheus's histogram_quantile does: find the
// bucket that holds the rank, and interpolate linearly between its bounds. The estimate always
// lies in the bucket that holds the true value; with the latency buckets (0.5 ms to 60 s, about
// 2.5x apart) it can be off by up to that bucket's width (between 10 ms and 25 ms: up to 15 ms).
// Past the last bound (60 s) the answer is the last bound.
//
// Thread safety: read_sample and read_usage may run on any thread (the registry's reads are);
// the rest are pure functions and plain values.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/clock.h"
#include "gateway/gateway_metrics.h"
#include "metrics/metrics_registry.h"

namespace sluice::admin {

// A histogram's observations by bucket (not cumulative): one count per bound, then the overflow.
struct BucketCounts {
  std::vector<std::uint64_t> counts;
  std::uint64_t sum = 0;  // in nanoseconds

  std::uint64_t total() const;
  // this - older, bucket by bucket (a bucket missing from one side counts as 0).
  BucketCounts minus(const BucketCounts& older) const;
};

// The q-quantile (0 <= q <= 1) of the observations in `buckets`, whose bounds are `bounds` (in
// seconds, increasing), interpolated linearly inside the bucket that holds rank q x N; the lower
// bound of the first bucket is 0. nullopt when there are no observations.
std::optional<double> quantile(double q, const BucketCounts& buckets,
                               std::span<const double> bounds);

// Running totals since the registry started counting, as the integers it records.
struct Totals {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;         // answered with a status of 500 or more
  std::uint64_t client_errors = 0;  // 400 to 499, 429 included
  std::uint64_t hits = 0, misses = 0;
  std::uint64_t coalesced = 0, rate_limited = 0, retries = 0;
  std::uint64_t input_tokens = 0, output_tokens = 0;
  std::uint64_t cost_nano_usd = 0, saved_nano_usd = 0;
  BucketCounts latency;  // sluice_request_duration_seconds
  BucketCounts ttft;     // sluice_time_to_first_token_seconds
  std::array<std::uint64_t, gateway::kStageNames.size()> stage_ns{};

  // What happened between `older` and this reading.
  Totals minus(const Totals& older) const;
};

struct StatsSample {
  core::Clock::time_point at{};
  std::int64_t unix_ms = 0;
  Totals totals;
};

// Per model alias and per key id, for the top lists.
struct ModelUsage {
  std::uint64_t requests = 0, tokens = 0, cost_nano_usd = 0;
};
struct KeyUsage {
  std::uint64_t requests = 0, cost_nano_usd = 0;
};
struct Usage {
  core::Clock::time_point at{};
  std::map<std::string, ModelUsage, std::less<>> models;
  std::map<std::string, KeyUsage, std::less<>> keys;

  // this - older, per name (a name only here counts from 0).
  Usage minus(const Usage& older) const;
};

// The registry's totals now. Families that were not declared read as zero.
StatsSample read_sample(const metrics::MetricsRegistry& registry, const core::Clock& clock);
Usage read_usage(const metrics::MetricsRegistry& registry, const core::Clock& clock);

// The bounds of the latency histograms, in seconds.
std::span<const double> latency_bounds_seconds();

}  // namespace sluice::admin
