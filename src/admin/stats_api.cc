#include "admin/stats_api.h"

#include <boost/json/serialize.hpp>

#include "admin/alerts.h"
#include "admin/stats_history.h"
#include "gateway/respond.h"
#include "http/server_session.h"

namespace sluice::admin {

namespace bhttp = beast::http;
using core::Errc;

namespace {

constexpr std::string_view kJson = "application/json";

bool is_get(const http::ServerSession& session) {
  auto method = session.request().method();
  return method == bhttp::verb::get || method == bhttp::verb::head;
}

}  // namespace

asio::awaitable<void> serve_stats(gateway::RequestContext& ctx, const StatsHistory* history) {
  http::ServerSession& session = ctx.session;
  if (!is_get(session)) {
    static constexpr http::Header kAllow[] = {{"allow", "GET, HEAD"}};
    co_return co_await gateway::respond_error(ctx, gateway::wrong_method(session), kAllow);
  }
  if (history == nullptr) {
    co_return co_await gateway::respond_error(
        ctx, core::Error(Errc::kNotFound, "The performance API needs metrics, which are off."));
  }
  static constexpr http::Header kNoStore[] = {{"cache-control", "no-store"}};
  co_await session.respond(200, kJson, json::serialize(history->render()), kNoStore);
}

asio::awaitable<void> serve_alerts(gateway::RequestContext& ctx, const Alerts* alerts) {
  http::ServerSession& session = ctx.session;
  if (!is_get(session)) {
    static constexpr http::Header kAllow[] = {{"allow", "GET, HEAD"}};
    co_return co_await gateway::respond_error(ctx, gateway::wrong_method(session), kAllow);
  }
  if (alerts == nullptr) {
    co_return co_await gateway::respond_error(
        ctx, core::Error(Errc::kNotFound, "Alerts need metrics, which are off."));
  }
  static constexpr http::Header kNoStore[] = {{"cache-control", "no-store"}};
  co_await session.respond(200, kJson, json::serialize(alerts->render()), kNoStore);
}

}  // namespace sluice::admin
