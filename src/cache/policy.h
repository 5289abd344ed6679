// Whether and how one request uses the cache: the configuration's policy (cache.enabled, the
// endpoints, only_deterministic, ttl) narrowed by the request's own headers (docs/caching.md,
// "Policy"):
//
//   Cache-Control: no-cache    skip the lookup, store the fresh answer
//   Cache-Control: no-store    neither look up nor store
//   Cache-Control: max-age=N   accept only entries stored less than N seconds ago
//   x-sluice-cache-ttl: N      store the answer for N seconds (0: do not store)
//
// A malformed value of a header the gateway acts on is a 400 that names it: silently ignoring
// "max-age=ten" would serve answers the client meant to refuse.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "api/endpoint.h"
#include "config/config.h"
#include "core/error.h"
#include "http/message.h"

namespace sluice::cache {

struct Policy {
  bool lookup = false;  // may answer from the cache
  bool store = false;   // may store the fresh answer
  // Only entries younger than this serve the request; negative means any live entry.
  std::int64_t max_age_ms = -1;
  std::int64_t ttl_ms = 0;  // how long a stored answer lives
  // Why the request neither looks up nor may be answered from the cache, for the access log.
  std::string_view bypass_reason;
};

// Whether answers of `endpoint` are cached at all.
bool endpoint_cached(const config::Cache& config, api::Endpoint endpoint);

// The policy for a request with `headers` whose answer is reproducible when `deterministic`.
core::Result<Policy> request_policy(const config::Cache& config, const http::Fields& headers,
                                    bool deterministic);

}  // namespace sluice::cache
