#include "admin/keys_api.h"

#include <boost/json.hpp>

#include <optional>
#include <string>
#include <utility>

#include "admin/admin_request.h"
#include "core/clock.h"
#include "gateway/respond.h"
#include "gateway/worker_state.h"
#include "http/server_session.h"
#include "store/control_plane.h"
#include "store/keys.h"
#include "store/usage.h"

namespace sluice::admin {

namespace bhttp = beast::http;
using core::Errc;

namespace {

constexpr std::string_view kJson = "application/json";

// What a keys operation on the store thread gives back: the key (and for a create its secret),
// or the error.
struct KeyOutcome {
  std::optional<core::Error> error;
  json::value body;
};

KeyOutcome outcome_of(core::Result<store::KeyRecord> r) {
  if (!r) return {r.error(), nullptr};
  return {std::nullopt, store::key_json(*r)};
}

}  // namespace

asio::awaitable<void> serve_keys(gateway::RequestContext& ctx, store::ControlPlane& control_plane) {
  http::ServerSession& session = ctx.session;
  auto method = session.request().method();
  std::string_view path = session.path();
  std::string id;
  if (path.size() > std::string_view("/admin/keys/").size()) {
    id = std::string(path.substr(std::string_view("/admin/keys/").size()));
  } else if (path != "/admin/keys" && path != "/admin/keys/") {
    co_return co_await gateway::respond_error(
        ctx, core::Error(Errc::kNotFound, "Invalid URL (" + std::string(path) + ")."));
  }
  const std::int64_t now_ms = ctx.worker.services.clock->unix_ms();

  std::optional<store::KeySpec> spec;
  if (method == bhttp::verb::post || method == bhttp::verb::patch) {
    auto body = parse_json_object(session.request().body());
    if (!body) co_return co_await gateway::respond_error(ctx, body.error());
    auto parsed = store::parse_key_spec(
        *body, method == bhttp::verb::post ? store::SpecMode::kCreate : store::SpecMode::kPatch);
    if (!parsed) co_return co_await gateway::respond_error(ctx, parsed.error());
    spec = std::move(*parsed);
  }

  KeyOutcome outcome;
  int status = 200;
  if (id.empty() && (method == bhttp::verb::get || method == bhttp::verb::head)) {
    auto work = [](store::Database& db) {
      store::KeyStore keys(db);
      json::array data;
      for (const store::KeyRecord& k : keys.list()) data.push_back(store::key_json(k));
      return KeyOutcome{std::nullopt, json::object{{"object", "list"}, {"data", std::move(data)}}};
    };
    asio::awaitable<KeyOutcome> op = control_plane.run<KeyOutcome>(std::move(work));
    outcome = co_await std::move(op);
  } else if (id.empty() && method == bhttp::verb::post) {
    auto work = [spec = std::move(*spec), now_ms](store::Database& db) {
      store::KeyStore keys(db);
      auto created = keys.create(spec, now_ms);
      if (!created) return KeyOutcome{created.error(), nullptr};
      json::object body = store::key_json(created->key);
      body["secret"] = created->secret;
      return KeyOutcome{std::nullopt, std::move(body)};
    };
    asio::awaitable<KeyOutcome> op = control_plane.run<KeyOutcome>(std::move(work));
    outcome = co_await std::move(op);
    status = 201;
  } else if (!id.empty() && (method == bhttp::verb::get || method == bhttp::verb::head)) {
    auto work = [id](store::Database& db) {
      store::KeyStore keys(db);
      return outcome_of(keys.get(id));
    };
    asio::awaitable<KeyOutcome> op = control_plane.run<KeyOutcome>(std::move(work));
    outcome = co_await std::move(op);
  } else if (!id.empty() && method == bhttp::verb::patch) {
    auto work = [id, spec = std::move(*spec)](store::Database& db) {
      store::KeyStore keys(db);
      return outcome_of(keys.update(id, spec));
    };
    asio::awaitable<KeyOutcome> op = control_plane.run<KeyOutcome>(std::move(work));
    outcome = co_await std::move(op);
  } else if (!id.empty() && method == bhttp::verb::delete_) {
    auto work = [id, now_ms](store::Database& db) {
      store::KeyStore keys(db);
      return outcome_of(keys.revoke(id, now_ms));
    };
    asio::awaitable<KeyOutcome> op = control_plane.run<KeyOutcome>(std::move(work));
    outcome = co_await std::move(op);
  } else {
    static constexpr http::Header kAllowList[] = {{"allow", "GET, HEAD, POST"}};
    static constexpr http::Header kAllowOne[] = {{"allow", "GET, HEAD, PATCH, DELETE"}};
    co_return co_await gateway::respond_error(ctx, gateway::wrong_method(session),
                                              id.empty()
                                                  ? std::span<const http::Header>(kAllowList)
                                                  : std::span<const http::Header>(kAllowOne));
  }
  if (outcome.error) co_return co_await gateway::respond_error(ctx, *outcome.error);
  co_await session.respond(status, kJson, json::serialize(outcome.body));
}

asio::awaitable<void> serve_usage(gateway::RequestContext& ctx,
                                  store::ControlPlane& control_plane) {
  http::ServerSession& session = ctx.session;
  auto method = session.request().method();
  if (method != bhttp::verb::get && method != bhttp::verb::head) {
    static constexpr http::Header kAllow[] = {{"allow", "GET, HEAD"}};
    co_return co_await gateway::respond_error(ctx, gateway::wrong_method(session), kAllow);
  }
  std::string_view target = session.request().target();
  std::string group_by = query_param(target, "group_by").value_or("");
  std::string from = query_param(target, "from").value_or("");
  std::string to = query_param(target, "to").value_or("");
  auto query = store::parse_usage_query(group_by.empty() ? "key" : group_by, from, to);
  if (!query) co_return co_await gateway::respond_error(ctx, query.error());
  query->key_id = query_param(target, "key").value_or("");

  co_await control_plane.flush();
  auto work = [q = *query](store::Database& db) {
    store::UsageStore usage(db);
    return store::usage_report_json(q, usage.report(q));
  };
  asio::awaitable<json::object> op = control_plane.run<json::object>(std::move(work));
  json::object report = co_await std::move(op);
  co_await session.respond(200, kJson, json::serialize(report));
}

}  // namespace sluice::admin
