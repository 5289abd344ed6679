#include "admin/dashboard.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <optional>
#include <string>

#include "admin/dashboard_assets.h"
#include "admin/query.h"
#include "core/error.h"
#include "gateway/request_context.h"
#include "gateway/respond.h"
#include "gateway/runtime.h"
#include "http/server_session.h"

namespace sluice::admin {

namespace bhttp = beast::http;
using core::Errc;

namespace {

constexpr std::string_view kPrefix = "/dashboard";

// Only the gateway's own files and its own API: no inline script or style, no other origin, no
// framing (the page shows operational data once it has the key).
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";
// The page must be revalidated on every load so that a new binary's page is seen at once; its
// references carry their asset's version, so an asset fetched by that name never changes. An
// asset asked for without its current version (an old page, a module import) is revalidated too.
constexpr std::string_view kRevalidate = "no-cache";
constexpr std::string_view kImmutable = "public, max-age=31536000, immutable";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Whether any If-None-Match line of the request names `etag`.
bool request_matches(const http::Fields& fields, std::string_view etag) {
  for (const http::Fields::Field f : fields) {
    if (f.id == bhttp::field::if_none_match && etag_matches(f.value, etag)) return true;
  }
  return false;
}

}  // namespace

bool is_dashboard_path(std::string_view path) {
  return path == kPrefix || (path.starts_with(kPrefix) && path[kPrefix.size()] == '/');
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  if (trim(if_none_match) == "*") return true;
  while (!if_none_match.empty()) {
    const std::size_t comma = if_none_match.find(',');
    std::string_view tag = trim(if_none_match.substr(0, comma));
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

asio::awaitable<void> serve_dashboard(gateway::RequestContext& ctx) {
  http::ServerSession& session = ctx.session;
  if (ctx.runtime->config().auth.admin_key.empty() && !session.remote().address().is_loopback()) {
    co_return co_await gateway::respond_error(
        ctx, core::Error(Errc::kPermissionDenied,
                         "The dashboard answers only loopback clients until an admin key is "
                         "configured (auth.admin_key or SLUICE_ADMIN_KEY)."));
  }
  const auto method = session.request().method();
  if (method != bhttp::verb::get && method != bhttp::verb::head) {
    static constexpr http::Header kAllow[] = {{"allow", "GET, HEAD"}};
    co_return co_await gateway::respond_error(ctx, gateway::wrong_method(session), kAllow);
  }
  std::string_view name = session.path().substr(kPrefix.size());
  if (name.starts_with('/')) name.remove_prefix(1);
  if (name.empty()) name = "index.html";
  const DashboardAsset* asset = find_dashboard_asset(name);
  if (asset == nullptr) {
    co_return co_await gateway::respond_error(
        ctx, core::Error(Errc::kNotFound, "The dashboard has no file `" + std::string(name) +
                                              "` (GET " + std::string(session.path()) + ")."));
  }
  std::string_view cache_control = kRevalidate;
  if (asset->name != "index.html") {
    const std::optional<std::string> version = query_param(session.request().target(), "v");
    if (version && *version == asset->version) cache_control = kImmutable;
  }
  const http::Header headers[] = {
      {"etag", asset->etag},
      {"cache-control", cache_control},
      {"content-security-policy", kContentSecurityPolicy},
      {"x-content-type-options", "nosniff"},
      {"referrer-policy", "no-referrer"},
  };
  if (request_matches(session.request().fields(), asset->etag)) {
    co_await session.respond(304, {}, {}, headers);
    co_return;
  }
  co_await session.respond(200, asset->content_type, asset->body, headers);
}

const DashboardAsset* find_dashboard_asset(std::string_view name) {
  for (const DashboardAsset& asset : dashboard_assets()) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

}  // namespace sluice::admin
