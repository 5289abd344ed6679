#include "gateway/coalesce_stage.h"

#include <boost/asio/this_coro.hpp>
#include <boost/container/small_vector.hpp>

#include "api/errors.h"
#include "cache/stream_assembly.h"
#include "cache/tiered_cache.h"
#include "gateway/respond.h"
#include "gateway/worker_state.h"
#include "http/server_session.h"

namespace sluice::gateway {

namespace {

using HeaderList = boost::container::small_vector<http::Header, 8>;

HeaderList joined_headers(const std::vector<std::pair<std::string, std::string>>& upstream,
                          bool stream) {
  HeaderList out;
  for (const auto& [name, value] : upstream) out.push_back({name, value});
  if (stream) out.push_back({"cache-control", "no-cache"});
  out.push_back({"x-sluice-cache", "coalesced"});
  return out;
}

}  // namespace

CoalesceStage::CoalesceStage(RequestContext& ctx, const cache::KeyInfo* key)
    : ctx_(ctx), key_(key) {}

CoalesceStage::~CoalesceStage() {
  // A frame destroyed mid-call (shutdown) must not leave joiners a way back into its session.
  end_call();
  if (leading() && !published_) {
    flight_->publish_failure(
        core::Error(core::Errc::kCancelled, "The request that was answering ended first."));
  }
  finish();
}

asio::awaitable<bool> CoalesceStage::join() {
  cache::Coalescer* coalescer = ctx_.worker.services.coalescer;
  if (coalescer == nullptr || key_ == nullptr) co_return false;
  // A flight that is being cancelled cannot be joined; asking again finds the next one.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto joined = coalescer->join_or_lead(key_->key, ctx_.stream);
    flight_ = std::move(joined.flight);
    leading_ = joined.leader;
    if (leading_) co_return false;
    auto sub = flight_->subscribe(co_await asio::this_coro::executor);
    if (!sub) break;
    if (co_await serve_joined(sub)) co_return true;
    // The call it joined was cancelled before answering (its callers all left): start over.
  }
  flight_.reset();  // answered alone, outside any flight
  co_return false;
}

