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
