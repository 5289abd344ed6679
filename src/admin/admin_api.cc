#include "admin/admin_api.h"

#include <boost/json/serialize.hpp>

#include <charconv>
#include <chrono>
#include <optional>
#include <string>

#include "admin/admin_request.h"
#include "admin/config_api.h"
#include "admin/cpu_profile.h"
#include "admin/dashboard.h"
#include "admin/deployments_view.h"
#include "admin/keys_api.h"
#include "admin/stats_api.h"
#include "cache/coalescer.h"
#include "cache/tiered_cache.h"
#include "gateway/auth_stage.h"
#include "gateway/reloader.h"
#include "gateway/request_context.h"
#include "gateway/respond.h"
#include "gateway/runtime.h"
#include "http/server_session.h"

namespace sluice::admin {

namespace bhttp = beast::http;
using core::Errc;

namespace {

constexpr std::string_view kJson = "application/json";

// GET /admin/profile/cpu?seconds=N: how long to profile, whole seconds.
constexpr int kMinProfileSeconds = 1;
constexpr int kMaxProfileSeconds = 60;
constexpr int kDefaultProfileSeconds = 10;

// The `seconds` parameter, or an error naming it.
core::Result<int> profile_seconds(std::string_view target) {
  std::optional<std::string> text = query_param(target, "seconds");
  if (!text) return kDefaultProfileSeconds;
  int n = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, n);
  if (text->empty() || ec != std::errc() || ptr != end || n < kMinProfileSeconds ||
      n > kMaxProfileSeconds) {
    return core::fail(Errc::kInvalidRequest,
                      "seconds must be a whole number from " + std::to_string(kMinProfileSeconds) +
                          " to " + std::to_string(kMaxProfileSeconds) + ", got \"" + *text + "\".",
                      "seconds");
  }
  return n;
}

}  // namespace

asio::awaitable<void> AdminApi::handle(gateway::RequestContext& ctx) {
  http::ServerSession& session = ctx.session;
  // The dashboard's page and assets hold no data: they have their own access rule.
  if (is_dashboard_path(session.path())) co_return co_await serve_dashboard(ctx);
  const std::string& admin_key = ctx.runtime->config().auth.admin_key;
  if (!admin_key.empty()) {
    if (!gateway::admin_key_matches(gateway::presented_key(ctx), admin_key)) {
      co_return co_await gateway::respond_error(
          ctx, core::Error(Errc::kUnauthorized,
                           "The admin API needs the admin key (auth.admin_key or "
                           "SLUICE_ADMIN_KEY) as a bearer key."));
    }
  } else if (!session.remote().address().is_loopback()) {
    co_return co_await gateway::respond_error(
        ctx, core::Error(Errc::kPermissionDenied,
                         "The admin API answers only loopback clients until an admin key is "
                         "configured (auth.admin_key or SLUICE_ADMIN_KEY)."));
  }
  std::string_view path = session.path();
  if (path == "/admin/cache") co_return co_await cache(ctx);
  if (path == "/admin/deployments") co_return co_await deployments(ctx);
  if (path == "/admin/reload" && reloader_ != nullptr) co_return co_await reload(ctx);
  if (path == "/admin/config" && reloader_ != nullptr) {
    co_return co_await serve_config(ctx, *reloader_);
  }
  if (path == "/admin/stats") co_return co_await serve_stats(ctx, stats_);
  if (path == "/admin/alerts") co_return co_await serve_alerts(ctx, alerts_);
  if (path == "/admin/profile/cpu") co_return co_await cpu_profile(ctx);
  if ((path == "/admin/keys" || path.starts_with("/admin/keys/") || path == "/admin/usage") &&
      control_plane_ == nullptr) {
    co_return co_await gateway::respond_error(
        ctx, core::Error(Errc::kNotFound,
                         "Keys and usage need a control plane: set data_dir in the "
                         "configuration."));
  }
  if (path == "/admin/keys" || path.starts_with("/admin/keys/")) {
    co_return co_await serve_keys(ctx, *control_plane_);
  }
  if (path == "/admin/usage") co_return co_await serve_usage(ctx, *control_plane_);
  co_await gateway::respond_error(
      ctx, core::Error(Errc::kNotFound, "Invalid URL (" +
                                            std::string(session.request().method_string()) + " " +
                                            std::string(session.path()) + ")."));
}

