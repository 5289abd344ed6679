// The admin API's keys and usage routes (docs/keys-and-limits.md):
//   POST   /admin/keys          create a key; the answer shows its secret, once
//   GET    /admin/keys          every key (revoked ones included), never a secret or a hash
//   GET    /admin/keys/{id}     one key
//   PATCH  /admin/keys/{id}     change its name, models, limits, budget, namespace, expiry,
//   metadata DELETE /admin/keys/{id}     revoke it (in effect on every worker before the answer is
//   sent) GET    /admin/usage?group_by=key|model|day&from=&to=&key=
// Every database access runs on the control plane's thread; the worker only awaits it.
//
// Thread safety: runs on the request's worker; the control plane and directory are thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "core/asio.h"
#include "gateway/request_context.h"

namespace sluice::store {
class ControlPlane;
}

namespace sluice::admin {

// /admin/keys and /admin/keys/{id}. The control plane hands a change to the gateway's keys before
// the answer is sent, so a created key works and a revoked one stops at once on this instance.
asio::awaitable<void> serve_keys(gateway::RequestContext& ctx, store::ControlPlane& control_plane);

// /admin/usage: the ledger report, after what is queued has been written.
asio::awaitable<void> serve_usage(gateway::RequestContext& ctx, store::ControlPlane& control_plane);

}  // namespace sluice::admin
