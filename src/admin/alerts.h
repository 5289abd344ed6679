// Alerts (docs/observability.md, "Alerts"): the `alerts.rules` of the configuration, evaluated
// after every tick of the stats sampler on the same readings the performance API shows, and
// their state for GET /admin/alerts.
//
// A rule is ok or firing. Rates (error_rate, cache_hit_rate, rate_limited_share) and the p99
// latency are measured over the rule's window, the difference between the newest reading and the
// one a window before it (admin/stats_history.h); a window with fewer than `min_requests`
// requests (hits and misses, for the hit rate) has nothing to say, and the rule is ok: no traffic
// raises no alarm, and a firing rule resolves when its traffic stops. memory and
// deployment_ejected read the state at each tick. There is no `for:` hold time: the window
// already smooths the rates, and a state read at a tick is what an operator wants to know at
// once.
//
// A change of state (ok -> firing, firing -> ok) is logged (warn when firing, info when
// resolved), shown by sluice_alert_firing{alert} and sluice_alerts_firing, and queued for the
// webhook when one is configured (admin/alert_webhook.h).
//
// Thread safety: evaluate() on the sampler's thread; render() from any thread (one mutex).
#pragma once

#include <boost/json/object.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "admin/stats_history.h"
#include "config/config.h"
#include "core/asio.h"
#include "metrics/metrics_registry.h"

namespace sluice::gateway {
class Runtime;
}

namespace sluice::admin {

class AlertWebhook;

class Alerts {
 public:
  // The snapshot whose deployments deployment_ejected reads, as of each evaluation.
  using RuntimeSource = std::function<std::shared_ptr<const gateway::Runtime>()>;

  // Declares the alert families on `registry`; `recorder` is the sampler thread's.
  Alerts(std::vector<config::AlertRule> rules, const StatsHistory& history, RuntimeSource runtime,
         metrics::MetricsRegistry& registry, metrics::WorkerMetrics& recorder);

  // The webhook failure counter's series, for the webhook to count into.
  metrics::CounterHandle webhook_failures() const { return webhook_failures_; }
  metrics::CounterHandle webhook_dropped() const { return webhook_dropped_; }
  // Where state changes are sent; null: nowhere. Set before the sampler starts.
  void set_webhook(AlertWebhook* webhook) { webhook_ = webhook; }

  void evaluate();

  // {"alerts": [...], "firing": n}: every rule, in configuration order.
  json::object render() const;

 private:
  struct Measure {
    std::optional<double> value;  // null when there is nothing to measure
    bool firing = false;
    double window_seconds = 0;  // the real length measured; 0 for state read at a tick
  };
  struct State {
    config::AlertRule rule;
    bool firing = false;
    Measure last;
    std::optional<std::int64_t> since_ms;  // when it started firing
    metrics::GaugeHandle gauge;
  };

  Measure measure(const config::AlertRule& rule) const;

  const StatsHistory& history_;
  RuntimeSource runtime_;
  metrics::WorkerMetrics& recorder_;
  metrics::GaugeHandle firing_total_;
  metrics::CounterHandle webhook_failures_, webhook_dropped_;
  AlertWebhook* webhook_ = nullptr;
  mutable std::mutex mutex_;
  std::vector<State> states_;
};

}  // namespace sluice::admin
