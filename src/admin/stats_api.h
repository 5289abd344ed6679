// The admin API's performance routes (docs/observability.md, "Performance API" and "Alerts"):
//   GET /admin/stats    windows, totals, top models and keys, the last five minutes' series
//   GET /admin/alerts   every alert rule's state as of the sampler's last tick
// The answer is computed when asked, from one more reading of the metrics registry and the
// history the sampler keeps, so traffic answered a moment ago is already counted.
//
// Thread safety: runs on the request's worker; the history is thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "core/asio.h"
#include "gateway/request_context.h"

namespace sluice::admin {

class Alerts;
class StatsHistory;

// GET or HEAD; other methods 405. `history` null: metrics are off, so there is nothing to show
// (404).
asio::awaitable<void> serve_stats(gateway::RequestContext& ctx, const StatsHistory* history);

// GET or HEAD; other methods 405. `alerts` null: metrics are off (404).
asio::awaitable<void> serve_alerts(gateway::RequestContext& ctx, const Alerts* alerts);

}  // namespace sluice::admin
