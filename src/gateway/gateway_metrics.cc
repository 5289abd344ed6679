#include "gateway/gateway_metrics.h"

#include <algorithm>

#include <boost/json.hpp>

#include <array>
#include <chrono>
#include <cmath>
#include <string>

#include "cache/tiered_cache.h"
#include "gateway/request_context.h"
#include "gateway/runtime.h"
#include "gateway/runtime_source.h"
#include "gateway/tenants.h"
#include "gateway/worker_state.h"
#include "http/server_session.h"
#include "metrics/process_stats.h"
#include "route/model_registry.h"

namespace sluice::gateway {

namespace {

using metrics::LabelValues;
using metrics::MetricType;
using metrics::pack_key;
using Clock = std::chrono::steady_clock;

// What a request was, as a small number (for the series key) and its label: the inference
// endpoints by api::endpoint_name (as the ledger and the access log name them), then the other
// routes. Paths outside these are "other", so a scanner cannot mint label values.
struct EndpointLabel {
  std::uint16_t id;
  std::string_view name;
};

EndpointLabel endpoint_of(const RequestContext& ctx) {
  std::string_view path = ctx.session.path();
  // Unset when the request was refused before stage 4 (a missing key): the path still says.
  std::optional<api::Endpoint> inference =
      ctx.endpoint ? ctx.endpoint : api::endpoint_for_path(path);
  if (inference) {
    return {static_cast<std::uint16_t>(static_cast<int>(*inference) + 1),
            api::endpoint_name(*inference)};
  }
  if (path == "/v1/models" || path.starts_with("/v1/models/")) return {100, "models"};
  if (path.starts_with("/admin/")) return {101, "admin"};
  if (path == "/metrics") return {102, "metrics"};
  if (path == "/healthz") return {103, "health"};
  if (path == "/dashboard" || path.starts_with("/dashboard/")) return {105, "dashboard"};
  return {104, "other"};
}

constexpr std::array<std::string_view, 5> kCacheResults = {"", "hit", "miss", "bypass",
                                                           "coalesced"};
static_assert(kCacheResults[1].size() == 3 && kCacheResults[2].size() == 4 &&
              kCacheResults[3].size() == 6 && kCacheResults[4].size() == 9);

// The results differ in length, so one compare finds which it is.
std::uint16_t cache_of(std::string_view result) {
  switch (result.size()) {
    case 3:
      return result == kCacheResults[1] ? 1 : 0;
    case 4:
      return result == kCacheResults[2] ? 2 : 0;
    case 6:
      return result == kCacheResults[3] ? 3 : 0;
    case 9:
      return result == kCacheResults[4] ? 4 : 0;
    default:
      return 0;
  }
}

// The route as a key component (0: none) and as a label (the alias, or the pattern, as
// configured: never the name a client made up).
// By the alias's name_id, which a reload does not renumber. (65,535 distinct aliases in one
// process's life would make later ones share a key; the label stays right for the first seen.)
std::uint16_t route_of(const RequestContext& ctx) {
  return ctx.route ? static_cast<std::uint16_t>(std::min<std::uint32_t>(ctx.route->name_id, 0xffff))
                   : 0;
}
std::string model_label(const RequestContext& ctx) { return ctx.route ? ctx.route->name : ""; }

constexpr double kNanoDollars = 1e9;
constexpr double kNanosecondsPerSecond = 1e9;

std::uint64_t nano_dollars(double usd) {
  return usd > 0 ? static_cast<std::uint64_t>(std::llround(usd * kNanoDollars)) : 0;
}

// A key's series key: the 64 random bits of its id ("key_" + 16 hex digits), so two keys never
// share one; any other id (there are none today) is hashed.
metrics::SeriesKey key_series(std::string_view id) {
  std::string_view hex = id.starts_with("key_") ? id.substr(4) : id;
  std::uint64_t bits = 0;
  if (hex.size() == 16) {
    for (char c : hex) {
      int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (digit < 0) return std::hash<std::string_view>{}(id);
      bits = bits << 4 | static_cast<std::uint64_t>(digit);
    }
    return bits;
  }
  return std::hash<std::string_view>{}(id);
}

// The handle `memo` keeps when it was found for `key`, else the worker's for (family, key), which
// `memo` keeps from then on.
template <class Memo, class Family, class LabelsFn>
auto remembered(metrics::WorkerMetrics& w, Memo& memo, Family family, metrics::SeriesKey key,
                LabelsFn&& labels) {
  if (memo.key != key) [[unlikely]] {
    memo.handle = w.handle(family, key, labels);
    memo.key = key;
  }
  return memo.handle;
}

std::uint64_t json_uint(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_uint64()) return v->as_uint64();
  if (v->is_int64() && v->as_int64() > 0) return static_cast<std::uint64_t>(v->as_int64());
  return 0;
}

}  // namespace

