#include "mock/server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/json.hpp>

#include "api/errors.h"

namespace sluice::mock {

namespace bhttp = beast::http;
using core::Errc;

namespace {

constexpr std::string_view kJson = "application/json";

// An lvalue for `defaults ? *defaults : kNoFaults`. With a Faults{} temporary in that ?:
// inside a coroutine, GCC 12's build dropped the connection without an answer (GCC has known
// bugs with temporaries in coroutine bodies); two lvalues need no temporary.
const Faults kNoFaults{};

asio::awaitable<bool> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return !ec;
}

json::object model_object(std::string_view id) {
  json::object m;
  m["id"] = id;
  m["object"] = "model";
  m["created"] = 0;
  m["owned_by"] = "sluice-mock";
  return m;
}

}  // namespace

std::string MockStats::to_json() const {
  json::object o;
  o["requests"] = requests.load();
  o["in_flight"] = in_flight.load();
  o["completed"] = completed.load();
  o["cancelled"] = cancelled.load();
  o["faults"] = faults.load();
  json::object endpoints;
  for (auto e : {api::Endpoint::kChatCompletions, api::Endpoint::kCompletions,
                 api::Endpoint::kEmbeddings, api::Endpoint::kImageGenerations}) {
    endpoints[api::endpoint_name(e)] = by_endpoint[static_cast<std::size_t>(e)].load();
  }
  o["endpoints"] = std::move(endpoints);
  return json::serialize(o);
}

void MockStats::reset() {
  requests = 0;
  completed = 0;
  cancelled = 0;
  faults = 0;
  for (auto& c : by_endpoint) c = 0;
}

MockServer::MockServer(std::shared_ptr<const Engine> engine, std::shared_ptr<MockStats> stats,
                       std::shared_ptr<FaultDefaults> faults)
    : engine_(std::move(engine)), stats_(std::move(stats)), faults_(std::move(faults)) {
  json::array data;
  for (const auto& name : Engine::default_models()) data.push_back(model_object(name));
  json::object list;
  list["object"] = "list";
  list["data"] = std::move(data);
  models_body_ = json::serialize(list);
}

http::ErrorPage MockServer::render_error(const core::Error& error) {
  return {api::http_status(error), api::error_body(error)};
}

asio::awaitable<void> MockServer::handle(http::ServerSession& session) {
  const std::string_view path = session.path();
  const auto method = session.request().method();
  const bool get = method == bhttp::verb::get || method == bhttp::verb::head;
  auto wrong_method = [&] {
    return core::Error(Errc::kMethodNotAllowed, "Invalid method for URL (" +
                                                    std::string(session.request().method_string()) +
                                                    " " + std::string(path) + ").");
  };
  if (auto endpoint = api::endpoint_for_path(path)) {
    if (method != bhttp::verb::post) {
      co_await session.respond_error(wrong_method());
    } else {
      co_await serve_inference(session, *endpoint);
    }
  } else if (path == "/v1/models" && get) {
    co_await session.respond(200, kJson, models_body_);
  } else if (path.starts_with("/v1/models/") && get) {
    co_await session.respond(200, kJson, json::serialize(model_object(path.substr(11))));
  } else if (path == "/mock/stats" && get) {
    co_await session.respond(200, kJson, stats_->to_json());
  } else if (path == "/mock/reset" && method == bhttp::verb::post) {
    stats_->reset();
    co_await session.respond(200, kJson, stats_->to_json());
  } else if (path == "/mock/faults") {
    if (get) {
      auto current = faults_->get();
      co_await session.respond(200, kJson, faults_to_json(current ? *current : kNoFaults));
    } else if (method == bhttp::verb::post) {
      co_await set_faults(session);
    } else {
      co_await session.respond_error(wrong_method());
    }
  } else if (path == "/healthz" && get) {
    co_await session.respond(200, kJson, R"({"status":"ok"})");
  } else {
    co_await session.respond_error(core::Error(
        Errc::kNotFound, "Invalid URL (" + std::string(session.request().method_string()) + " " +
                             std::string(path) + ")."));
  }
}

asio::awaitable<void> MockServer::serve_inference(http::ServerSession& session,
                                                  api::Endpoint endpoint) {
  const auto& request = session.request();
  stats_->requests.fetch_add(1, std::memory_order_relaxed);
  stats_->by_endpoint[static_cast<std::size_t>(endpoint)].fetch_add(1, std::memory_order_relaxed);
  stats_->in_flight.fetch_add(1, std::memory_order_relaxed);
  auto defaults = faults_->get();
  Faults faults = Faults::from_headers([&](std::string_view name) { return request[name]; },
                                       defaults ? *defaults : kNoFaults);
  Reply reply = engine_->respond(endpoint, request.body(), faults);
  if (reply.status >= 500 || reply.hang || reply.cut_after >= 0 || faults.status != 0) {
    stats_->faults.fetch_add(1, std::memory_order_relaxed);
  }
  session.watch_client();
  bool complete = co_await play(session, reply);
  session.unwatch_client();
  stats_->in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (complete) {
    stats_->completed.fetch_add(1, std::memory_order_relaxed);
  } else if (session.client_gone()) {
    stats_->cancelled.fetch_add(1, std::memory_order_relaxed);
  }
}

asio::awaitable<void> MockServer::set_faults(http::ServerSession& session) {
  auto faults = faults_from_json(session.request().body());
  if (!faults) {
    co_await session.respond_error(faults.error());
    co_return;
  }
  faults_->set(*faults);
  co_await session.respond(200, kJson, faults_to_json(*faults));
}

asio::awaitable<bool> MockServer::play(http::ServerSession& session, Reply& reply) {
  if (reply.hang) {
    // Hold the request until the client gives up (the watcher cancels this wait).
    co_await sleep_for(std::chrono::hours(24));
    co_return false;
  }
  if (reply.first_delay.count() > 0 && !co_await sleep_for(reply.first_delay)) co_return false;

  boost::container::small_vector<http::Header, 4> headers;
  for (const auto& [name, value] : reply.headers) headers.push_back({name, value});

  if (!reply.stream) {
    if (reply.cut_after >= 0) {
      co_await session.respond_and_cut(reply.status, reply.content_type, reply.body,
                                       reply.body.size() / 2);
      co_return false;
    }
    co_return co_await session.respond(reply.status, reply.content_type, reply.body, headers);
  }

  headers.push_back({"cache-control", "no-cache"});
  const std::size_t n = reply.events.size();
  const std::size_t cut = reply.cut_after >= 0 ? std::min<std::size_t>(reply.cut_after, n) : n;
  if (reply.event_interval.count() == 0) {
    std::string all;
    for (std::size_t i = 0; i < cut; ++i) all += reply.events[i];
    bool ok =
        co_await session.begin_stream(reply.status, reply.content_type, headers, all, cut == n);
    if (cut < n) {
      session.abort();
      co_return false;
    }
    co_return ok;
  }
  if (!co_await session.begin_stream(reply.status, reply.content_type, headers,
                                     cut > 0 ? std::string_view(reply.events[0]) : "",
                                     n == 1 && cut == 1)) {
    co_return false;
  }
  for (std::size_t i = 1; i < cut; ++i) {
    if (!co_await sleep_for(reply.event_interval)) co_return false;
    if (!co_await session.write_stream(reply.events[i], i + 1 == n)) co_return false;
  }
  if (cut < n) {
    session.abort();
    co_return false;
  }
  co_return true;
}

}  // namespace sluice::mock
