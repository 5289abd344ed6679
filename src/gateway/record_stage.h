// Stage 12, "Record" (DESIGN.md), for inference requests: what the request used and cost, what
// the cache or coalescing saved, the token reservation settled against the real usage, the key's
// budget charged, and one row for the usage ledger (written in batches by the control plane, off
// the worker thread). Runs after the answer went out, whatever the way the request ended.
//
// Cost is priced with the deployment that answered ((prompt - cached) x input + cached x
// cached_input + completion x output, per million tokens); a cache hit or a coalesced request
// saved what its answer would have cost on the model's first deployment.
//
// Thread safety: runs on the request's worker; the services it feeds are thread-safe.
#pragma once

#include "gateway/request_context.h"

namespace sluice::gateway {

void record_usage(RequestContext& ctx);

// USD for `usage` at `price`.
double cost_of(const api::Usage& usage, const config::Deployment& price);

}  // namespace sluice::gateway
