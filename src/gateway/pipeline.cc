#include "gateway/pipeline.h"

#include <boost/container/small_vector.hpp>

#include "api/errors.h"
#include "gateway/cache_stage.h"
#include "gateway/coalesce_stage.h"
#include "gateway/respond.h"
#include "gateway/route_stage.h"
#include "gateway/runtime.h"
#include "gateway/worker_state.h"
#include "http/server_session.h"

namespace sluice::gateway {

using core::Errc;
using HeaderList = boost::container::small_vector<http::Header, 8>;

namespace {

// The headers of an answer: the upstream's that are passed on (or, for our own errors, a
// Retry-After), then the cache's and the routing's.
HeaderList answer_headers(const provider::Exchange& exchange, const CacheStage& cache,
                          const RouteStage& route) {
  HeaderList out;
  for (const auto& [name, value] : exchange.headers) out.push_back({name, value});
  out.insert(out.end(), cache.headers().begin(), cache.headers().end());
  out.insert(out.end(), route.headers().begin(), route.headers().end());
  return out;
}

// Stage 11 for streams: each batch of events goes to the client as it arrives, to the cache, and
// to requests that joined this one. Once the client has left, the call goes on only while
// joiners wait for it.
class ClientSink final : public provider::StreamSink {
 public:
  ClientSink(http::ServerSession& session, CacheStage& cache, CoalesceStage& coalesce,
             const RouteStage& route)
      : session_(session), cache_(cache), coalesce_(coalesce), route_(route) {}

  asio::awaitable<bool> events(const provider::Exchange& head, std::string_view data,
                               bool last) override {
    cache_.capture(data);
    coalesce_.publish_events(head, data, !opened_);
    if (last) {
      // The stream ended cleanly: store it and end the flight before the client sees the end, so
      // an identical request it sends next finds the entry, not a finished flight.
      coalesce_.publish_outcome(provider::Exchange{.kind = provider::Exchange::Kind::kStreamed});
      cache_.store_stream(true);
      coalesce_.finish();
    }
    bool first = !opened_;
    opened_ = true;
    bool delivered = false;
    if (!session_.client_gone()) {
      if (first) {
        HeaderList headers = answer_headers(head, cache_, route_);
        headers.push_back({"cache-control", "no-cache"});
        delivered =
            co_await session_.begin_stream(head.status, "text/event-stream", headers, data, last);
      } else {
        delivered = co_await session_.write_stream(data, last);
      }
    }
    co_return delivered || coalesce_.keep_going_without_client();
  }

  bool opened() const { return opened_; }

 private:
  http::ServerSession& session_;
  CacheStage& cache_;
  CoalesceStage& coalesce_;
  const RouteStage& route_;
  bool opened_ = false;
};

}  // namespace

asio::awaitable<void> run_inference(RequestContext& ctx) {
  http::ServerSession& session = ctx.session;
  const Runtime& runtime = *ctx.runtime;

  // 4. Decode the body once (with its canonical form when stage 6 needs the cache key).
  CacheStage cache(ctx);
  auto decoded =
      api::decode_inference(*ctx.endpoint, session.request().body(), cache.needs_canonical());
  if (!decoded) co_return co_await respond_error(ctx, decoded.error());
  ctx.request = std::move(*decoded);
  ctx.model = ctx.request.model();
  ctx.stream = ctx.request.stream;

  // Only configured models are served, from the cache or not.
  const route::ModelRoute* route = runtime.models().find(ctx.model);
  if (!route) {
    co_return co_await respond_error(
        ctx, core::Error(Errc::kModelNotFound,
                         "The model `" + std::string(ctx.model) + "` does not exist.", "model"));
  }

  // 5. Admit: keys, rate limits and budgets (keys-and-limits issue).

  // 6. Cache lookup.
  if (auto prepared = cache.prepare(); !prepared) {
    co_return co_await respond_error(ctx, prepared.error());
  }
  if (co_await cache.serve_hit()) co_return;

  // 7. Coalesce: join an identical request in flight, or lead one that others may join.
  CoalesceStage coalesce(ctx, cache.key());
  if (co_await coalesce.join()) co_return;

  // 8. Balance, 9. translate and exchange, 10. retry and fall back: alias -> deployment ->
  // attempts, until one answers or nothing more can be tried.
  RouteStage routing(ctx, *route);
  ClientSink sink(session, cache, coalesce, routing);
  if (coalesce.leading()) {
    session.watch_client(&CoalesceStage::on_client_gone, &coalesce);
  } else {
    session.watch_client();
  }
  provider::Exchange exchange = co_await routing.run(sink);
  session.unwatch_client();
  coalesce.end_call();
  ctx.upstream_first_byte = exchange.first_byte_at;

  // Joiners get the outcome now; the answer is stored before the client is answered, so an
  // identical request that follows finds the entry rather than a finished flight.
  coalesce.publish_outcome(exchange);
  if (exchange.kind == provider::Exchange::Kind::kReply) cache.store_reply(exchange);
  if (exchange.kind == provider::Exchange::Kind::kStreamed) {
    cache.store_stream(!exchange.stream_failed);
  }
  coalesce.finish();

  // 11. Respond.
  switch (exchange.kind) {
    case provider::Exchange::Kind::kReply: {
      HeaderList headers = answer_headers(exchange, cache, routing);
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
      {
        HeaderList headers =
            answer_headers(exchange, cache, routing);  // a full queue's Retry-After
        co_await respond_error(ctx, exchange.error, headers);
      }
      break;
  }
  // 12. Record: the Gateway writes the access log; usage, cost and metrics come with their
  // issues.
}

}  // namespace sluice::gateway
