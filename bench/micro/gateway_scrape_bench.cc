// A full scrape of GET /metrics as the gateway answers it (docs/observability.md, "Metrics"):
// the gateway's own families (gateway::GatewayMetrics) over a configuration of 100 models with
// 10 deployments each, after traffic that created every series on each of two workers, plus
// the collectors that run at scrape time (deployments, the cache's tiers, the process). The
// issue's target is under 10 ms. Run with
// `build/release/bench/sluice_micro_bench --benchmark_filter=BM_MetricsGatewayScrape`.
#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "cache/tiered_cache.h"
#include "config/loader.h"
#include "core/clock.h"
#include "gateway/gateway_metrics.h"
#include "gateway/request_context.h"
#include "gateway/runtime.h"
#include "gateway/runtime_source.h"
#include "gateway/worker_state.h"
#include "http/server_session.h"
#include "metrics/metrics_registry.h"
#include "net/deadline.h"
#include "route/model_registry.h"

namespace {

using namespace sluice;
using Clock = std::chrono::steady_clock;

constexpr int kModels = 100;
constexpr int kDeployments = 10;

// 100 models named model-0..99, each with 10 deployments on one provider (ids sim/up-0..9).
std::shared_ptr<const config::Config> large_config() {
  std::string yaml = "cache: {enabled: true}\nproviders:\n  - name: sim\n    kind: mock\nmodels:\n";
  for (int m = 0; m < kModels; ++m) {
    yaml += "  - name: model-" + std::to_string(m) + "\n    deployments:\n";
    for (int d = 0; d < kDeployments; ++d) {
      yaml += "      - {provider: sim, model: up-" + std::to_string(d) +
              ", input_cost_per_mtok: 1, output_cost_per_mtok: 2}\n";
    }
  }
  return std::make_shared<const config::Config>(config::load_yaml(yaml, "bench"));
}

// The session a RequestContext needs; the recorder reads only its start time and path.
class NoHandler final : public http::Handler {
 public:
  asio::awaitable<void> handle(http::ServerSession&) override { co_return; }
  http::ErrorPage render_error(const core::Error&) override { return {}; }
};

// What a busy gateway's workers have seen: for every deployment a streamed miss that needed a
// retry; for every model a cache hit, a coalesced request, a rate-limited one, an upstream error
// and an embeddings request. Every family the request path records then has a series per label
// set that real traffic makes.
void record_traffic(gateway::GatewayMetrics& recorder, gateway::GatewayWorkerMetrics& worker,
                    const std::shared_ptr<const gateway::Runtime>& runtime,
                    http::ServerSession& session, gateway::WorkerState& state) {
  const auto now = Clock::now();
  auto routes = std::make_shared<gateway::WorkerRoutes>(runtime, 1);
  auto record = [&](const route::ModelRoute& route, auto&& fill) {
    gateway::RequestContext ctx(session, routes, state);
    ctx.endpoint = api::Endpoint::kChatCompletions;
    ctx.route = &route;
    fill(ctx);
    recorder.begin(worker);
    recorder.record(worker, ctx);
    recorder.end(worker);
  };
  for (const route::ModelRoute& route : runtime->models().routes()) {
    for (const route::Deployment& d : route.deployments) {
      record(route, [&](gateway::RequestContext& ctx) {
        ctx.status = 200;
        ctx.cache_result = "miss";
        ctx.deployment = d.id;
        ctx.deployment_name_id = d.name_id;
        ctx.deployment_config = d.config;
        ctx.upstream_status = 200;
        ctx.upstream_started = now - std::chrono::milliseconds(300);
        ctx.upstream_first_byte = now - std::chrono::milliseconds(200);
        ctx.upstream_finished = now;
        ctx.stream = true;
        ctx.attempts = 2;
        ctx.usage = api::Usage{120, 40, 20};
        ctx.cost_usd = 0.0002;
      });
    }
    record(route, [](gateway::RequestContext& ctx) {
      ctx.status = 200;
      ctx.cache_result = "hit";
      ctx.saved_usd = 0.0002;
    });
    record(route, [](gateway::RequestContext& ctx) {
      ctx.status = 200;
      ctx.cache_result = "coalesced";
      ctx.saved_usd = 0.0002;
    });
    record(route, [](gateway::RequestContext& ctx) { ctx.status = 429; });
    record(route, [](gateway::RequestContext& ctx) {
      ctx.status = 502;
      ctx.upstream_status = 500;
      ctx.cache_result = "miss";
    });
    record(route, [](gateway::RequestContext& ctx) {
      ctx.endpoint = api::Endpoint::kEmbeddings;
      ctx.status = 200;
      ctx.cache_result = "miss";
    });
  }
}

void BM_MetricsGatewayScrape(benchmark::State& state) {
  auto config = large_config();
  gateway::RuntimeSource runtimes(gateway::Runtime::build(config));
  cache::TieredCache cache(config->cache, core::SteadyClock::instance());
  metrics::MetricsRegistry registry;
  gateway::GatewayMetrics recorder(registry, runtimes);
  recorder.add_cache_collector(cache);

  asio::io_context io;
  net::DeadlineSweeper deadlines(io.get_executor());
  NoHandler handler;
  http::ServerSession session(asio::ip::tcp::socket(io), handler, config->limits, deadlines);
  gateway::WorkerState worker_state;
  for (int w = 0; w < 2; ++w) {
    gateway::GatewayWorkerMetrics worker(registry.add_worker());
    record_traffic(recorder, worker, runtimes.current(), session, worker_state);
  }

  std::string out;
  for (auto _ : state) {
    out.clear();
    registry.scrape(out);
    benchmark::DoNotOptimize(out.data());
  }
  std::size_t lines = 0;
  for (char c : out) lines += c == '\n';
  state.counters["bytes"] = static_cast<double>(out.size());
  state.counters["lines"] = static_cast<double>(lines);
}
BENCHMARK(BM_MetricsGatewayScrape)->Unit(benchmark::kMillisecond);

}  // namespace
