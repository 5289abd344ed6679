// W3C Trace Context (https://www.w3.org/TR/trace-context/): whether a client's `traceparent`
// header is well formed, so that the gateway passes on to the provider only what a tracer there
// can use. Sluice does not trace spans itself; it keeps a trace connected across the hop.
//
// Pure functions; thread-safe.
#pragma once

#include <string_view>

namespace sluice::http {

// "00-<32 lowercase hex trace-id>-<16 lowercase hex parent-id>-<2 hex flags>", neither id all
// zeros. A later version (not "ff") may append "-..." fields, which are accepted as the spec
// asks.
bool valid_traceparent(std::string_view value);

}  // namespace sluice::http
