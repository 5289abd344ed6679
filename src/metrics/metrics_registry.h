// The gateway's metrics: one MetricsRegistry per process declares the metric families at startup
// and renders all of them as Prometheus text when scraped; one WorkerMetrics per worker thread
// records into it on the request path.
//
// Recording is per worker and summed at scrape time, so that it costs no lock and no shared cache
// line: each worker writes only its own slots (single writer), so an increment is a relaxed load
// and a relaxed store of a uint64, not a locked read-modify-write, in memory no other worker
// writes. A scrape reads every worker's copy of a slot and adds them up.
//
// Series and slots: a series (a family and its label values) is registered once, under the
// registry's mutex, and gets a global slot index: one slot for a counter or a gauge, buckets + 2
// for a histogram (each bucket's own count, the overflow past the last bound, the sum). Every
// worker uses the same index into its own storage, which is allocated in fixed-size chunks when
// first touched and never moves, so a scrape can read it while the worker writes.
//
// Finding the slot on the hot path: the caller packs what identifies the label values into a
// 64-bit SeriesKey (an endpoint enum, a status code, an interned model id; pack_key), and the
// worker looks (family, key) up in its private hash map. Only on a worker's first use of a series
// does it call the caller's labels function, which makes the label value strings, and take the
// registry's mutex. A series can be resolved once into a handle that records with no lookup at
// all: by the registry from its label values (series with fixed labels), or by a worker from its
// key (for a caller that remembers the series it recorded into last).
//
// Cardinality is bounded: a registry holds at most `max_slots` slots. A series past that, or one
// with the wrong number of label values, records into a sink that is never exported (a warning is
// logged). Label values should come from configuration (interned at load) or small enums, never
// straight from a request.
//
// Reading in-process: totals() gives a family's series with their label values and every
// worker's slots summed, as the recorded integers, for readers such as the performance API's
// sampler (admin/stats_history.h) that must not parse the text exposition.
//
// Thread safety: every MetricsRegistry member may be called from any thread (a mutex guards
// declarations, series, workers, collectors and interned names; scrape and totals hold it only to
// copy the series list, not while reading slots, formatting or running collectors). A WorkerMetrics
// records only on the thread that owns it. A scrape may run concurrently with recording: each
// counter it reports is the sum of values each worker really had at some instant during the scrape,
// so a counter never goes backwards from one scrape to the next. A histogram's _count always equals
// its +Inf bucket; its _sum may include an observation that its buckets do not yet (or the
// reverse).
//
// Lifetime: the registry outlives every use of its workers and handles; workers are never
// removed. Families, collectors and workers are added at startup; adding them later is safe but
// the output then changes shape mid-run.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/exposition.h"

namespace sluice::metrics {

class MetricsRegistry;

// Identifies a series' label values within its family, as the caller sees fit; two different
// label value sets of one family must never share a key.
using SeriesKey = std::uint64_t;

// Four 16-bit fields in one key: pack_key(endpoint, status, cache_result, model_id). Interned ids
// fit while fewer than 65,536 names are interned.
constexpr SeriesKey pack_key(std::uint16_t a, std::uint16_t b = 0, std::uint16_t c = 0,
                             std::uint16_t d = 0) {
  return SeriesKey{a} | SeriesKey{b} << 16 | SeriesKey{c} << 32 | SeriesKey{d} << 48;
}

// A series' label values, in the order of the family's label names.
using LabelValues = std::vector<std::string>;

// The labels function of a family without labels.
inline constexpr auto no_labels = [] { return LabelValues{}; };

// What a histogram observes. kSeconds: durations, kept as integer nanoseconds and shown in
// seconds (names end in _seconds); kInteger: whole numbers in the family's unit (bytes, tokens).
enum class HistogramUnit { kSeconds, kInteger };

// Bucket bounds for request latencies in seconds, 0.5 ms to 60 s, about 2.5x apart.
std::vector<double> latency_bounds();

// Returned by the declarations; valid for the registry that made them.
struct CounterFamily {
  std::uint32_t index = 0;
};
struct GaugeFamily {
  std::uint32_t index = 0;
};
struct HistogramFamily {
  std::uint32_t index = 0;
};

// A resolved series, recorded with no lookup. Default-constructed handles record into the sink.
struct CounterHandle {
  std::uint32_t slot = 0;
};
struct GaugeHandle {
  std::uint32_t slot = 0;
};
struct HistogramHandle {
  std::uint32_t slot = 0;
  std::span<const std::uint64_t> bounds;  // the family's, in its integer unit
};

// One worker thread's recorder. Made by MetricsRegistry::add_worker; records only on its thread.
class alignas(128) WorkerMetrics {
 public:
  // Slots per chunk of storage; a series never spans two chunks.
  static constexpr std::uint32_t kChunkSlots = 512;

  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;
  ~WorkerMetrics();

