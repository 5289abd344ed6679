#include "config/config.h"

namespace sluice::config {

// A linear scan: configurations hold a handful of providers, and lookups happen when routing
// tables are built, not per request.
const Provider* Config::find_provider(std::string_view name) const {
  for (const Provider& p : providers) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace sluice::config

namespace sluice::config {

namespace {
constexpr std::string_view kStrategyNames[] = {"round-robin",     "weighted", "random",
                                               "least-requests",  "latency",  "p2c-ewma",
                                               "consistent-hash", "usage",    "cost"};
}  // namespace

std::string_view strategy_name(Strategy strategy) {
  return kStrategyNames[static_cast<std::size_t>(strategy)];
}

std::optional<Strategy> parse_strategy(std::string_view name) {
  for (Strategy s : kStrategies) {
    if (strategy_name(s) == name) return s;
  }
  return std::nullopt;
}

}  // namespace sluice::config

namespace sluice::config {

namespace {
constexpr std::string_view kAlertKindNames[] = {"cache_hit_rate", "error_rate",
                                                "p99_latency",    "rate_limited_share",
                                                "memory",         "deployment_ejected"};
}  // namespace

std::string_view alert_kind_name(AlertRule::Kind kind) {
  return kAlertKindNames[static_cast<std::size_t>(kind)];
}

std::optional<AlertRule::Kind> parse_alert_kind(std::string_view name) {
  for (AlertRule::Kind k : kAlertKinds) {
    if (alert_kind_name(k) == name) return k;
  }
  return std::nullopt;
}

bool alert_kind_has_window(AlertRule::Kind kind) {
  return kind != AlertRule::Kind::kMemory && kind != AlertRule::Kind::kDeploymentEjected;
}

}  // namespace sluice::config

namespace sluice::config {

namespace {
constexpr std::string_view kProviderKindNames[] = {"openai", "azure", "anthropic", "gemini",
                                                   "mock"};
}  // namespace

std::string_view provider_kind_name(ProviderKind kind) {
  return kProviderKindNames[static_cast<std::size_t>(kind)];
}

std::optional<ProviderKind> parse_provider_kind(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kProviderKindNames); ++i) {
    if (kProviderKindNames[i] == name) return static_cast<ProviderKind>(i);
  }
  return std::nullopt;
}

}  // namespace sluice::config
