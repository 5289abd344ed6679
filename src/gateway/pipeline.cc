#include "gateway/pipeline.h"

#include <boost/container/small_vector.hpp>

#include "api/errors.h"
#include "cache/stream_assembly.h"
#include "gateway/admit_stage.h"
#include "gateway/cache_stage.h"
#include "gateway/coalesce_stage.h"
#include "gateway/respond.h"
#include "gateway/route_stage.h"
#include "gateway/runtime.h"
#include "gateway/server_timing.h"
#include "gateway/worker_state.h"
#include "http/server_session.h"

namespace sluice::gateway {

using core::Errc;
using HeaderList = boost::container::small_vector<http::Header, 8>;

namespace {

// The headers of an answer: the upstream's that are passed on (or, for our own errors, a
// Retry-After), then the limits', the cache's and the routing's.
// `timing` holds the server-timing value the list points to.
HeaderList answer_headers(const RequestContext& ctx, const provider::Exchange& exchange,
                          const AdmitStage& admit, const CacheStage& cache, const RouteStage& route,
                          std::string& timing) {
  HeaderList out;
  for (const auto& [name, value] : exchange.headers) {
    // The gateway's own limits speak for this answer, not the provider's.
    if (!admit.headers().empty() && name.starts_with("x-ratelimit-")) continue;
    out.push_back({name, value});
  }
  out.insert(out.end(), admit.headers().begin(), admit.headers().end());
  out.insert(out.end(), cache.headers().begin(), cache.headers().end());
  out.insert(out.end(), route.headers().begin(), route.headers().end());
  timing = server_timing(ctx, std::chrono::steady_clock::now());
  out.push_back({"server-timing", timing});
  return out;
}

// Stage 11 for streams: each batch of events goes to the client as it arrives, to the cache, and
// to requests that joined this one. Once the client has left, the call goes on only while
// joiners wait for it.
class ClientSink final : public provider::StreamSink {
 public:
  ClientSink(RequestContext& ctx, const AdmitStage& admit, CacheStage& cache,
             CoalesceStage& coalesce, const RouteStage& route)
      : ctx_(ctx),
        session_(ctx.session),
        admit_(admit),
        cache_(cache),
        coalesce_(coalesce),
        route_(route) {}

