// Micro benchmarks of the metrics registry (src/metrics/metrics_registry.h): what recording costs
// a request (a labelled counter found in the worker's map, a histogram observation, a handle's
// add) and what a scrape of 1,000 series from two workers costs. Run with
// `build/release/bench/sluice_micro_bench --benchmark_filter=BM_Metrics`.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include "metrics/metrics_registry.h"

namespace {

using namespace sluice;
using metrics::LabelValues;
using metrics::MetricsRegistry;
using metrics::SeriesKey;

// 64 label sets (4 endpoints x 16 statuses), visited in a scattered order, as a mix of requests
// would; all registered before timing, so every add is a hit in the worker's map.
constexpr std::size_t kKeys = 64;

std::array<SeriesKey, kKeys> scattered_keys() {
  std::array<SeriesKey, kKeys> keys{};
  for (std::size_t i = 0; i < kKeys; ++i) {
    const std::size_t j = (i * 37) % kKeys;  // 37 is coprime with 64: a permutation
    keys[i] = metrics::pack_key(static_cast<std::uint16_t>(j % 4),
                                static_cast<std::uint16_t>(200 + j / 4));
  }
  return keys;
}

LabelValues labels_of(SeriesKey key) {
  return {std::to_string(key & 0xffff), std::to_string((key >> 16) & 0xffff)};
}

void BM_MetricsLabelledCounterAdd(benchmark::State& state) {
  MetricsRegistry registry;
  auto family = registry.add_counter("sluice_requests_total", "Requests.", {"endpoint", "status"});
  metrics::WorkerMetrics& worker = registry.add_worker();
  const auto keys = scattered_keys();
  for (SeriesKey key : keys) worker.add(family, key, [key] { return labels_of(key); });
  std::size_t i = 0;
  for (auto _ : state) {
    const SeriesKey key = keys[i++ % kKeys];
    worker.add(family, key, [key] { return labels_of(key); });
  }
  benchmark::DoNotOptimize(worker.read(0));
}
BENCHMARK(BM_MetricsLabelledCounterAdd);

void BM_MetricsHistogramObserve(benchmark::State& state) {
  MetricsRegistry registry;
  auto family = registry.add_histogram("sluice_request_duration_seconds", "Latency.",
                                       {"endpoint", "status"}, metrics::latency_bounds());
  metrics::WorkerMetrics& worker = registry.add_worker();
  const auto keys = scattered_keys();
  // Latencies from 0.2 ms to 3 s, so the bucket search stops at different bounds.
  std::array<std::chrono::nanoseconds, 16> latencies{};
  for (std::size_t i = 0; i < latencies.size(); ++i) {
    latencies[i] = std::chrono::microseconds(200) * (1u << i) / 3;
  }
  for (SeriesKey key : keys) {
    worker.observe(
        family, key, [key] { return labels_of(key); }, latencies[0]);
  }
  std::size_t i = 0;
  for (auto _ : state) {
    const SeriesKey key = keys[i % kKeys];
    worker.observe(
        family, key, [key] { return labels_of(key); }, latencies[i % 16]);
    ++i;
  }
  benchmark::DoNotOptimize(worker.read(0));
}
BENCHMARK(BM_MetricsHistogramObserve);

void BM_MetricsHandleAdd(benchmark::State& state) {
  MetricsRegistry registry;
  auto handle = registry.handle(registry.add_counter("sluice_bytes_total", "Bytes."));
  metrics::WorkerMetrics& worker = registry.add_worker();
  for (auto _ : state) worker.add(handle, 512);
  benchmark::DoNotOptimize(worker.read(handle.slot));
}
BENCHMARK(BM_MetricsHandleAdd);

// 900 counter series (30 models x 30 statuses) and 100 histogram series (16 bounds, 19 lines
// each) with values in both of two workers: about 2,800 sample lines.
void BM_MetricsScrape(benchmark::State& state) {
  MetricsRegistry registry;
  auto requests = registry.add_counter("sluice_requests_total", "Requests.", {"model", "status"});
  auto latency = registry.add_histogram("sluice_request_duration_seconds", "Latency.", {"model"},
                                        metrics::latency_bounds());
  metrics::WorkerMetrics& a = registry.add_worker();
  metrics::WorkerMetrics& b = registry.add_worker();
  for (metrics::WorkerMetrics* worker : {&a, &b}) {
    for (std::uint16_t model = 0; model < 30; ++model) {
      for (std::uint16_t status = 0; status < 30; ++status) {
        worker->add(
            requests, metrics::pack_key(model, status),
            [&] {
              return LabelValues{"model-" + std::to_string(model), std::to_string(200 + status)};
            },
            12345);
      }
    }
    for (std::uint16_t model = 0; model < 100; ++model) {
      auto labels = [&] { return LabelValues{"model-" + std::to_string(model)}; };
      for (int ms = 1; ms < 2000; ms *= 3) {
        worker->observe(latency, model, labels, std::chrono::milliseconds(ms));
      }
    }
  }
  std::string out;
  for (auto _ : state) {
    out.clear();
    registry.scrape(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
}
BENCHMARK(BM_MetricsScrape)->Unit(benchmark::kMicrosecond);

}  // namespace
