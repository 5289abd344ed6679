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