asio::awaitable<void> AdminApi::cache(gateway::RequestContext& ctx) {
  http::ServerSession& session = ctx.session;
  auto method = session.request().method();
  if (method == bhttp::verb::get || method == bhttp::verb::head) {
    json::object body;
    if (cache_ != nullptr) {
      body = cache_->stats();
      body["enabled"] = ctx.runtime->config().cache.enabled;
    } else {
      body["enabled"] = false;
    }
    if (coalescer_ != nullptr) {
      body["coalescing"] = coalescer_->stats();
    } else {
      body["coalescing"] = json::object{{"enabled", false}};
    }
    co_await session.respond(200, kJson, json::serialize(body));
    co_return;
  }
  if (method == bhttp::verb::delete_) {
    if (cache_ == nullptr) {
      co_await session.respond(200, kJson, R"({"deleted":0})");
      co_return;
    }
    std::optional<std::string> ns = query_param(session.request().target(), "namespace");
    if (ns && ns->empty()) {
      co_return co_await gateway::respond_error(
          ctx, core::Error(Errc::kInvalidRequest, "The namespace parameter must not be empty.",
                           "namespace"));
    }
    json::object body;
    body["deleted"] = co_await cache_->clear(ns ? *ns : std::string_view());
    if (ns) body["namespace"] = *ns;
    co_await session.respond(200, kJson, json::serialize(body));
    co_return;
  }
  static constexpr http::Header kAllow[] = {{"allow", "GET, HEAD, DELETE"}};
  co_await gateway::respond_error(ctx, gateway::wrong_method(session), kAllow);
}

asio::awaitable<void> AdminApi::deployments(gateway::RequestContext& ctx) {
  http::ServerSession& session = ctx.session;
  auto method = session.request().method();
  if (method != bhttp::verb::get && method != bhttp::verb::head) {
    static constexpr http::Header kAllow[] = {{"allow", "GET, HEAD"}};
    co_return co_await gateway::respond_error(ctx, gateway::wrong_method(session), kAllow);
  }
  json::object body = deployments_view(ctx.runtime->models(), core::SteadyClock::instance());
  co_await session.respond(200, kJson, json::serialize(body));
}

asio::awaitable<void> AdminApi::cpu_profile(gateway::RequestContext& ctx) {
  http::ServerSession& session = ctx.session;
  // GET only: a HEAD would profile for nothing.
  if (session.request().method() != bhttp::verb::get) {
    static constexpr http::Header kAllow[] = {{"allow", "GET"}};
    co_return co_await gateway::respond_error(ctx, gateway::wrong_method(session), kAllow);
  }
  core::Result<int> seconds = profile_seconds(session.request().target());
  if (!seconds) co_return co_await gateway::respond_error(ctx, seconds.error());
  // A client that leaves cancels the wait, which stops the profiler at once.
  session.watch_client();
  core::Result<std::string> profile = co_await profiler_->take(std::chrono::seconds(*seconds));
  session.unwatch_client();
  if (!profile) {
    if (profile.error().code == Errc::kCancelled) co_return;  // nobody to answer
    co_return co_await gateway::respond_error(ctx, profile.error());
  }
  static constexpr http::Header kAttachment[] = {
      {"content-disposition", "attachment; filename=\"sluice.cpu.prof\""}};
  co_await session.respond(200, "application/octet-stream", *profile, kAttachment);
}

}  // namespace sluice::admin

namespace sluice::admin {

namespace {

json::object reload_outcome(const gateway::Reloader::Outcome& outcome) {
  json::object body;
  body["reloaded"] = true;
  body["version"] = outcome.version;
  json::array kept;
  for (const std::string& path : outcome.restart_required) kept.emplace_back(path);
  body["restart_required"] = std::move(kept);
  return body;
}

}  // namespace

asio::awaitable<void> AdminApi::reload(gateway::RequestContext& ctx) {
  http::ServerSession& session = ctx.session;
  if (session.request().method() != bhttp::verb::post) {
    static constexpr http::Header kAllow[] = {{"allow", "POST"}};
    co_return co_await gateway::respond_error(ctx, gateway::wrong_method(session), kAllow);
  }
  // Reading and validating the file, and building the snapshot, take a few milliseconds: an admin
  // operation may spend them on the worker.
  auto outcome = reloader_->reload_file();
  if (!outcome) co_return co_await gateway::respond_error(ctx, outcome.error());
  co_await session.respond(200, kJson, json::serialize(reload_outcome(*outcome)));
}

}  // namespace sluice::admin
