#include "gateway/server_timing.h"

#include <fmt/format.h>

#include "gateway/request_context.h"
#include "http/server_session.h"

namespace sluice::gateway {

std::string server_timing(const RequestContext& ctx, std::chrono::steady_clock::time_point now,
                          bool cache_hit) {
  using Ms = std::chrono::duration<double, std::milli>;
  const double total = Ms(now - ctx.session.started()).count();
  if (cache_hit) return fmt::format("cache;desc=hit;dur={0:.3f}, total;dur={0:.3f}", total);
  double upstream = 0;
  if (ctx.upstream_started != std::chrono::steady_clock::time_point{}) {
    auto end = ctx.upstream_finished > ctx.upstream_started ? ctx.upstream_finished : now;
    upstream = Ms(end - ctx.upstream_started).count();
  }
  return fmt::format("gateway;dur={:.3f}, upstream;dur={:.3f}, total;dur={:.3f}",
                     std::max(0.0, total - upstream), upstream, total);
}

}  // namespace sluice::gateway
