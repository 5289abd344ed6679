// Process-wide logging setup (spdlog, to stderr). Operational messages only: keys and prompts are
// never logged (DESIGN.md, "Security defaults"); requests go to the separate access log.
//
// Thread safety: call setup_logging() once at startup, before the workers start.
#pragma once

#include <string>

namespace sluice::core {

// `level` is trace, debug, info, warn, error or off. Returns false for an unknown level (info is
// used then).
bool setup_logging(const std::string& level);

}  // namespace sluice::core
