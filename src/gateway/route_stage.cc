#include "gateway/route_stage.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <xxhash.h>

#include <algorithm>
#include <variant>

#include "core/strings.h"
#include "gateway/request_context.h"
#include "gateway/worker_state.h"
#include "http/server_session.h"
#include "route/retry_policy.h"

namespace sluice::gateway {

using core::Errc;
using provider::Exchange;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

namespace {

// A context-length error: no deployment of this model can answer it, a longer-context one may.
bool is_context_length_error(const Exchange& e) {
  if (e.kind != Exchange::Kind::kReply || e.status != 400) return false;
  return e.body.find("context_length_exceeded") != std::string::npos ||
         e.body.find("maximum context length") != std::string::npos;
}

std::string_view header_of(const Exchange& e, std::string_view name) {
  for (const auto& [n, v] : e.headers) {
    if (n == name) return v;
  }
  return {};
}

bool contains(std::span<const std::uint32_t> v, std::uint32_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// A deployment's in-flight slot, within its concurrency limit.
bool take_slot(const route::ModelRoute& model, std::uint32_t index) {
  const route::Deployment& d = model.deployments[index];
  const std::int64_t limit = d.concurrency_limit();
  if (limit > 0) return d.load->try_begin(limit);
  d.load->begin();
  return true;
}

// Gives the slot back and wakes a request waiting for one.
void release_slot(const route::ModelRoute& model, std::uint32_t index) {
  model.deployments[index].load->end();
  if (model.limited) model.queue->notify_one();
}

// Releases the slot however the attempt ends.
class SlotGuard {
 public:
  SlotGuard(const route::ModelRoute& model, std::uint32_t index) : model_(model), index_(index) {}
  ~SlotGuard() { release_slot(model_, index_); }
  SlotGuard(const SlotGuard&) = delete;
  SlotGuard& operator=(const SlotGuard&) = delete;

 private:
  const route::ModelRoute& model_;
  std::uint32_t index_;
};

class RetryGuard {
 public:
  explicit RetryGuard(route::RetryBudget& budget) : budget_(budget) {}
  ~RetryGuard() { budget_.end_retry(); }
  RetryGuard(const RetryGuard&) = delete;
  RetryGuard& operator=(const RetryGuard&) = delete;

 private:
  route::RetryBudget& budget_;
};

Exchange failed(core::Error error) {
  Exchange e;
  e.kind = Exchange::Kind::kFailed;
  e.error = std::move(error);
  return e;
}

}  // namespace

RouteStage::RouteStage(RequestContext& ctx, const route::ModelRoute& route)
    : ctx_(ctx), route_(route) {
  const config::Model& m = *route.config;
  if (m.timeouts.total.count() > 0) deadline_ = Clock::now() + m.timeouts.total;
  if (m.strategy == config::Strategy::kConsistentHash) {
    std::string_view key;
    switch (m.hash_key.source) {
      case config::HashKey::Source::kUser:
        key = ctx.request.user;
        break;
      case config::HashKey::Source::kHeader:
        key = ctx.session.request()[m.hash_key.header];
        break;
      case config::HashKey::Source::kPrefix:
        if (ctx.request.prompt_begin > 0) {
          key = ctx.request.body.substr(ctx.request.prompt_begin, m.hash_key.prefix_bytes);
        }
        break;
    }
    if (!key.empty()) {
      affinity_ = XXH3_64bits(key.data(), key.size());
      has_affinity_ = true;
    }
  }
  // A rough estimate for tpm headroom until token counting exists: about four bytes a token.
  tokens_estimate_ = ctx.request.body.size() / 4;
}

asio::awaitable<Exchange> RouteStage::run(provider::StreamSink& sink) {
  std::optional<Exchange> last;
  std::optional<Exchange> refused;  // why the last pick found nothing, when it was the queue
  int retries = 0;
  std::vector<const route::ModelRoute*> chain{&route_};
  bool context_switched = false;
  for (std::size_t c = 0; c < chain.size(); ++c) {
    const route::ModelRoute& model = *chain[c];
    // The last model that can take the request: rather than fail, panic routing sends it to
    // deployments that health holds back.
    const bool last_resort =
        c + 1 == chain.size() &&
        (c > 0 || (context_switched ? route_.context_fallbacks : route_.fallbacks).empty());
    Indexes tried;
    for (int n = 0; n < model.config->retries.max_attempts; ++n) {
      std::optional<RetryGuard> retry;
      // A fallback's first attempt goes to another model, so it is neither backed off nor
      // counted against the budget: the chain is as long as the operator made it.
      if (ctx_.attempts > 0 && !(n == 0 && c > 0)) {
        if (!route_.budget->try_begin_retry(route_.in_flight())) co_return std::move(*last);
        retry.emplace(*route_.budget);
        auto delay =
            route::backoff_delay(model.config->retries, ++retries, ctx_.routes->balancers.rng());
        // Retry-After speaks for the deployment that sent it, which is now in cooldown. When no
        // other deployment of this model could take the retry, wait for it if it is short; if it
        // is long, move on to the fallbacks, and without any the 429 goes to the client, which
        // has the header and is better placed to wait than a held connection.
        if (rate_limited_) {
          Blocked blocked;
          if (!pick_now(model, tried, {}, blocked, false)) {
            if (retry_after_) {
              delay = std::max(delay, *retry_after_);
            } else if (long_retry_after_) {
              break;
            }
          }
        }
        if (!co_await sleep(delay)) {
          co_return last ? std::move(*last)
                         : failed(core::Error(Errc::kUpstreamTimeout,
                                              "The request's deadline passed between attempts."));
        }
      }
      // The common case needs no coroutine: a deployment has room now.
      std::uint32_t index = 0;
      Pick pick = Pick::kNone;
      bool at_capacity = false;
      if (auto i = take(model, tried, last_resort, at_capacity)) {
        index = *i;
        pick = Pick::kPicked;
      } else if (at_capacity) {
        pick = co_await queue(model, tried, index, last_resort);
      }
      if (pick == Pick::kQueueFull || pick == Pick::kQueueTimeout) {
        const bool full = pick == Pick::kQueueFull;
        if (!full && deadline_ != Clock::time_point::max() && Clock::now() >= deadline_) {
          co_return failed(core::Error(Errc::kUpstreamTimeout,
                                       "The request's deadline passed while it waited for a "
                                       "deployment of model `" +
                                           model.name + "` to have room."));
        }
        core::Error e(
            model.config->queue.status == 503 ? Errc::kServiceUnavailable : Errc::kRateLimited,
            full ? "Every deployment of model `" + model.name +
                       "` is at its concurrency limit and the queue is full."
                 : "Every deployment of model `" + model.name +
                       "` stayed at its concurrency limit for the queue timeout.");
        refused = failed(std::move(e));
        auto secs = std::max<long>(
            1, duration_cast<std::chrono::seconds>(model.config->queue.timeout).count());
        refused->headers.emplace_back("retry-after", std::to_string(secs));
        break;
      }
      if (pick == Pick::kNone) break;  // this model is spent: its fallbacks are next
      if (ctx_.session.client_gone()) {
        release_slot(model, index);
        model.health->on_abandoned(index, Clock::now());
        co_return failed(core::Error(Errc::kCancelled, "The client went away."));
      }

      // Not `cond ? co_await x : co_await y`: GCC 12 mis-destroys the temporaries of a
      // co_await inside a conditional expression.
      Attempt a;
      if (!ctx_.stream && model.config->hedge.enabled) {
        a = co_await hedged(model, index, sink);
      } else {
        a = co_await attempt(model, index, sink);
      }
      tried.push_back(a.index);
      // A hedge may have started after the attempt that won: the answer names the winner.
      const route::Deployment& winner = model.deployments[a.index];
      ctx_.provider = winner.provider->name();
      ctx_.upstream_model = std::move(a.upstream_model);
      set_headers(winner);
      const Verdict v = a.verdict;
      last = std::move(a.exchange);
      refused.reset();
      if (v == Verdict::kDone) co_return std::move(*last);
      if (v == Verdict::kContextLength) {
        if (context_switched || c != 0 || route_.context_fallbacks.empty()) {
          co_return std::move(*last);
        }
        // The rest of this model cannot help: its context fallbacks replace its fallbacks.
        context_switched = true;
        chain.assign(1, &route_);
        chain.insert(chain.end(), route_.context_fallbacks.begin(), route_.context_fallbacks.end());
        break;
      }
    }
    if (c == 0 && !context_switched) {
      chain.insert(chain.end(), route_.fallbacks.begin(), route_.fallbacks.end());
    }
  }
  if (refused) co_return std::move(*refused);
  if (last) co_return std::move(*last);
  if (rate_capped_) {
    Exchange e =
        failed(core::Error(Errc::kRateLimited, "Every deployment of model `" + route_.name +
                                                   "` is at its configured rpm or tpm limit."));
    // The usage window slides by the second; a client that waits one is not refused again
    // for long.
    e.headers.emplace_back("retry-after", "1");
    co_return e;
  }
  co_return failed(core::Error(Errc::kServiceUnavailable,
                               "No deployment of model `" + route_.name +
                                   "` is available now (all are unhealthy or rate limited)."));
}

std::optional<std::uint32_t> RouteStage::take(const route::ModelRoute& model, const Indexes& tried,
                                              bool last_resort, bool& at_capacity) {
  Indexes refused;  // half-open breakers that had no probe slot for this request
  for (;;) {
    Blocked blocked;
    bool panic = false;
    std::optional<std::uint32_t> i = pick_now(model, tried, refused, blocked, false);
    if (!i && !blocked.capacity && last_resort) {
      i = pick_now(model, tried, refused, blocked, true);
      panic = i.has_value();
    }
    if (!i) {
      if (blocked.rate) rate_capped_ = true;
      at_capacity = blocked.capacity;
      return std::nullopt;
    }
    if (!take_slot(model, *i)) continue;  // another worker took the last slot first
    const bool admitted = panic ? model.health->admit_in_panic(*i, Clock::now())
                                : model.health->admit(*i, Clock::now());
    if (admitted) return i;
    release_slot(model, *i);
    refused.push_back(*i);
  }
}

asio::awaitable<RouteStage::Pick> RouteStage::queue(const route::ModelRoute& model,
                                                    const Indexes& tried, std::uint32_t& index,
                                                    bool last_resort) {
  const Clock::time_point entered = Clock::now();
  const Clock::time_point queue_deadline =
      std::min(deadline_, entered + model.config->queue.timeout);
  route::AdmissionQueue::Ticket ticket = model.queue->enqueue(co_await asio::this_coro::executor);
  if (!ticket) co_return Pick::kQueueFull;
  // The wait is the stage breakdown's "queue", taken out of the routing stage's span.
  struct Waited {
    RequestContext& ctx;
    Clock::time_point entered;
    ~Waited() { ctx.queued += Clock::now() - entered; }
  } waited{ctx_, entered};
  for (;;) {
    // Look once more before each wait: a slot may have been freed before the ticket was taken,
    // and a wake-up may find another request took it first.
    bool at_capacity = false;
    if (auto i = take(model, tried, last_resort, at_capacity)) {
      index = *i;
      co_return Pick::kPicked;
    }
    if (!at_capacity) co_return Pick::kNone;
    if (!co_await ticket.wait(queue_deadline)) {
      co_return ctx_.session.client_gone() ? Pick::kNone : Pick::kQueueTimeout;
    }
  }
}

std::optional<std::uint32_t> RouteStage::pick_now(const route::ModelRoute& model,
                                                  const Indexes& tried, const Indexes& skip,
                                                  Blocked& blocked, bool panic) {
  const Clock::time_point now = Clock::now();
  Indexes eligible;
  // First pass: deployments this request has not tried; second: any, as a last resort.
  for (int pass = 0; pass < 2; ++pass) {
    for (int tier : model.tiers) {
      eligible.clear();
      for (std::uint32_t i = 0; i < model.deployments.size(); ++i) {
        const route::Deployment& d = model.deployments[i];
        if (d.config->priority != tier) continue;
        if (contains(skip, i) || (pass == 0 && contains(tried, i))) continue;
        if (panic ? !model.health->available_in_panic(i, now) : !model.health->available(i, now)) {
          continue;
        }
        if (const std::int64_t limit = d.concurrency_limit();
            limit > 0 && d.load->in_flight() >= limit) {
          blocked.capacity = true;
          continue;
        }
        // The provider's own limits hold even in panic: past them it would only answer 429.
        if (d.config->rpm > 0 || d.config->tpm > 0) {
          auto used = d.load->usage(now);
          if ((d.config->rpm > 0 && used.requests >= static_cast<double>(d.config->rpm)) ||
              (d.config->tpm > 0 && used.tokens >= static_cast<double>(d.config->tpm))) {
            blocked.rate = true;
            continue;
          }
        }
        eligible.push_back(i);
      }
      if (!eligible.empty()) {
        route::PickContext pc{.now = now, .affinity = affinity_, .has_affinity = has_affinity_};
        return ctx_.routes->balancers.of(model).pick(eligible, pc);
      }
    }
    if (tried.empty()) break;
  }
  return std::nullopt;
}

asio::awaitable<RouteStage::Attempt> RouteStage::attempt(const route::ModelRoute& model,
                                                         std::uint32_t index,
                                                         provider::StreamSink& sink) {
  SlotGuard slot(model, index);
  const route::Deployment& d = model.deployments[index];
  const Clock::time_point sent = Clock::now();
  const std::int64_t in_flight = d.load->in_flight();
  if (d.config->rpm > 0 || d.config->tpm > 0) d.load->add_usage(sent, 1, tokens_estimate_);
  ++ctx_.attempts;
  Attempt a;
  a.index = index;
  // A deployment without `model` gets the name its own model is known by: the client's for the
  // requested model (which may be a pattern), the fallback's name for a fallback.
  a.upstream_model = !d.model.empty()    ? d.model
                     : &model == &route_ ? std::string(ctx_.model)
                                         : model.name;
  // A stream opens with these headers while the attempt runs (streams are never hedged).
  set_headers(d);
  ctx_.fell_back = &model != &route_;

  http::UpstreamTimeouts timeouts = d.timeouts;
  if (deadline_ != Clock::time_point::max()) {
    auto left = duration_cast<milliseconds>(deadline_ - sent);
    timeouts.total = std::clamp(left, milliseconds(1), timeouts.total);
  }
  provider::Call call{ctx_.request,
                      a.upstream_model,
                      ctx_.session.request(),
                      ctx_.session.request_id(),
                      ctx_.routes->resources(),
                      &timeouts};
  a.exchange = co_await d.provider->exchange(call, sink);
  // A hedge that lost was cancelled by the winner: no verdict on the deployment.
  auto cs = co_await asio::this_coro::cancellation_state;
  if (cs.cancelled() != asio::cancellation_type::none) {
    model.health->on_abandoned(index, Clock::now());
    a.verdict = Verdict::kDone;
    co_return a;
  }
  a.verdict = judge(model, index, a.exchange, sent, in_flight);
  co_return a;
}

asio::awaitable<RouteStage::Attempt> RouteStage::hedged(const route::ModelRoute& model,
                                                        std::uint32_t index,
                                                        provider::StreamSink& sink) {
  const config::Hedge& h = model.config->hedge;
  Clock::duration delay =
      h.delay.count() > 0 ? Clock::duration(h.delay) : Clock::duration(model.latency->p95());
  // No latency figures yet, or nowhere else to go: a plain attempt.
  if (delay.count() <= 0 || model.deployments.size() < 2) {
    co_return co_await attempt(model, index, sink);
  }
  delay = std::max(delay, Clock::duration(h.min_delay));
  using namespace asio::experimental::awaitable_operators;
  auto winner = co_await (attempt(model, index, sink) || hedge(model, delay, sink, index));
  if (winner.index() == 0) co_return std::move(std::get<0>(winner));
  co_return std::move(std::get<1>(winner));
}

asio::awaitable<RouteStage::Attempt> RouteStage::hedge(const route::ModelRoute& model,
                                                       Clock::duration delay,
                                                       provider::StreamSink& sink,
                                                       std::uint32_t first) {
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (!ec && route_.budget->try_begin_retry(route_.in_flight())) {
    RetryGuard retry(*route_.budget);
    Blocked blocked;
    Indexes tried{first};
    std::optional<std::uint32_t> i = pick_now(model, tried, tried, blocked, false);
    if (i && take_slot(model, *i)) {
      if (model.health->admit(*i, Clock::now())) {
        Attempt a = co_await attempt(model, *i, sink);
        // A hedge that fails fast must not end the race: the first attempt may still answer.
        if (a.verdict != Verdict::kRetry) co_return a;
      } else {
        release_slot(model, *i);
      }
    }
  }
  // No (useful) hedge: wait for the first attempt, which cancels this wait when it ends.
  timer.expires_at(Clock::time_point::max());
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  Attempt none;
  none.exchange = failed(core::Error(Errc::kCancelled, "No hedge was sent."));
  none.index = first;
  co_return none;
}

RouteStage::Verdict RouteStage::judge(const route::ModelRoute& model, std::uint32_t index,
                                      const Exchange& e, Clock::time_point sent,
                                      std::int64_t in_flight) {
  const route::Deployment& d = model.deployments[index];
  const Clock::time_point now = Clock::now();
  const auto first_byte = e.first_byte_at != Clock::time_point{} ? e.first_byte_at : now;
  const nanoseconds latency = duration_cast<nanoseconds>(first_byte - sent);
  route::HealthGroup& health = *model.health;
  retry_after_.reset();
  rate_limited_ = false;
  long_retry_after_ = false;

  // A failure that came fast must not make the deployment look fast to the balancers: it never
  // lowers the estimate (outlier ejection and the breaker deal with the failing itself).
  auto failure = [&](bool retryable) {
    const auto current = nanoseconds(static_cast<std::int64_t>(d.load->latency_ms(now) * 1e6));
    d.load->observe(now, std::max(duration_cast<nanoseconds>(now - sent), current));
    d.load->count(true);
    health.on_failure(index, now);
    return retryable ? Verdict::kRetry : Verdict::kDone;
  };
  // The deployment answered: its latency to the first byte feeds the balancers, the adaptive
  // limit and, for whole answers (the ones hedging races), the model's p95.
  auto success = [&](bool whole_answer) {
    d.load->observe(now, latency);
    d.load->count(false);
    health.on_success(index, now);
    if (d.adaptive) d.adaptive->on_sample(latency, static_cast<int>(in_flight));
    const config::Hedge& h = model.config->hedge;
    if (whole_answer && !ctx_.stream && h.enabled && h.delay.count() == 0) {
      model.latency->record(latency);
    }
  };

  switch (e.kind) {
    case Exchange::Kind::kStreamed:
      if (e.stream_failed && e.error.code == Errc::kCancelled) {
        health.on_abandoned(index, now);
        return Verdict::kDone;
      }
      if (e.stream_failed) {
        // The deployment broke a stream it had begun: a failure, but the client has bytes
        // already, so nothing is retried.
        return failure(false);
      }
      success(false);
      return Verdict::kDone;
    case Exchange::Kind::kFailed:
      if (e.error.code == Errc::kCancelled || ctx_.session.client_gone()) {
        health.on_abandoned(index, now);
        return Verdict::kDone;
      }
      if (e.error.code == Errc::kUpstreamTooLarge) {
        // The deployment works; another would answer as much, and be paid for it again.
        success(false);
        return Verdict::kDone;
      }
      return failure(true);
    case Exchange::Kind::kReply:
      break;
  }
  if (e.status == 429) {
    auto ra = route::parse_retry_after(header_of(e, "retry-after"),
                                       core::SteadyClock::instance().unix_ms(),
                                       model.config->health.max_cooldown);
    health.on_rate_limited(index, now, ra);
    d.load->count(true);
    rate_limited_ = true;
    if (ra && *ra <= model.config->retries.max_retry_after) retry_after_ = ra;
    long_retry_after_ = ra && !retry_after_;
    return Verdict::kRetry;
  }
  if (e.status >= 500) return failure(route::retryable_status(e.status));
  // 2xx and the client's own errors: the deployment works.
  success(e.status < 300);
  if (is_context_length_error(e)) return Verdict::kContextLength;
  return Verdict::kDone;
}

asio::awaitable<bool> RouteStage::sleep(Clock::duration d) {
  if (deadline_ != Clock::time_point::max() && Clock::now() + d >= deadline_) co_return false;
  if (d.count() <= 0) co_return true;
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return !ec && !ctx_.session.client_gone();
}

void RouteStage::set_headers(const route::Deployment& deployment) {
  attempts_text_ = std::to_string(ctx_.attempts);
  headers_[0] = {"x-sluice-deployment", deployment.id};
  headers_[1] = {"x-sluice-attempts", attempts_text_};
  header_count_ = 2;
  ctx_.deployment = deployment.id;
  ctx_.deployment_name_id = deployment.name_id;
  ctx_.deployment_config = deployment.config;
}

}  // namespace sluice::gateway