asio::awaitable<bool> CoalesceStage::serve_joined(
    std::shared_ptr<cache::Flight::Subscription> sub) {
  http::ServerSession& session = ctx_.session;
  cache::Flight& flight = *flight_;
  ctx_.cache_result = "coalesced";
  session.watch_client();  // a joiner whose client leaves just stops waiting
  bool started = false;    // this client's stream has begun
  std::string whole;       // a stream collected for a client that wants the whole answer
  bool answered = true;
  bool served = false;  // a complete answer went out: one upstream call saved
  for (;;) {
    co_await flight.wait(*sub);
    if (session.client_gone() || (co_await asio::this_coro::cancellation_state).cancelled() !=
                                     asio::cancellation_type::none) {
      ctx_.error = "client went away";  // or the session is being closed (drain deadline)
      break;
    }
    cache::Flight::View v = flight.view(*sub);
    if (v.outcome == cache::Flight::Outcome::kFailed && v.error.code == core::Errc::kCancelled) {
      answered = started;  // nothing sent yet: the caller starts over
      break;
    }
    if (v.outcome == cache::Flight::Outcome::kFailed) {
      ctx_.error = v.error.message;
      if (v.stream_started && ctx_.stream) {
        // The leader's client saw the events, then the error event: so does this one.
        ctx_.stream_failed = true;
        std::string events =
            key_->include_usage ? std::move(v.data) : cache::replay_stream(v.data, false);
        events += api::error_event(v.error);
        if (started) {
          co_await session.write_stream(events, true);
        } else {
          co_await session.begin_stream(v.status, "text/event-stream",
                                        joined_headers(v.headers, true), events, true);
        }
      } else {
        co_await respond_error(ctx_, v.error, joined_headers({}, false));
      }
      break;
    }
    if (!v.head) continue;
    const bool complete = v.outcome == cache::Flight::Outcome::kComplete;
    if (complete && v.status == 200) served = true;

    if (v.events && ctx_.stream) {
      // Live: the events so far, then each batch as it comes.
      std::string events =
          key_->include_usage ? std::move(v.data) : cache::replay_stream(v.data, false);
      if (!started) {
        started = true;
        auto headers = joined_headers(v.headers, true);
        co_await session.begin_stream(v.status, "text/event-stream", headers, events, complete);
      } else if (!events.empty() || complete) {
        co_await session.write_stream(events, complete);
      }
      if (complete) break;
      continue;
    }
    if (v.events) {
      whole += v.data;  // a whole answer made from the stream once it has ended
      if (!complete) continue;
      auto assembled = cache::assemble(*ctx_.endpoint, whole);
      if (!assembled) {
        co_await respond_error(ctx_, assembled.error(), joined_headers({}, false));
      } else {
        co_await session.respond(200, "application/json", *assembled,
                                 joined_headers(v.headers, false));
      }
      break;
    }
    // A whole answer: as it is, as chunks for a stream client, or the upstream's error.
    if (v.status != 200) {
      std::string body = api::normalize_upstream_error(v.status, v.data);
      ctx_.error = "upstream answered " + std::to_string(v.status);
      co_await session.respond(v.status, "application/json", body,
                               joined_headers(v.headers, false));
    } else if (ctx_.stream) {
      auto chunks = cache::synthesize_stream(*ctx_.endpoint, v.data, key_->include_usage);
      if (!chunks) {
        co_await respond_error(ctx_, chunks.error(), joined_headers({}, false));
      } else {
        co_await session.begin_stream(200, "text/event-stream", joined_headers(v.headers, true),
                                      *chunks, true);
      }
    } else {
      co_await session.respond(200, v.content_type, v.data, joined_headers(v.headers, false));
    }
    break;
  }
  session.unwatch_client();
  flight.unsubscribe(sub);
  if (served) {
    cache::Usage usage = flight.usage();
    ctx_.usage = api::Usage{usage.prompt_tokens, usage.completion_tokens, 0};
    ctx_.worker.services.coalescer->count_joined(usage);
  }
  co_return answered;
}

void CoalesceStage::end_call() {
  if (leading() && released_) flight_->end_leader_call();
}

void CoalesceStage::on_client_gone(void* self) {
  auto* stage = static_cast<CoalesceStage*>(self);
  if (!stage->keep_going_without_client()) stage->ctx_.session.cancel_handler();
}

bool CoalesceStage::keep_going_without_client() {
  if (!leading()) return false;
  released_ = true;
  http::ServerSession* session = &ctx_.session;
  // Posted to this worker by the last joiner to leave, while the call is still in progress
  // (end_call drops it).
  return flight_->release_leader(session->executor(), [session] { session->cancel_handler(); });
}

void CoalesceStage::publish_events(const provider::Exchange& head, std::string_view events,
                                   bool first) {
  if (!leading()) return;
  if (first) flight_->publish_head(head.status, head.headers);
  flight_->publish_events(events);
}

void CoalesceStage::publish_outcome(const provider::Exchange& exchange) {
  if (!leading() || published_) return;
  published_ = true;
  switch (exchange.kind) {
    case provider::Exchange::Kind::kReply:
      flight_->publish_reply(exchange.status, exchange.content_type, exchange.body,
                             exchange.headers);
      break;
    case provider::Exchange::Kind::kStreamed:
      if (exchange.stream_failed) {
        flight_->publish_failure(exchange.error);
      } else {
        flight_->publish_stream_end();
      }
      break;
    case provider::Exchange::Kind::kFailed:
      flight_->publish_failure(exchange.error);
      break;
  }
}

void CoalesceStage::finish() {
  if (!leading() || finished_) return;
  finished_ = true;
  ctx_.worker.services.coalescer->finish(key_->key, *flight_);
}

}  // namespace sluice::gateway
