#include "gateway/record_stage.h"

#include <chrono>

#include "gateway/runtime.h"
#include "gateway/tenants.h"
#include "gateway/worker_state.h"
#include "http/server_session.h"
#include "store/control_plane.h"

namespace sluice::gateway {

double cost_of(const api::Usage& usage, const config::Deployment& price) {
  std::uint64_t cached = std::min(usage.cached_tokens, usage.prompt_tokens);
  double usd = static_cast<double>(usage.prompt_tokens - cached) * price.input_cost_per_mtok +
               static_cast<double>(cached) * price.cached_input_cost_per_mtok +
               static_cast<double>(usage.completion_tokens) * price.output_cost_per_mtok;
  return usd / 1e6;
}

void record_usage(RequestContext& ctx) {
  Services& services = ctx.worker.services;
  bool saved_call = ctx.cache_result == "hit" || ctx.cache_result == "coalesced";
  bool upstream_answered = !saved_call && ctx.upstream_status != 0;

  // What the upstream counted is what its limits and bills count; hits and joiners used none.
  if (saved_call) {
    ctx.admission.settle(0, false);
  } else if (ctx.usage) {
    ctx.admission.settle(ctx.usage->total(), true);
  } else {
    ctx.admission.settle(std::nullopt, upstream_answered);
  }

  double cost = 0;
  double saved = 0;
  if (ctx.usage) {
    if (saved_call) {
      if (ctx.route != nullptr && !ctx.route->deployments.empty()) {
        saved = cost_of(*ctx.usage, *ctx.route->deployments.front().config);
      }
    } else if (ctx.deployment_config != nullptr) {
      cost = cost_of(*ctx.usage, *ctx.deployment_config);
    }
  }
  ctx.cost_usd = cost;
  ctx.saved_usd = saved;
  std::int64_t now_ms = services.clock->unix_ms();
  if (ctx.tenant != nullptr && cost > 0) services.budgets->add(ctx.tenant->key.id, cost, now_ms);

  if (services.control_plane == nullptr) return;
  store::UsageRow row;
  row.at_ms = now_ms;
  row.request_id = std::string(ctx.session.request_id());
  if (ctx.tenant != nullptr) row.key_id = ctx.tenant->key.id;
  row.model = std::string(ctx.model);
  row.deployment = std::string(ctx.deployment);
  row.endpoint = ctx.endpoint ? std::string(api::endpoint_name(*ctx.endpoint)) : "";
  row.cache_result = std::string(ctx.cache_result);
  row.status = ctx.session.status();
  if (ctx.usage) {
    row.prompt_tokens = ctx.usage->prompt_tokens;
    row.completion_tokens = ctx.usage->completion_tokens;
    row.cached_tokens = ctx.usage->cached_tokens;
  }
  row.cost_usd = cost;
  row.saved_usd = saved;
  row.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() -
                                                             ctx.session.started())
                       .count();
  services.control_plane->record(std::move(row));
}

}  // namespace sluice::gateway
