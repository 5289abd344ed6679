#include "gateway/gateway.h"

#include <algorithm>
#include <random>

#include <boost/beast/http/verb.hpp>

#include "api/endpoint.h"
#include "api/errors.h"
#include "cache/tiered_cache.h"
#include "gateway/access_log.h"
#include "gateway/auth_stage.h"
#include "gateway/gateway_metrics.h"
#include "gateway/messages_front.h"
#include "gateway/pipeline.h"
#include "gateway/record_stage.h"
#include "gateway/respond.h"

namespace sluice::gateway {

namespace bhttp = beast::http;
using core::Errc;

namespace {

constexpr std::string_view kJson = "application/json";

// The dashboard's page and assets, which the admin routes serve (src/admin/dashboard.h).
bool is_dashboard_path(std::string_view path) {
  return path == "/dashboard" || path.starts_with("/dashboard/");
}

// The Batch API's files and batches (src/batch/batch_api.h).
bool is_batch_path(std::string_view path) {
  return path == "/v1/files" || path.starts_with("/v1/files/") || path == "/v1/batches" ||
         path.starts_with("/v1/batches/");
}

bool is_get(const http::ServerSession& session) {
  auto m = session.request().method();
  return m == bhttp::verb::get || m == bhttp::verb::head;
}

}  // namespace

Gateway::Gateway(net::Worker& worker, const RuntimeSource& runtimes, Services services)
    : runtimes_(runtimes), worker_(worker), executor_(worker.executor()) {
  state_.services = services;
  if (services.tenants != nullptr) state_.tenants.emplace(*services.tenants);
  if (services.metrics != nullptr)
    state_.metrics.emplace(services.metrics->registry().add_worker());
  version_ = runtimes_.version();
  std::shared_ptr<const Runtime> runtime = runtimes_.current();
  // The limiter's backend is fixed for the process's life (a reload cannot change it).
  state_.limiter =
      std::make_unique<limit::Limiter>(*services.limits, runtime->config().rate_limits, executor_);
  state_.limiter->start();
  if (services.cache != nullptr) services.cache->attach_worker(worker.executor());
  if (worker.index() == 0) prober_ = std::make_unique<HealthProber>(executor_);
  adopt(std::move(runtime));
}

void Gateway::adopt(std::shared_ptr<const Runtime> runtime) {
  if (state_.routes && state_.routes->runtime == runtime) return;
  // Seeded per worker and per start, so workers (and restarts) do not make the same choices.
  const std::uint64_t seed =
      state_.routes ? state_.routes->balancers.rng()()
                    : std::random_device{}() ^ (static_cast<std::uint64_t>(worker_.index()) << 32);
  auto routes = std::make_shared<WorkerRoutes>(runtime, seed);
  const std::vector<config::Provider>& providers = runtime->config().providers;
  std::vector<bool> used(state_.pools.size(), false);
  for (std::size_t slot = 0; slot < runtime->origins().size(); ++slot) {
    const auto& origin = runtime->origins()[slot];
    http::UpstreamPool* pool = nullptr;
    if (origin) {
      for (std::size_t i = 0; i < state_.pools.size() && pool == nullptr; ++i) {
        if (!used[i] && !state_.pools[i].retired && state_.pools[i].provider == providers[slot]) {
          used[i] = true;
          pool = state_.pools[i].pool.get();
        }
      }
      if (pool == nullptr) {
        state_.pools.push_back({providers[slot], std::make_unique<http::UpstreamPool>(
                                                     executor_, worker_.deadlines(), origin)});
        used.push_back(true);
        pool = state_.pools.back().pool.get();
      }
    }
    routes->pools.push_back(pool);
  }
  for (std::size_t i = 0; i < used.size(); ++i) {
    if (!used[i] && !state_.pools[i].retired) {
      state_.pools[i].pool->close_all();
      state_.pools[i].retired = true;
    }
  }
  if (state_.routes) replaced_.push_back(state_.routes);
  std::erase_if(replaced_, [](const auto& old) { return old.expired(); });
  std::erase_if(state_.pools, [&](const WorkerState::Pool& p) {
    if (!p.retired || p.pool->connections() != 0) return false;
    for (const auto& weak : replaced_) {
      auto old = weak.lock();
      if (old && std::find(old->pools.begin(), old->pools.end(), p.pool.get()) != old->pools.end())
        return false;
    }
    return true;
  });
  state_.routes = std::move(routes);
  if (prober_) prober_->serve(state_.routes);
}

asio::awaitable<void> Gateway::handle(http::ServerSession& session) {
  if (runtimes_.version() != version_) [[unlikely]] {
    version_ = runtimes_.version();
    adopt(runtimes_.current());
  }
  RequestContext ctx(session, state_.routes, state_);
  const std::string_view path = session.path();
  GatewayMetrics* recorder = state_.services.metrics;
  struct InFlight {
    GatewayMetrics* recorder;
    std::optional<GatewayWorkerMetrics>& worker;
    ~InFlight() {
      if (recorder != nullptr) recorder->end(*worker);
    }
  } in_flight{recorder, state_.metrics};
  if (recorder != nullptr) recorder->begin(*state_.metrics);
  static constexpr http::Header kAllowPost[] = {{"allow", "POST"}};
  static constexpr http::Header kAllowGet[] = {{"allow", "GET, HEAD"}};

  // Anthropic's API in front: from here on, whatever is written goes out in Anthropic's shape.
  std::optional<MessagesFront> messages;
  if (path == "/v1/messages") messages.emplace(ctx);

  // 3. Authenticate: every /v1/ path needs a key when keys are on.
  bool authenticated = true;
  if (state_.tenants && path.starts_with("/v1/")) {
    authenticated = co_await authenticate(ctx);
    if (recorder != nullptr) ctx.authenticated_at = std::chrono::steady_clock::now();
  }
  if (!authenticated) {
    // answered 401
  } else if (auto endpoint = api::endpoint_for_path(path)) {
    ctx.endpoint = endpoint;
    if (session.request().method() == bhttp::verb::post) {
      co_await run_inference(ctx);
      record_usage(ctx);
    } else {
      co_await respond_error(ctx, wrong_method(session), kAllowPost);
    }
  } else if (messages) {
    if (session.request().method() != bhttp::verb::post) {
      co_await respond_error(ctx, wrong_method(session), kAllowPost);
    } else if (co_await messages->translate_request()) {
      ctx.endpoint = api::Endpoint::kChatCompletions;
      co_await run_inference(ctx);
      record_usage(ctx);
    }
  } else if (is_batch_path(path)) {
    if (state_.services.batch != nullptr) {
      co_await state_.services.batch->handle(ctx);
    } else {
      co_await respond_error(
          ctx, core::Error(Errc::kNotFound,
                           "The Batch API (/v1/files, /v1/batches) needs a data_dir, where its "
                           "files and batches are kept; this gateway runs without one."));
    }
  } else if (path == "/v1/models") {
    if (is_get(session)) {
      co_await session.respond(200, kJson, ctx.runtime->models_body());
    } else {
      co_await respond_error(ctx, wrong_method(session), kAllowGet);
    }
  } else if (path.starts_with("/v1/models/")) {
    std::string_view id = path.substr(11);
    std::string body = ctx.runtime->model_body(id);
    if (!is_get(session)) {
      co_await respond_error(ctx, wrong_method(session), kAllowGet);
    } else if (body.empty()) {
      co_await respond_error(
          ctx, core::Error(Errc::kModelNotFound,
                           "The model `" + std::string(id) + "` does not exist.", "model"));
    } else {
      co_await session.respond(200, kJson, body);
    }
  } else if ((path.starts_with("/admin/") || is_dashboard_path(path)) &&
             state_.services.admin != nullptr) {
    co_await state_.services.admin->handle(ctx);
  } else if (path == "/metrics" && recorder != nullptr) {
    if (is_get(session)) {
      std::string text;
      recorder->registry().scrape(text);
      co_await session.respond(200, metrics::kExpositionContentType, text);
    } else {
      co_await respond_error(ctx, wrong_method(session), kAllowGet);
    }
  } else if (path == "/healthz") {
    if (is_get(session)) {
      co_await session.respond(200, kJson, R"({"status":"ok"})");
    } else {
      co_await respond_error(ctx, wrong_method(session), kAllowGet);
    }
  } else {
    co_await respond_error(
        ctx, core::Error(Errc::kNotFound, "Invalid URL (" +
                                              std::string(session.request().method_string()) + " " +
                                              std::string(path) + ")."));
  }
  ctx.status = session.status();
  if (state_.services.access_log) state_.services.access_log->log(ctx);
  if (recorder != nullptr) recorder->record(*state_.metrics, ctx);
}

std::uint64_t Gateway::body_limit(bhttp::verb method, std::string_view target,
                                  std::uint64_t configured) {
  if (method != bhttp::verb::post || state_.services.batch == nullptr) [[likely]]
    return configured;
  std::string_view path = target.substr(0, target.find('?'));
  if (path != "/v1/files") return configured;
  return std::max(configured, state_.services.batch->max_upload_bytes());
}

http::ErrorPage Gateway::render_error(const core::Error& error) {
  return {api::http_status(error), api::error_body(error)};
}

void Gateway::shutdown() {
  if (prober_) prober_->stop();
  if (state_.limiter) state_.limiter->close();
  for (auto& pool : state_.pools) pool.pool->close_all();
  if (state_.services.cache != nullptr) state_.services.cache->detach_worker(executor_);
}

}  // namespace sluice::gateway
