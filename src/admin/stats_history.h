// The performance API's memory and its answer (GET /admin/stats, docs/observability.md,
// "Performance API"). Once a second the sampler (admin/stats_sampler.h) calls tick(), which reads
// the metrics registry's totals (admin/stats_sample.h) and keeps them in a ring long enough for
// 15 minutes; once a minute it also keeps the per-model and per-key totals. render() reads the
// totals once more, as of the request, and answers with:
//
// - windows (1m, 5m, 15m): the difference between now and the newest reading at least that old,
//   or the oldest one while the process is younger; "seconds" says the real length covered;
// - totals: since the first reading (made when the history was built, before any worker ran);
// - the series: the last 300 intervals between consecutive readings, oldest first;
// - top models and keys over 15 minutes, from the minute readings (so the list covers between
//   15 and 16 minutes, and says how long in "top_window_seconds").
//
// Memory, bounded whatever the traffic: kSamples readings of about 400 bytes (a dozen counters,
// two histograms of 17 buckets, 7 stages), about 0.4 MB; kPoints series points of 80 bytes; and
// kUsageSnapshots minute readings whose size grows with the models and keys that have series
// (themselves bounded by the registry's cardinality cap), about 60 bytes per model or key each.
//
// Thread safety: tick() on one thread at a time (the sampler's); render() and window() on any
// thread. One mutex guards the rings; the registry is read outside it.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>

#include "admin/stats_sample.h"
#include "core/asio.h"
#include "core/clock.h"
#include "metrics/metrics_registry.h"

namespace sluice::admin {

// What happened over a window: the difference of two readings and the time between them.
struct Window {
  Totals totals;
  double seconds = 0;
};

// One interval of the series (per-interval values; nullopt where there was nothing to measure).
struct SeriesPoint {
  double t = 0;  // Unix seconds at the interval's end
  double requests_per_second = 0, errors_per_second = 0;
  std::optional<double> p50_seconds, p99_seconds, ttft_p50_seconds, hit_rate;
  double tokens_per_second = 0, cost_usd = 0, saved_usd = 0;
};

// The JSON of a window ("totals" included): every field of docs/observability.md's table.
json::object window_json(const Window& window);

class StatsHistory {
 public:
  static constexpr std::size_t kSamples = 15 * 60 + 2;  // a reading 15 minutes old, and a spare
  static constexpr std::size_t kPoints = 300;
  static constexpr std::size_t kUsageSnapshots = 17;
  static constexpr std::chrono::seconds kUsageEvery{60};
  static constexpr std::size_t kTop = 10;

  // Reads the registry once: totals count from here.
  StatsHistory(const metrics::MetricsRegistry& registry, const core::Clock& clock);

  // Reads and keeps the registry's totals (and, once a minute, the per-model and per-key ones).
  void tick();

  // The whole answer of GET /admin/stats.
  json::object render() const;

  // The window of `length` ending at the newest reading (the last tick), for the alerts; nullopt
  // before the first tick.
  std::optional<Window> window(std::chrono::milliseconds length) const;

  const core::Clock& clock() const { return clock_; }

 private:
  // The newest reading at least `length` older than `now`, or the oldest; the caller holds
  // mutex_.
  const StatsSample& reading_before(core::Clock::time_point now,
                                    std::chrono::milliseconds length) const;

  const metrics::MetricsRegistry& registry_;
  const core::Clock& clock_;
  const StatsSample first_;
  mutable std::mutex mutex_;
  std::deque<StatsSample> samples_;  // oldest first, at most kSamples
  std::deque<SeriesPoint> points_;   // oldest first, at most kPoints
  std::deque<Usage> usage_;          // oldest first, at most kUsageSnapshots
};

}  // namespace sluice::admin
