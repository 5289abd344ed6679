// What the gateway tells Prometheus (docs/observability.md, "Metrics"): the metric families of
// the request path, declared once on the process's MetricsRegistry, recorded by each worker at
// the end of every request, and the collectors that read the cache, the deployments and the
// process when /metrics is scraped.
//
// Recording costs no lock: a worker writes its own metrics::WorkerMetrics, whose per-series lookup
// is keyed by small numbers (the endpoint, the route's index, the status, the cache result), so
// the label strings are made only the first time a worker sees a series. Label values come from
// the configuration (model aliases, deployment ids) and small enums, never from what a client
// sent: an unknown model is counted under model="".
//
// Thread safety: construction and add_*_collector at startup; begin() and record() on the
// worker that owns the WorkerMetrics; the collectors run on whichever thread scrapes.
#pragma once

#include <memory>

#include "metrics/metrics_registry.h"

namespace sluice::cache {
class TieredCache;
}
namespace sluice::gateway {

class RuntimeSource;
struct RequestContext;

class GatewayMetrics {
 public:
  // The deployment collector reads the deployments of `runtimes`' current snapshot; `runtimes`
  // outlives this. Series are keyed by route::name_id, so they keep their labels across reloads.
  GatewayMetrics(metrics::MetricsRegistry& registry, const RuntimeSource& runtimes);

  // Scrape-time figures of the response cache's tiers (hits, misses, evictions, bytes).
  void add_cache_collector(const cache::TieredCache& cache);

  metrics::MetricsRegistry& registry() { return registry_; }

  // A request began / left (however it left: end() runs from a guard) on the worker that owns
  // `w`: requests in flight.
  void begin(metrics::WorkerMetrics& w);
  void end(metrics::WorkerMetrics& w);
  // Everything an answered request's context says: status, cache result, durations, tokens, cost.
  void record(metrics::WorkerMetrics& w, const RequestContext& ctx);

 private:
  metrics::MetricsRegistry& registry_;

  metrics::CounterFamily requests_, tokens_, cost_, saved_, rate_limited_, coalesced_, retries_;
  metrics::GaugeFamily in_flight_;
  metrics::HistogramFamily duration_, ttft_, upstream_, overhead_;
};

}  // namespace sluice::gateway
