// The `server-timing` header of an answer (docs/observability.md, "server-timing"): where the
// request's time went, as the browser's devtools and curl -v show it. Durations are in
// milliseconds as of the moment the answer's head is written, so a stream's head tells the time
// to the upstream's first byte, not the stream's length.
//
// Pure function of the request's context; thread-safe as values.
#pragma once

#include <chrono>
#include <string>

namespace sluice::gateway {

struct RequestContext;

// "gateway;dur=G, upstream;dur=U, total;dur=T": T since the request arrived, U of it in the
// routing stage (balancing, attempts, retries, until the answer or its first byte), G the rest.
// A cache hit: "cache;desc=hit;dur=T, total;dur=T".
std::string server_timing(const RequestContext& ctx, std::chrono::steady_clock::time_point now,
                          bool cache_hit = false);

}  // namespace sluice::gateway
