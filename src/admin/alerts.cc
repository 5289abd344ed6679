#include "admin/alerts.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <array>

#include "admin/alert_webhook.h"
#include "core/utc.h"
#include "gateway/runtime.h"
#include "metrics/process_stats.h"
#include "route/model_registry.h"

namespace sluice::admin {

namespace {

using Kind = config::AlertRule::Kind;

std::optional<double> share(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return std::nullopt;
  return static_cast<double>(part) / static_cast<double>(whole);
}

json::value number_or_null(std::optional<double> v) {
  if (!v) return nullptr;
  return *v;
}

json::value threshold_of(const config::AlertRule& rule) {
  if (rule.kind == Kind::kDeploymentEjected) return nullptr;
  return rule.threshold;
}

json::value window_of(const config::AlertRule& rule) {
  if (!config::alert_kind_has_window(rule.kind)) return nullptr;
  return std::chrono::duration<double>(rule.window).count();
}

}  // namespace

Alerts::Alerts(std::vector<config::AlertRule> rules, const StatsHistory& history,
               RuntimeSource runtime, metrics::MetricsRegistry& registry,
               metrics::WorkerMetrics& recorder)
    : history_(history), runtime_(std::move(runtime)), recorder_(recorder) {
  auto total = registry.add_gauge("sluice_alerts_firing", "Alert rules firing now.");
  auto each = registry.add_gauge(
      "sluice_alert_firing", "1 while the alert rule is firing, else 0, by rule name.", {"alert"});
  auto failures = registry.add_counter(
      "sluice_alert_webhook_failures_total",
      "Alert notifications the webhook did not take: delivery (an error, a timeout or a non-2xx "
      "answer) or queue_full (dropped).",
      {"reason"});
  firing_total_ = registry.handle(total);
  webhook_failures_ = registry.handle(failures, {"delivery"});
  webhook_dropped_ = registry.handle(failures, {"queue_full"});
  for (config::AlertRule& rule : rules) {
    State state;
    state.gauge = registry.handle(each, {rule.name});
    state.rule = std::move(rule);
    states_.push_back(std::move(state));
  }
}

Alerts::Measure Alerts::measure(const config::AlertRule& rule) const {
  Measure m;
  switch (rule.kind) {
    case Kind::kMemory:
      if (auto stats = metrics::read_process_stats()) {
        m.value = static_cast<double>(stats->resident_bytes);
        m.firing = *m.value > rule.threshold;
      }
      return m;
    case Kind::kDeploymentEjected: {
      std::shared_ptr<const gateway::Runtime> runtime = runtime_ ? runtime_() : nullptr;
      if (!runtime) return m;
      const auto now = history_.clock().now();
      int out = 0;
      for (const route::ModelRoute& route : runtime->models().routes()) {
        for (std::size_t i = 0; i < route.deployments.size(); ++i) {
          if (!rule.deployment.empty() && route.deployments[i].id != rule.deployment) continue;
          if (!route.health->state(i, now).available) ++out;
        }
      }
      m.value = out;
      m.firing = out > 0;
      return m;
    }
    default:
      break;
  }
  std::optional<Window> window = history_.window(rule.window);
  if (!window) return m;
  m.window_seconds = window->seconds;
  const Totals& t = window->totals;
  switch (rule.kind) {
    case Kind::kErrorRate:
      m.value = share(t.errors, t.requests);
      m.firing = t.requests >= rule.min_requests && *m.value > rule.threshold;
      break;
    case Kind::kRateLimitedShare:
      m.value = share(t.rate_limited, t.requests);
      m.firing = t.requests >= rule.min_requests && *m.value > rule.threshold;
      break;
    case Kind::kCacheHitRate:
      m.value = share(t.hits, t.hits + t.misses);
      m.firing = t.hits + t.misses >= rule.min_requests && *m.value < rule.threshold;
      break;
    case Kind::kP99Latency:
      m.value = quantile(0.99, t.latency, latency_bounds_seconds());
      m.firing = t.latency.total() >= rule.min_requests && *m.value > rule.threshold;
      break;
    default:
      break;
  }
  return m;
}

void Alerts::evaluate() {
  const std::int64_t now_ms = history_.clock().unix_ms();
  std::vector<std::string> notices;
  {
    std::lock_guard lock(mutex_);
    for (State& s : states_) {
      s.last = measure(s.rule);
      if (s.last.firing == s.firing) continue;
      s.firing = s.last.firing;
      s.since_ms = s.firing ? std::optional<std::int64_t>(now_ms) : std::nullopt;
      recorder_.add(s.gauge, s.firing ? 1 : -1);
      recorder_.add(firing_total_, s.firing ? 1 : -1);
      const std::string value = s.last.value ? fmt::format("{:g}", *s.last.value) : "none";
      if (s.firing) {
        spdlog::warn("alert {} firing: {} is {} (threshold {:g})", s.rule.name,
                     config::alert_kind_name(s.rule.kind), value, s.rule.threshold);
      } else {
        spdlog::info("alert {} resolved: {} is {}", s.rule.name,
                     config::alert_kind_name(s.rule.kind), value);
      }
      if (webhook_ != nullptr) {
        json::object body;
        body["alert"] = s.rule.name;
        body["kind"] = config::alert_kind_name(s.rule.kind);
        body["state"] = s.firing ? "firing" : "resolved";
        body["value"] = number_or_null(s.last.value);
        body["threshold"] = threshold_of(s.rule);
        body["window_seconds"] = window_of(s.rule);
        body["at"] = core::utc_rfc3339(now_ms);
        notices.push_back(json::serialize(body));
      }
    }
  }
  for (std::string& body : notices) webhook_->send(std::move(body));
}

json::object Alerts::render() const {
  std::lock_guard lock(mutex_);
  json::array alerts;
  int firing = 0;
  for (const State& s : states_) {
    json::object o;
    o["name"] = s.rule.name;
    o["kind"] = config::alert_kind_name(s.rule.kind);
    o["state"] = s.firing ? "firing" : "ok";
    o["value"] = number_or_null(s.last.value);
    o["threshold"] = threshold_of(s.rule);
    o["window_seconds"] = window_of(s.rule);
    if (!s.rule.deployment.empty()) o["deployment"] = s.rule.deployment;
    if (s.since_ms) {
      o["since"] = core::utc_rfc3339(*s.since_ms);
    } else {
      o["since"] = nullptr;
    }
    firing += s.firing ? 1 : 0;
    alerts.push_back(std::move(o));
  }
  return json::object{{"alerts", std::move(alerts)}, {"firing", firing}};
}

}  // namespace sluice::admin
