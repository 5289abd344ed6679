// GET /dashboard: the live dashboard's page and its assets (docs/observability.md, "Dashboard"),
// served from the copies compiled into the binary (dashboard_assets.h).
//
// The page and its assets carry no data, so with an admin key configured they are served to any
// client without it (a browser cannot send a bearer key when it navigates); the page asks for the
// key when /admin/ answers 401 and sends it on its own requests. Without an admin key they are
// served to loopback clients only, as /admin/ is. Every answer has a strong ETag and honours
// If-None-Match with a 304; the page is `no-cache` (always revalidated), a versioned asset
// (`?v=` matching its content) may be kept for a year. Text goes gzipped to a client that accepts
// it. A content-security-policy allows only the gateway's own scripts, styles and fetches.
//
// Thread safety: stateless; runs on the request's worker.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string_view>

#include "core/asio.h"

namespace sluice::gateway {
struct RequestContext;
}

namespace sluice::admin {

// Whether `path` is the dashboard's: "/dashboard" or under "/dashboard/".
bool is_dashboard_path(std::string_view path);

// Whether an If-None-Match value names `etag` (a quoted strong tag), by the weak comparison
// RFC 9110 (13.1.2) prescribes for it: "*", or a comma-separated list in which `etag` appears
// with or without "W/".
bool etag_matches(std::string_view if_none_match, std::string_view etag);

// Whether an Accept-Encoding value accepts gzip: "gzip" or "*" listed, without "q=0".
bool accepts_gzip(std::string_view accept_encoding);

// Answers a request for a dashboard path.
asio::awaitable<void> serve_dashboard(gateway::RequestContext& ctx);

}  // namespace sluice::admin
