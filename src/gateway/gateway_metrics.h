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
// Stages: each inference request's time is split into consecutive stages (kStageNames), from the
// marks its context holds, and added to sluice_stage_seconds_total{stage}: the performance API's
// breakdown of where the time goes. The split costs a few subtractions and one handle add per
// stage; the marks cost one clock read each (docs/observability.md, "Stages").
//
// Keys: with keys on, requests and cost per key id (the public id, never the secret), for the
// performance API's top keys. A key's series key is its id's 64 random bits, so no lookup by
// string is made per request.
//
// Recording an answer looks up no series in the common case: each worker remembers, for every
// route (and endpoint, and deployment), the handle of the series each family recorded into
// last there (GatewayWorkerMetrics), and looks a series up only when its key changed, such as
// another status or cache result than the route's last request had.
//
// Thread safety: construction and add_*_collector at startup; begin(), end() and record() on the
// worker that owns the GatewayWorkerMetrics; the collectors run on whichever thread scrapes.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "metrics/metrics_registry.h"

namespace sluice::cache {
class TieredCache;
}
namespace sluice::gateway {

class RuntimeSource;
struct RequestContext;

// One worker's side of GatewayMetrics: its WorkerMetrics and the series handles it remembers.
// Each remembered handle is kept with the series key it was found for and used only for that
// key, so a route that moved (a reload) or a key that changed costs one lookup, never a count
// in the wrong series. Used only on its worker's thread.
class GatewayWorkerMetrics {
 public:
  explicit GatewayWorkerMetrics(metrics::WorkerMetrics& worker) : worker_(worker) {}

 private:
  friend class GatewayMetrics;

  template <class Handle>
  struct Memo {
    metrics::SeriesKey key = ~metrics::SeriesKey{0};  // no series' key: pack_key's fields are small
    Handle handle{};
  };
  // The series of one route's requests (of requests without a route, for the first).
  struct RouteSeries {
    Memo<metrics::CounterHandle> requests;
    Memo<metrics::HistogramHandle> duration, ttft;
    std::array<Memo<metrics::CounterHandle>, 3> tokens;  // prompt, completion, cached
    Memo<metrics::CounterHandle> cost, saved, coalesced, retries, rate_limited;
  };
  // Deployments are remembered by name id up to this; a later one is looked up every time.
  static constexpr std::uint32_t kDeploymentMemos = 1 << 12;

  metrics::WorkerMetrics& worker_;
  Memo<metrics::GaugeHandle> in_flight_;
  std::vector<RouteSeries> routes_;  // [0]: no route; then by ModelRoute::index + 1
  std::array<Memo<metrics::HistogramHandle>, 8> overhead_;  // by the endpoint's id
  std::vector<Memo<metrics::HistogramHandle>> upstream_;    // by the deployment's name id
};

// The stages of sluice_stage_seconds_total, in the order a request passes them.
// auth: the key check (keys on); admit: decoding, the model lookup, the key's rules and the rate
// limits; cache: the lookup (for a hit, serving it too); coalesce: a joiner's wait for the
// leader's answer; queue: waiting for a deployment's concurrency slot; upstream: the routing
// stage's span without the queue (attempts, retries, a stream's forwarding); gateway: the rest
// (writing a JSON answer, what follows the answer).
inline constexpr std::array<std::string_view, 7> kStageNames = {
    "auth", "admit", "cache", "coalesce", "queue", "upstream", "gateway"};

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
  void begin(GatewayWorkerMetrics& w);
  void end(GatewayWorkerMetrics& w);
  // Everything an answered request's context says: status, cache result, durations, tokens, cost.
  void record(GatewayWorkerMetrics& w, const RequestContext& ctx);

 private:
  metrics::MetricsRegistry& registry_;

  void record_stages(metrics::WorkerMetrics& w, const RequestContext& ctx,
                     std::chrono::steady_clock::time_point end);

  metrics::CounterFamily requests_, tokens_, cost_, saved_, rate_limited_, coalesced_, retries_,
      fallbacks_;
  metrics::CounterFamily key_requests_, key_cost_;
  std::array<metrics::CounterHandle, kStageNames.size()> stages_;
  metrics::GaugeFamily in_flight_;
  metrics::HistogramFamily duration_, ttft_, upstream_, overhead_;
};

}  // namespace sluice::gateway