GatewayMetrics::GatewayMetrics(metrics::MetricsRegistry& registry, const RuntimeSource& runtimes)
    : registry_(registry) {
  requests_ = registry.add_counter(
      "sluice_requests_total",
      "Requests answered, by endpoint, model alias, HTTP status and cache result.",
      {"endpoint", "model", "status", "cache"});
  in_flight_ = registry.add_gauge("sluice_requests_in_flight", "Requests being served now.");
  duration_ = registry.add_histogram(
      "sluice_request_duration_seconds",
      "Time from a request's arrival to the end of its answer, by endpoint and model alias.",
      {"endpoint", "model"}, metrics::latency_bounds());
  ttft_ = registry.add_histogram(
      "sluice_time_to_first_token_seconds",
      "Streams: time from the request's arrival to the first byte of the upstream's stream.",
      {"model"}, metrics::latency_bounds());
  upstream_ = registry.add_histogram(
      "sluice_upstream_duration_seconds",
      "Time spent in the routing stage waiting on the deployment that answered, attempts and "
      "retries included, by deployment.",
      {"deployment"}, metrics::latency_bounds());
  overhead_ = registry.add_histogram(
      "sluice_gateway_overhead_seconds",
      "A request's time outside the upstream exchange (parsing, auth, limits, cache, writing "
      "the answer), by endpoint.",
      {"endpoint"}, metrics::latency_bounds());
  tokens_ = registry.add_counter(
      "sluice_tokens_total",
      "Tokens the answers reported, by model alias and kind (prompt, completion, cached).",
      {"model", "kind"});
  cost_ = registry.add_counter("sluice_cost_usd_total",
                               "What the upstream calls cost, in US dollars, by model alias.",
                               {"model"}, 1 / kNanoDollars);
  saved_ = registry.add_counter(
      "sluice_saved_usd_total",
      "What cache hits and coalesced requests would have cost, in US dollars, by model alias.",
      {"model"}, 1 / kNanoDollars);
  coalesced_ = registry.add_counter(
      "sluice_coalesced_requests_total",
      "Requests answered by joining an identical request in flight, by model alias.", {"model"});
  retries_ = registry.add_counter("sluice_retries_total",
                                  "Upstream attempts beyond each request's first, by model alias.",
                                  {"model"});
  fallbacks_ = registry.add_counter(
      "sluice_fallbacks_total",
      "Requests whose last attempt went to a fallback model, by the model alias asked for and "
      "the fallback deployment tried.",
      {"model", "deployment"});
  rate_limited_ = registry.add_counter(
      "sluice_rate_limited_requests_total",
      "Requests Sluice refused with 429 (rate limits, concurrency or budget), by model alias.",
      {"model"});

  key_requests_ = registry.add_counter(
      "sluice_key_requests_total", "Requests made with a key, by the key's public id.", {"key"});
  key_cost_ = registry.add_counter(
      "sluice_key_cost_usd_total",
      "What the upstream calls made with a key cost, in US dollars, by the key's public id.",
      {"key"}, 1 / kNanoDollars);
  auto stage = registry.add_counter(
      "sluice_stage_seconds_total",
      "Time inference requests spent in each stage of the gateway (auth, admit, cache, coalesce, "
      "queue, upstream, gateway).",
      {"stage"}, 1 / kNanosecondsPerSecond);
  for (std::size_t i = 0; i < kStageNames.size(); ++i) {
    stages_[i] = registry.handle(stage, {std::string(kStageNames[i])});
  }

  registry.add_collector(metrics::write_process_stats);

  // Deployments: what /admin/deployments shows, as gauges and counters.
  registry.add_collector([&runtimes](metrics::SampleWriter& out) {
    const std::shared_ptr<const Runtime> rt = runtimes.current();
    const auto now = core::SteadyClock::instance().now();
    struct Row {
      const route::ModelRoute* route;
      std::size_t index;
      route::HealthGroup::MemberState health;
    };
    std::vector<Row> rows;
    for (const route::ModelRoute& route : rt->models().routes()) {
      for (std::size_t i = 0; i < route.deployments.size(); ++i) {
        rows.push_back({&route, i, route.health->state(i, now)});
      }
    }
    auto each = [&](std::string_view name, std::string_view help, MetricType type, auto value) {
      out.family(name, help, type);
      for (const Row& r : rows) {
        out.sample({{"model", r.route->name}, {"deployment", r.route->deployments[r.index].id}},
                   value(r));
      }
    };
    each("sluice_deployment_up",
         "1 when the deployment takes traffic (not ejected, probed down or behind an open "
         "breaker), else 0.",
         MetricType::kGauge, [](const Row& r) { return r.health.available ? 1 : 0; });
    each("sluice_deployment_breaker_state",
         "The deployment's circuit breaker: 0 closed, 1 half-open, 2 open.", MetricType::kGauge,
         [](const Row& r) {
           switch (r.health.breaker) {
             case route::BreakerState::kClosed:
               return 0;
             case route::BreakerState::kHalfOpen:
               return 1;
             case route::BreakerState::kOpen:
               return 2;
           }
           return 0;
         });
    each("sluice_deployment_in_flight", "Attempts in flight on the deployment.", MetricType::kGauge,
         [](const Row& r) { return r.route->deployments[r.index].load->in_flight(); });
    each("sluice_deployment_requests_total", "Attempts the deployment answered or failed.",
         MetricType::kCounter,
         [](const Row& r) { return r.route->deployments[r.index].load->requests(); });
    each("sluice_deployment_failures_total", "Attempts on the deployment that failed.",
         MetricType::kCounter,
         [](const Row& r) { return r.route->deployments[r.index].load->failures(); });
    each("sluice_deployment_ejections_total",
         "Times outlier detection took the deployment out of rotation.", MetricType::kCounter,
         [](const Row& r) { return static_cast<std::uint64_t>(r.health.times_ejected); });
  });
}

