// Stage 3, "Authenticate" (DESIGN.md): with `auth.mode: keys`, the bearer key of a /v1/ request
// becomes the request's Tenant, or the request is answered 401 in OpenAI's shape (no key, a
// malformed, unknown, revoked or expired one). The admin key guards /admin/ the same way.
//
// Keys are read from `Authorization: Bearer KEY` (what the OpenAI SDKs send) or `x-api-key`
// (what Anthropic's send). A key is never written to a log or echoed in an answer.
//
// The server's own batch jobs (batch/batch_executor.h) send no key: their requests carry
// `x-sluice-batch-secret` (the process's random batch secret, compared in constant time) and
// `x-sluice-batch-owner` (the key id of the batch's owner), and are that key's, with its limits,
// budget and ledger. The owner header without the valid secret is 401, so no client can claim a
// key by its id.
//
// Thread safety: runs on the request's worker.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string_view>

#include "core/asio.h"
#include "gateway/request_context.h"

namespace sluice::gateway {

// The key the client presented, or empty.
std::string_view presented_key(const RequestContext& ctx);

// Sets ctx.tenant (and keeps its snapshot alive in ctx); on failure answers 401 and returns false.
asio::awaitable<bool> authenticate(RequestContext& ctx);

// Whether `presented` is the configured admin key, compared in constant time (as SHA-256
// digests, so the length of the configured key does not show either).
bool admin_key_matches(std::string_view presented, std::string_view configured);

}  // namespace sluice::gateway