  // `labels` is called only on this worker's first use of (family, key) and returns the label
  // values (LabelValues, or something convertible to it).
  template <class LabelsFn>
  void add(CounterFamily family, SeriesKey key, LabelsFn&& labels, std::uint64_t n = 1) {
    bump(slot_of(family.index, key, labels), n);
  }
  // A gauge kept per worker, such as requests in flight or open connections: +1 when one starts,
  // -1 when it ends; the scrape shows the sum. (A gauge that is read rather than counted, such as
  // bytes in the cache, is a collector's.)
  template <class LabelsFn>
  void add(GaugeFamily family, SeriesKey key, LabelsFn&& labels, std::int64_t delta) {
    bump(slot_of(family.index, key, labels), static_cast<std::uint64_t>(delta));
  }
  // For a kSeconds family (the unit is not checked). Negative durations count as zero.
  template <class LabelsFn>
  void observe(HistogramFamily family, SeriesKey key, LabelsFn&& labels,
               std::chrono::nanoseconds value) {
    const std::uint32_t slot = slot_of(family.index, key, labels);
    record(slot, families_[family.index].bounds, nanoseconds(value));
  }
  // For a kInteger family: bytes, tokens.
  template <class LabelsFn>
  void observe(HistogramFamily family, SeriesKey key, LabelsFn&& labels, std::uint64_t value) {
    const std::uint32_t slot = slot_of(family.index, key, labels);
    record(slot, families_[family.index].bounds, value);
  }

  // The handle of (family, key)'s series, found as add() and observe() find it, for a caller that
  // keeps it and records through it with no lookup. A handle names the registry's series, not
  // this worker's copy of it: a slot is the same index in every worker's storage.
  template <class LabelsFn>
  CounterHandle handle(CounterFamily family, SeriesKey key, LabelsFn&& labels) {
    return {slot_of(family.index, key, labels)};
  }
  template <class LabelsFn>
  GaugeHandle handle(GaugeFamily family, SeriesKey key, LabelsFn&& labels) {
    return {slot_of(family.index, key, labels)};
  }
  template <class LabelsFn>
  HistogramHandle handle(HistogramFamily family, SeriesKey key, LabelsFn&& labels) {
    const std::uint32_t slot = slot_of(family.index, key, labels);
    return {slot, families_[family.index].bounds};
  }

  void add(CounterHandle handle, std::uint64_t n = 1) { bump(handle.slot, n); }
  void add(GaugeHandle handle, std::int64_t delta) {
    bump(handle.slot, static_cast<std::uint64_t>(delta));
  }
  void observe(HistogramHandle handle, std::chrono::nanoseconds value) {
    record(handle.slot, handle.bounds, nanoseconds(value));
  }
  void observe(HistogramHandle handle, std::uint64_t value) {
    record(handle.slot, handle.bounds, value);
  }

  // This worker's value of a slot, from any thread (0 until first touched).
  std::uint64_t read(std::uint32_t slot) const {
    const Chunk* chunk = chunks_[slot / kChunkSlots].load(std::memory_order_acquire);
    return chunk ? chunk->slots[slot % kChunkSlots].load(std::memory_order_relaxed) : 0;
  }

 private:
  friend class MetricsRegistry;

