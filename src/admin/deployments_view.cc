#include "admin/deployments_view.h"

#include <boost/json/array.hpp>

#include <cmath>

namespace sluice::admin {

namespace {

json::value unix_ms_or_null(const std::optional<core::Clock::time_point>& t,
                            core::Clock::time_point now, std::int64_t unix_now) {
  if (!t || *t <= now) return nullptr;
  return unix_now + std::chrono::duration_cast<std::chrono::milliseconds>(*t - now).count();
}

// The one word an operator looks for first: why, if at all, it gets no traffic.
std::string_view state_word(const route::HealthGroup::MemberState& s, core::Clock::time_point now) {
  if (s.probe_down) return "probe_down";
  if (s.ejected_until && *s.ejected_until > now) return "ejected";
  if (s.breaker == route::BreakerState::kOpen) return "breaker_open";
  if (s.cooldown_until && *s.cooldown_until > now) return "cooling_down";
  if (s.breaker == route::BreakerState::kHalfOpen) return "half_open";
  return "healthy";
}

double round3(double v) { return std::round(v * 1000) / 1000; }

}  // namespace

json::object deployments_view(const route::ModelRegistry& registry, const core::Clock& clock) {
  const auto now = clock.now();
  const std::int64_t unix_now = clock.unix_ms();
  json::array models;
  for (const route::ModelRoute& route : registry.routes()) {
    json::array deployments;
    for (std::size_t i = 0; i < route.deployments.size(); ++i) {
      const route::Deployment& d = route.deployments[i];
      const auto health = route.health->state(i, now);
      json::object o;
      o["id"] = d.id;
      o["provider"] = d.provider->name();
      // A pattern model without `model` sends whatever name the client asked for.
      if (!d.model.empty()) {
        o["upstream_model"] = d.model;
      } else if (route.pattern) {
        o["upstream_model"] = nullptr;
      } else {
        o["upstream_model"] = route.name;
      }
      o["state"] = state_word(health, now);
      o["available"] = health.available;
      o["priority"] = d.config->priority;
      o["weight"] = d.config->weight;
      o["in_flight"] = d.load->in_flight();
      if (const auto limit = d.concurrency_limit(); limit > 0) {
        o["concurrency_limit"] = limit;
      } else {
        o["concurrency_limit"] = nullptr;
      }
      o["ewma_latency_ms"] = round3(d.load->latency_ms(now));
      const std::uint64_t requests = d.load->requests();
      const std::uint64_t failures = d.load->failures();
      o["requests"] = requests;
      o["failures"] = failures;
      o["error_rate"] = requests > 0
                            ? round3(static_cast<double>(failures) / static_cast<double>(requests))
                            : 0.0;
      o["breaker"] = route::breaker_state_name(health.breaker);
      o["breaker_failure_ratio"] = round3(health.failure_ratio);
      o["ejected_until"] = unix_ms_or_null(health.ejected_until, now, unix_now);
      o["cooldown_until"] = unix_ms_or_null(health.cooldown_until, now, unix_now);
      o["consecutive_failures"] = health.consecutive_failures;
      o["times_ejected"] = health.times_ejected;
      if (d.config->rpm > 0 || d.config->tpm > 0) {
        const auto used = d.load->usage(now);
        json::object usage;
        usage["requests_last_minute"] = round3(used.requests);
        usage["tokens_last_minute"] = round3(used.tokens);
        usage["rpm"] = d.config->rpm;
        usage["tpm"] = d.config->tpm;
        o["usage"] = std::move(usage);
      }
      deployments.push_back(std::move(o));
    }
    json::object m;
    m["model"] = route.name;
    m["strategy"] = config::strategy_name(route.config->strategy);
    m["retry_budget"] = json::object{{"requests_in_flight", route.in_flight()},
                                     {"retries_in_flight", route.budget->retries()}};
    m["queued"] = route.queue->waiting();
    m["deployments"] = std::move(deployments);
    models.push_back(std::move(m));
  }
  json::object out;
  out["object"] = "list";
  out["data"] = std::move(models);
  return out;
}

}  // namespace sluice::admin
