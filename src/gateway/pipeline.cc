#include "gateway/pipeline.h"

#include <boost/container/small_vector.hpp>

#include "api/errors.h"
#include "gateway/respond.h"
#include "gateway/runtime.h"
#include "gateway/worker_state.h"
#include "http/server_session.h"

namespace sluice::gateway {

using core::Errc;
using HeaderList = boost::container::small_vector<http::Header, 8>;

namespace {

HeaderList header_views(const std::vector<std::pair<std::string, std::string>>& headers) {
  HeaderList out;
  for (const auto& [name, value] : headers) out.push_back({name, value});
  return out;
}

// Stage 11 for streams: each batch of events goes to the client as it arrives.
class ClientSink final : public provider::StreamSink {
 public:
  explicit ClientSink(http::ServerSession& session) : session_(session) {}

  asio::awaitable<bool> events(const provider::Exchange& head, std::string_view data,
                               bool last) override {
    if (opened_) co_return co_await session_.write_stream(data, last);
    opened_ = true;
    HeaderList headers = header_views(head.headers);
    headers.push_back({"cache-control", "no-cache"});
    co_return co_await session_.begin_stream(head.status, "text/event-stream", headers, data, last);
  }

  bool opened() const { return opened_; }

 private:
  http::ServerSession& session_;
  bool opened_ = false;
};

// Stage 8. The routing issue replaces the round-robin with balancers and health.
const route::Deployment& pick_deployment(const route::ModelRoute& route, WorkerState& worker) {
  return route.deployments[worker.next_deployment++ % route.deployments.size()];
}

}  // namespace

asio::awaitable<void> run_inference(RequestContext& ctx) {
  http::ServerSession& session = ctx.session;
  const Runtime& runtime = *ctx.runtime;

  // 4. Decode the body once.
  auto decoded = api::decode_inference(*ctx.endpoint, session.request().body());
  if (!decoded) co_return co_await respond_error(ctx, decoded.error());
  ctx.request = std::move(*decoded);
  ctx.model = ctx.request.model();
  ctx.stream = ctx.request.stream;

  // 5. Admit: keys, rate limits and budgets (keys-and-limits issue).
  // 6. Cache lookup (cache issue).
  // 7. Coalesce identical in-flight requests (cache issue).

  // 8. Balance: alias -> deployment.
  const route::ModelRoute* route = runtime.models().find(ctx.model);
  if (!route) {
    co_return co_await respond_error(
        ctx, core::Error(Errc::kModelNotFound,
                         "The model `" + std::string(ctx.model) + "` does not exist.", "model"));
  }
  const route::Deployment& deployment = pick_deployment(*route, ctx.worker);
  ctx.provider = deployment.provider->name();
  ctx.upstream_model = deployment.model.empty() ? std::string(ctx.model) : deployment.model;

  // 9. Translate and exchange. 10. Retries and fallbacks (routing issue) wrap this call.
  ClientSink sink(session);
  provider::Call call{ctx.request, ctx.upstream_model, session.request(), session.request_id(),
                      ctx.worker.resources()};
  session.watch_client();
  provider::Exchange exchange = co_await deployment.provider->exchange(call, sink);
  session.unwatch_client();
  ctx.upstream_first_byte = exchange.first_byte_at;

  // 11. Respond.
  switch (exchange.kind) {
    case provider::Exchange::Kind::kReply: {
      HeaderList headers = header_views(exchange.headers);
      if (exchange.status >= 400) {
        std::string body = api::normalize_upstream_error(exchange.status, exchange.body);
        co_await session.respond(exchange.status, "application/json", body, headers);
        ctx.error = "upstream answered " + std::to_string(exchange.status);
      } else {
        co_await session.respond(exchange.status, exchange.content_type, exchange.body, headers);
      }
      break;
    }
    case provider::Exchange::Kind::kStreamed:
      if (exchange.stream_failed) {
        ctx.stream_failed = true;
        ctx.error = exchange.error.message;
        // A broken stream ends with an error event and no [DONE] (DESIGN.md, principle 2).
        if (exchange.error.code != Errc::kCancelled && sink.opened()) {
          co_await session.write_stream(api::error_event(exchange.error), true);
        }
      }
      break;
    case provider::Exchange::Kind::kFailed:
      if (exchange.error.code == Errc::kCancelled || session.client_gone()) {
        ctx.error = "client went away";
        break;
      }
      co_await respond_error(ctx, exchange.error);
      break;
  }
  // 12. Record: the Gateway writes the access log; usage, cost and metrics come with their
  // issues.
}

}  // namespace sluice::gateway
