#include "admin/dashboard.h"

#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>

#include <optional>
#include <span>
#include <string>

#include "admin/admin_request.h"
#include "admin/dashboard_assets.h"
#include "core/error.h"
#include "core/strings.h"
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

bool request_accepts_gzip(const http::Fields& fields) {
  for (const http::Fields::Field f : fields) {
    if (f.id == bhttp::field::accept_encoding && accepts_gzip(f.value)) return true;
  }
  return false;
}

// Whether a q parameter's value is zero ("0", "0.", "0.000"), which refuses the coding.
bool zero_q(std::string_view q) {
  if (q.empty() || q.front() != '0') return false;
  q.remove_prefix(1);
  if (q.empty()) return true;
  if (q.front() != '.') return false;
  return q.find_first_not_of('0', 1) == std::string_view::npos;
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

bool accepts_gzip(std::string_view accept_encoding) {
  std::optional<bool> gzip;
  std::optional<bool> any;
  while (!accept_encoding.empty()) {
    const std::size_t comma = accept_encoding.find(',');
    std::string_view item = accept_encoding.substr(0, comma);
    accept_encoding.remove_prefix(comma == std::string_view::npos ? accept_encoding.size()
                                                                  : comma + 1);
    const std::size_t semicolon = item.find(';');
    const std::string_view coding = trim(item.substr(0, semicolon));
    bool refused = false;
    if (semicolon != std::string_view::npos) {
      std::string_view params = item.substr(semicolon + 1);
      while (!params.empty()) {
        const std::size_t next = params.find(';');
        std::string_view param = trim(params.substr(0, next));
        if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
          refused = zero_q(trim(param.substr(2)));
        }
        params.remove_prefix(next == std::string_view::npos ? params.size() : next + 1);
      }
    }
    if (core::iequals(coding, "gzip") || core::iequals(coding, "x-gzip")) gzip = !refused;
    if (coding == "*") any = !refused;
  }
  // A coding named outright wins over "*".
  return gzip ? *gzip : any.value_or(false);
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
  const http::Fields& fields = session.request().fields();
  const bool gzipped = !asset->gzip.empty() && request_accepts_gzip(fields);
  const std::string_view etag = gzipped ? asset->gzip_etag : asset->etag;
  const http::Header headers[] = {
      {"etag", etag},
      {"cache-control", cache_control},
      {"content-security-policy", kContentSecurityPolicy},
      {"x-content-type-options", "nosniff"},
      {"referrer-policy", "no-referrer"},
      // The last two only for an asset with a gzipped copy: which form is sent depends on the
      // request's accept-encoding, and the gzipped one says what it is.
      {"vary", "accept-encoding"},
      {"content-encoding", "gzip"},
  };
  const std::size_t common = asset->gzip.empty() ? 5 : 6;
  if (request_matches(fields, etag)) {
    // A 304 carries the fields a 200 would have that describe the cached copy (RFC 9110, 15.4.5).
    co_await session.respond(304, {}, {}, std::span(headers).first(common));
    co_return;
  }
  co_await session.respond(200, asset->content_type, gzipped ? asset->gzip : asset->body,
                           std::span(headers).first(common + (gzipped ? 1 : 0)));
}

const DashboardAsset* find_dashboard_asset(std::string_view name) {
  for (const DashboardAsset& asset : dashboard_assets()) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

}  // namespace sluice::admin