  asio::awaitable<bool> events(const provider::Exchange& head, std::string_view data,
                               bool last) override {
    bool usage_chunk = ctx_.count_usage && usage_.feed(data);
    cache_.capture(data);
    coalesce_.publish_events(head, data, !opened_);
    if (last) {
      // The stream ended cleanly: store it and end the flight before the client sees the end, so
      // an identical request it sends next finds the entry, not a finished flight.
      coalesce_.publish_outcome(provider::Exchange{.kind = provider::Exchange::Kind::kStreamed});
      cache_.store_stream(true);
      coalesce_.finish();
    }
    if (last) ctx_.usage = usage_.usage();
    bool first = !opened_;
    opened_ = true;
    bool delivered = false;
    // The usage chunk the gateway asked for on the client's behalf is not the client's.
    std::string stripped;
    if (ctx_.strip_usage && usage_chunk) {
      stripped = cache::replay_stream(data, false);
      data = stripped;
    }
    if (!session_.client_gone()) {
      if (first) {
        HeaderList headers = answer_headers(ctx_, head, admit_, cache_, route_, timing_);
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
  const std::optional<api::Usage>& usage() const { return usage_.usage(); }

 private:
  RequestContext& ctx_;
  http::ServerSession& session_;
  const AdmitStage& admit_;
  CacheStage& cache_;
  CoalesceStage& coalesce_;
  const RouteStage& route_;
  std::string timing_;  // the head's server-timing value
  api::StreamUsageTap usage_;
  bool opened_ = false;
};

}  // namespace

asio::awaitable<void> run_inference(RequestContext& ctx) {
  http::ServerSession& session = ctx.session;
  const Runtime& runtime = *ctx.runtime;

  // 4. Decode the body once (with its canonical form when stage 6 needs the cache key).
  CacheStage cache(ctx);
  auto decoded = api::decode_inference(*ctx.endpoint, ctx.body, cache.needs_canonical());
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

  ctx.route = route;
  // The metrics count a stream's tokens only when it reports them: when the client asked for its
  // usage chunk, or accounting asks for it below. Without either an upstream sends none, so the
  // metrics alone do not make a stream pay for scanning every batch for it.
  const Services& services = ctx.worker.services;
  ctx.count_usage = services.accounting || services.access_log != nullptr ||
                    (services.metrics != nullptr && (!ctx.stream || ctx.request.include_usage));

  // 5. Admit: the key's models, budget and concurrency, and the rate limits.
  AdmitStage admit(ctx, *route);
  if (admit.needed()) {
    bool admitted = co_await admit.run();
    if (!admitted) co_return;
  }
  if (ctx.stream && ctx.worker.services.accounting && !ctx.request.include_usage) {
    // Ask the stream for its usage so tokens are counted; the client does not see the chunk.
    ctx.upstream_body = api::body_with_stream_usage(ctx.request);
    ctx.request.body = ctx.upstream_body;
    ctx.strip_usage = true;
  }

  // The stages' marks are read only by the metrics (sluice_stage_seconds_total).
  const bool marks = ctx.worker.metrics.has_value();
  if (marks) ctx.admitted_at = std::chrono::steady_clock::now();

  // 6. Cache lookup.
  if (auto prepared = cache.prepare(); !prepared) {
    co_return co_await respond_error(ctx, prepared.error());
  }
  if (co_await cache.serve_hit(admit.headers())) co_return;
  if (marks) ctx.looked_up_at = std::chrono::steady_clock::now();

  // 7. Coalesce: join an identical request in flight, or lead one that others may join.
  CoalesceStage coalesce(ctx, cache.key());
  if (co_await coalesce.join()) co_return;

  // 8. Balance, 9. translate and exchange, 10. retry and fall back: alias -> deployment ->
  // attempts, until one answers or nothing more can be tried.
  RouteStage routing(ctx, *route);
  ClientSink sink(ctx, admit, cache, coalesce, routing);
  if (coalesce.leading()) {
    session.watch_client(&CoalesceStage::on_client_gone, &coalesce);
  } else {
    session.watch_client();
  }
  ctx.upstream_started = std::chrono::steady_clock::now();
  provider::Exchange exchange = co_await routing.run(sink);
  ctx.upstream_finished = std::chrono::steady_clock::now();
  session.unwatch_client();
  coalesce.end_call();
  ctx.upstream_first_byte = exchange.first_byte_at;
  if (exchange.kind != provider::Exchange::Kind::kFailed) ctx.upstream_status = exchange.status;
  if (ctx.count_usage) {  // else nobody reads it: a plain pass-through does not pay for the scan
    if (exchange.kind == provider::Exchange::Kind::kReply && exchange.status < 400) {
      ctx.usage = api::find_usage(exchange.body);
    } else if (exchange.kind == provider::Exchange::Kind::kStreamed) {
      ctx.usage = sink.usage();
    }
  }

  // Joiners get the outcome now; the answer is stored before the client is answered, so an
  // identical request that follows finds the entry rather than a finished flight.
  coalesce.publish_outcome(exchange);
  if (exchange.kind == provider::Exchange::Kind::kReply) cache.store_reply(exchange);
  if (exchange.kind == provider::Exchange::Kind::kStreamed) {
    cache.store_stream(!exchange.stream_failed);
  }
  coalesce.finish();

  // 11. Respond.
  std::string timing;  // what the head's server-timing points to
  switch (exchange.kind) {
    case provider::Exchange::Kind::kReply: {
      HeaderList headers = answer_headers(ctx, exchange, admit, cache, routing, timing);
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
        // A full queue's Retry-After, among others.
        HeaderList headers = answer_headers(ctx, exchange, admit, cache, routing, timing);
        co_await respond_error(ctx, exchange.error, headers);
      }
      break;
  }
  // 12. Record: the Gateway settles usage, cost and the ledger row (record_stage.h) and writes
  // the access log once the answer is out, however the request ended.
}

}  // namespace sluice::gateway
