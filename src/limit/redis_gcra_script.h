// The Lua script that runs GCRA inside Redis for RedisGcra (redis_gcra.h), and its SHA-1 for
// EVALSHA. One script for the three operations, so there is one thing to load after a restart.
// Constants; safe from any thread.
#pragma once

#include <string_view>

namespace sluice::limit {

// KEYS: one bucket per charge. ARGV[1]: "a" (acquire), "r" (release) or "c" (consume); ARGV[2]:
// the time in microseconds since the Unix epoch, or "" for Redis's own clock (TIME); then per
// charge, for "a": the cost's span (cost x interval, ns), the tolerance (ns) and "1" when the
// cost exceeds the burst (else "0"); for "r" and "c": the span.
//
// "a" answers an array: the 1-based index of the first charge refused (0 when all were taken),
// then for each charge how far its TAT lay ahead of now (ns) when it was decided (a charge after
// an earlier one in the same call on the same key sees that one taken; when the call is refused,
// the other charges report their bucket as it stands, nothing taken). "r" and "c" answer 0.
std::string_view redis_gcra_script();

// Lower-case hex, as SCRIPT LOAD answers it.
std::string_view redis_gcra_script_sha1();

}  // namespace sluice::limit