void GatewayMetrics::add_cache_collector(const cache::TieredCache& cache) {
  registry_.add_collector([&cache](metrics::SampleWriter& out) {
    // Read from the same figures /admin/cache shows, so the two never disagree.
    boost::json::object stats = cache.stats();
    const boost::json::object* tiers = stats.contains("tiers") && stats.at("tiers").is_object()
                                           ? &stats.at("tiers").as_object()
                                           : nullptr;
    struct Figure {
      std::string_view name, help, field;
      MetricType type;
    };
    static constexpr Figure kFigures[] = {
        {"sluice_cache_hits_total", "Lookups a cache tier answered.", "hits", MetricType::kCounter},
        {"sluice_cache_misses_total", "Lookups a cache tier could not answer.", "misses",
         MetricType::kCounter},
        {"sluice_cache_evictions_total", "Entries a cache tier pushed out to make room.",
         "evictions", MetricType::kCounter},
        {"sluice_cache_entries", "Entries a cache tier holds now.", "entries", MetricType::kGauge},
        {"sluice_cache_bytes", "Bytes a cache tier holds now.", "bytes", MetricType::kGauge},
    };
    for (const Figure& f : kFigures) {
      out.family(f.name, f.help, f.type);
      if (tiers == nullptr) continue;
      for (const auto& [tier, value] : *tiers) {
        if (!value.is_object() || !value.as_object().contains(f.field)) continue;
        out.sample({{"tier", tier}}, json_uint(value.as_object(), f.field));
      }
    }
  });
}