  // 128-byte aligned: no cache line, nor the pair of lines that adjacent-line prefetchers fetch
  // together, holds two workers' slots.
  struct alignas(128) Chunk {
    std::atomic<std::uint64_t> slots[kChunkSlots];  // zero: C++20 atomics value-initialize
  };
  // This worker's view of one family: its series so far, and (histograms) its bounds.
  struct FamilyCache {
    boost::unordered_flat_map<SeriesKey, std::uint32_t> slots;
    std::span<const std::uint64_t> bounds;
  };

  WorkerMetrics(MetricsRegistry& registry, std::uint32_t chunks);

  template <class LabelsFn>
  std::uint32_t slot_of(std::uint32_t family, SeriesKey key, LabelsFn& labels) {
    if (family < families_.size()) [[likely]] {
      const auto& slots = families_[family].slots;
      if (auto it = slots.find(key); it != slots.end()) [[likely]] {
        return it->second;
      }
    }
    return resolve(family, key, LabelValues(labels()));
  }
  // The miss: registers the series with the registry (its mutex) and remembers its slot.
  std::uint32_t resolve(std::uint32_t family, SeriesKey key, const LabelValues& values);

  Chunk& chunk_of(std::uint32_t slot) {
    Chunk* chunk = chunks_[slot / kChunkSlots].load(std::memory_order_relaxed);
    if (chunk == nullptr) [[unlikely]] {
      chunk = allocate(slot / kChunkSlots);
    }
    return *chunk;
  }
  Chunk* allocate(std::uint32_t chunk);

