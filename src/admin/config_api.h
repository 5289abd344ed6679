// GET and PATCH /admin/config (docs/observability.md, "Configuration at run time").
//
// GET answers the running configuration, defaults filled in and secrets redacted
// (config::to_json). PATCH takes a JSON merge patch (RFC 7386) of that document, with one
// addition: `models` and `providers`, given as an object keyed by name instead of a list, patch
// the entries of those names and leave the others alone. The patched document is validated by
// the same loader as the file, and applied like a reload, except that a change to a setting that
// needs a restart is refused (400) and nothing is changed. The change is not written to the file:
// the next reload reads the file again.
//
// Thread safety: runs on the request's worker; the reloader serializes the change.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/value.hpp>

#include "core/asio.h"
#include "core/error.h"
#include "gateway/request_context.h"

namespace sluice::gateway {
class Reloader;
}

namespace sluice::admin {

asio::awaitable<void> serve_config(gateway::RequestContext& ctx, gateway::Reloader& reloader);

// `patch` merged into `doc` as described above; an error names what could not be merged.
core::Result<void> merge_config_patch(boost::json::value& doc, const boost::json::value& patch);

}  // namespace sluice::admin