void GatewayMetrics::begin(GatewayWorkerMetrics& w) {
  w.worker_.add(remembered(w.worker_, w.in_flight_, in_flight_, 0, metrics::no_labels), 1);
}

void GatewayMetrics::end(GatewayWorkerMetrics& w) {
  w.worker_.add(remembered(w.worker_, w.in_flight_, in_flight_, 0, metrics::no_labels), -1);
}

void GatewayMetrics::record(GatewayWorkerMetrics& gw, const RequestContext& ctx) {
  metrics::WorkerMetrics& w = gw.worker_;
  const std::size_t route_index = ctx.route != nullptr ? ctx.route->index + 1 : 0;
  if (route_index >= gw.routes_.size()) gw.routes_.resize(route_index + 1);
  GatewayWorkerMetrics::RouteSeries& series = gw.routes_[route_index];
  const EndpointLabel endpoint = endpoint_of(ctx);
  const std::uint16_t route = route_of(ctx);
  const std::uint16_t cache = cache_of(ctx.cache_result);
  const auto status = static_cast<std::uint16_t>(ctx.status);
  w.add(remembered(w, series.requests, requests_, pack_key(endpoint.id, route, status, cache), [&] {
    return LabelValues{std::string(endpoint.name), model_label(ctx), std::to_string(ctx.status),
                       std::string(kCacheResults[cache])};
  }));

  const auto now = Clock::now();
  const auto total = now - ctx.session.started();
  w.observe(remembered(w, series.duration, duration_, pack_key(endpoint.id, route),
                       [&] {
                         return LabelValues{std::string(endpoint.name), model_label(ctx)};
                       }),
            total);
  auto upstream = Clock::duration::zero();
  if (ctx.deployment_config != nullptr && ctx.upstream_finished > ctx.upstream_started &&
      ctx.upstream_started != Clock::time_point{}) {
    upstream = ctx.upstream_finished - ctx.upstream_started;
    const std::uint32_t id = ctx.deployment_name_id;
    auto labels = [&] { return LabelValues{std::string(ctx.deployment)}; };
    if (id < GatewayWorkerMetrics::kDeploymentMemos) {
      if (id >= gw.upstream_.size()) gw.upstream_.resize(id + 1);
      w.observe(remembered(w, gw.upstream_[id], upstream_, id, labels), upstream);
    } else {
      w.observe(upstream_, id, labels, upstream);
    }
  }
  if (ctx.endpoint) {
    w.observe(remembered(w, gw.overhead_[endpoint.id % gw.overhead_.size()], overhead_, endpoint.id,
                         [&] { return LabelValues{std::string(endpoint.name)}; }),
              total - upstream);
  }
  if (ctx.stream && ctx.upstream_first_byte != Clock::time_point{}) {
    w.observe(
        remembered(w, series.ttft, ttft_, route, [&] { return LabelValues{model_label(ctx)}; }),
        ctx.upstream_first_byte - ctx.session.started());
  }
  if (endpoint.id < 100) record_stages(w, ctx, now);  // the inference endpoints
  if (ctx.tenant != nullptr) {
    const std::string& id = ctx.tenant->key.id;
    auto key = [&] { return LabelValues{id}; };
    const metrics::SeriesKey series_key = key_series(id);
    w.add(key_requests_, series_key, key);
    if (std::uint64_t c = nano_dollars(ctx.cost_usd); c != 0) w.add(key_cost_, series_key, key, c);
  }
  if (!ctx.endpoint) return;

  auto model = [&] { return LabelValues{model_label(ctx)}; };
  const bool saved_call = cache == 1 || cache == 4;  // a hit or a joiner spent no tokens
  if (ctx.usage && !saved_call) {
    const api::Usage& u = *ctx.usage;
    auto kind = [&](std::uint16_t k, std::string_view name, std::uint64_t n) {
      if (n == 0) return;
      w.add(remembered(w, series.tokens[k - 1], tokens_, pack_key(route, k),
                       [&] {
                         return LabelValues{model_label(ctx), std::string(name)};
                       }),
            n);
    };
    kind(1, "prompt", u.prompt_tokens);
    kind(2, "completion", u.completion_tokens);
    kind(3, "cached", u.cached_tokens);
  }
  if (std::uint64_t c = nano_dollars(ctx.cost_usd); c != 0) {
    w.add(remembered(w, series.cost, cost_, route, model), c);
  }
  if (std::uint64_t s = nano_dollars(ctx.saved_usd); s != 0) {
    w.add(remembered(w, series.saved, saved_, route, model), s);
  }
  if (cache == 4) w.add(remembered(w, series.coalesced, coalesced_, route, model));
  if (ctx.attempts > 1) {
    w.add(remembered(w, series.retries, retries_, route, model),
          static_cast<std::uint64_t>(ctx.attempts - 1));
  }
  if (ctx.status == 429 && ctx.upstream_status != 429) {
    w.add(remembered(w, series.rate_limited, rate_limited_, route, model));
  }
  if (ctx.fell_back) {
    w.add(fallbacks_,
          pack_key(route, static_cast<std::uint16_t>(
                              std::min<std::uint32_t>(ctx.deployment_name_id, 0xffff))),
          [&] {
            return LabelValues{model_label(ctx), std::string(ctx.deployment)};
          });
  }
}