  // Single writer: a plain load and store, no locked instruction. Scrapers only load.
  static void bump(std::atomic<std::uint64_t>& cell, std::uint64_t n) {
    cell.store(cell.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void bump(std::uint32_t slot, std::uint64_t n) {
    bump(chunk_of(slot).slots[slot % kChunkSlots], n);
  }
  // A histogram series' slots: buckets.size() bucket counts, the overflow, then the sum.
  void record(std::uint32_t slot, std::span<const std::uint64_t> bounds, std::uint64_t value) {
    std::size_t bucket = 0;
    while (bucket < bounds.size() && value > bounds[bucket]) ++bucket;
    std::atomic<std::uint64_t>* cells = &chunk_of(slot).slots[slot % kChunkSlots];
    bump(cells[bucket], 1);
    bump(cells[bounds.size() + 1], value);
  }
  static std::uint64_t nanoseconds(std::chrono::nanoseconds value) {
    return value.count() > 0 ? static_cast<std::uint64_t>(value.count()) : 0;
  }

  MetricsRegistry& registry_;
  std::vector<FamilyCache> families_;  // by family index; grows on a miss
  std::unique_ptr<std::atomic<Chunk*>[]> chunks_;
  const std::uint32_t chunk_count_;
};

class MetricsRegistry {
 public:
  // 256 Ki slots: 2 MiB per worker if every one is used, which no sane label set needs.
  static constexpr std::uint32_t kDefaultMaxSlots = 1 << 18;
  // Bucket bounds per histogram, at most.
  static constexpr std::size_t kMaxBounds = 62;

  explicit MetricsRegistry(std::uint32_t max_slots = kDefaultMaxSlots);
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Declarations, at startup. They throw std::invalid_argument for a name against the rules
  // (family_name_error, label_name_error), a name declared twice, or bad bounds (not strictly
  // increasing once in the unit, not positive, not whole numbers for kInteger, more than
  // kMaxBounds). Families are exported in the order they are declared.
  // `scale` is what one unit recorded is worth in the exported value: a counter of dollars kept
  // as whole nano-dollars (so the worker adds integers) is declared with scale 1e-9.
  CounterFamily add_counter(std::string name, std::string help,
                            std::vector<std::string> label_names = {}, double scale = 1);
  GaugeFamily add_gauge(std::string name, std::string help,
                        std::vector<std::string> label_names = {});
  HistogramFamily add_histogram(std::string name, std::string help,
                                std::vector<std::string> label_names, std::vector<double> bounds,
                                HistogramUnit unit = HistogramUnit::kSeconds);

  // Resolves (registering if new) the series with these label values. A registered series is
  // exported from then on, at 0 until something is recorded.
  CounterHandle handle(CounterFamily family, const LabelValues& values = {});
  GaugeHandle handle(GaugeFamily family, const LabelValues& values = {});
  HistogramHandle handle(HistogramFamily family, const LabelValues& values = {});

  // A recorder for one more worker thread; the reference stays valid for the registry's life.
  WorkerMetrics& add_worker();

  // Runs on every scrape, after the registry's own families, in the order added. It may call
  // intern() and label(); it must not call scrape().
  void add_collector(std::function<void(SampleWriter&)> collect);

  // Interned names (models, deployments, resolved at config load) so the hot path carries small
  // ids instead of strings. The same name always gets the same id; ids count from 0.
  std::uint32_t intern(std::string_view name);
  // The name of an interned id (valid for the registry's life); empty for an unknown id.
  std::string_view label(std::uint32_t id) const;

  // The whole exposition, every worker summed, appended to `out`. Series of a family are in
  // order of their label values, so the output does not depend on which request came first.
  // About 0.12 ms for 1,000 series from two workers (bench/micro/metrics_bench.cc), plus the
  // collectors.
  void scrape(std::string& out) const;
  std::string scrape() const;

  // One series' totals: its label values (in the order of the family's label names; they live as
  // long as the registry) and the recorded integers summed over workers. A counter or a gauge
  // has one value (a gauge's is the two's complement of a negative sum); a histogram has each
  // bucket's own count (not cumulative), the overflow past the last bound, then the sum.
  // Counters are unscaled (a nano-dollar counter stays in nano-dollars), kSeconds histograms in
  // nanoseconds.
  struct SeriesTotals {
    const LabelValues* labels = nullptr;
    std::vector<std::uint64_t> values;
  };
  struct FamilyTotals {
    MetricType type = MetricType::kCounter;
    std::vector<std::string> label_names;
    std::vector<std::uint64_t> bounds;  // histograms: in the unit's integer
    HistogramUnit unit = HistogramUnit::kInteger;
    double scale = 1;                  // counters: what one recorded unit is worth exported
    std::vector<SeriesTotals> series;  // in order of label values, as exported
  };
  // The family named `name` as of now; nullopt when none was declared by that name. The same
  // consistency as a scrape: each value is one every worker really had during the call.
  std::optional<FamilyTotals> totals(std::string_view name) const;

 private:
  friend class WorkerMetrics;

  struct Series {
    std::uint32_t slot = 0;
    std::string labels;  // rendered and escaped: name="value",... (empty without labels)
  };
  struct Family {
    std::string name;
    std::string help;
    MetricType type = MetricType::kCounter;
    std::vector<std::string> label_names;
    // Histograms: the bounds in the unit's integer (nanoseconds for kSeconds), and each bound
    // as exported (le="0.005").
    std::vector<std::uint64_t> bounds;
    std::vector<std::string> le;
    HistogramUnit unit = HistogramUnit::kInteger;
    double scale = 1;                      // counters: the exported value of one recorded unit
    std::map<LabelValues, Series> series;  // sorted by label values: the export order
  };

  std::uint32_t declare(Family family);
  // Finds or registers a series; the sink when full or given the wrong number of values. The
  // caller holds mutex_.
  const Series& series(std::uint32_t family, const LabelValues& values);
  // For a worker's miss: the series' slot and its family's bounds.
  std::uint32_t register_series(std::uint32_t family, const LabelValues& values,
                                std::span<const std::uint64_t>& bounds);

  const std::uint32_t max_slots_;
  mutable std::mutex mutex_;
  std::deque<Family> families_;  // a deque: references stay valid as families are added
  std::uint32_t next_slot_;
  bool warned_full_ = false;
  const Series sink_;
  std::vector<std::unique_ptr<WorkerMetrics>> workers_;
  std::vector<std::unique_ptr<std::function<void(SampleWriter&)>>> collectors_;
  std::deque<std::string> names_;  // interned, by id
  std::map<std::string, std::uint32_t, std::less<>> name_ids_;
};

}  // namespace sluice::metrics