void GatewayMetrics::record_stages(metrics::WorkerMetrics& w, const RequestContext& ctx,
                                   Clock::time_point end) {
  enum Stage { kAuth, kAdmit, kCache, kCoalesce, kQueue, kUpstream, kGateway };
  // Each stage ends at its mark; a request that stopped before a mark (refused, a hit, a joiner)
  // spent the rest of its time in that stage. Written out stage by stage rather than as a loop
  // over an array of marks: every index is then a constant, and the spans stay in registers.
  Clock::duration spent[kStageNames.size()] = {};
  Clock::time_point from = ctx.session.started();
  auto reached = [&](Stage stage, Clock::time_point at) {
    if (at == Clock::time_point{}) {
      spent[stage] = end - from;
      return false;
    }
    if (at > from) {
      spent[stage] = at - from;
      from = at;
    }
    return true;
  };
  const bool auth = ctx.worker.services.tenants != nullptr;
  if (reached(kAuth, auth ? ctx.authenticated_at : from) && reached(kAdmit, ctx.admitted_at) &&
      reached(kCache, ctx.looked_up_at) && reached(kCoalesce, ctx.upstream_started) &&
      reached(kUpstream, ctx.upstream_finished) && end > from) {
    spent[kGateway] = end - from;
  }
  const Clock::duration queued = std::min(ctx.queued, spent[kUpstream]);
  spent[kUpstream] -= queued;
  spent[kQueue] += queued;
  auto add = [&](Stage stage) {
    if (spent[stage] > Clock::duration::zero()) {
      w.add(stages_[stage],
            static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(spent[stage]).count()));
    }
  };
  add(kAuth);
  add(kAdmit);
  add(kCache);
  add(kCoalesce);
  add(kQueue);
  add(kUpstream);
  add(kGateway);
}

}  // namespace sluice::gateway
