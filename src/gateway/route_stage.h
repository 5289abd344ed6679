// Stages 8 and 10 of the pipeline (DESIGN.md, "Life of a request"; docs/routing.md): pick a
// deployment of the model, make the attempt, and, while nothing has reached the client, retry
// on another deployment and then on the model's fallbacks.
//
// For each attempt the stage asks the model's balancer to choose among the deployments that
// are available (health), have room (concurrency, rpm, tpm) and sit in the best tier that has
// any; a retry prefers a deployment this request has not tried. Retries happen only on
// connect errors, timeouts before the answer, 429 and 500/502/503/504, with backoff and full
// jitter, within the retry budget and one total deadline. When every deployment is at its
// concurrency limit the request waits in the model's queue. Every attempt's outcome feeds the
// deployment's load and health.
//
// Thread safety: one RouteStage per request, on the request's worker.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/container/small_vector.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/asio.h"
#include "http/message.h"
#include "provider/provider.h"
#include "route/model_registry.h"

namespace sluice::gateway {

struct RequestContext;

class RouteStage {
 public:
  RouteStage(RequestContext& ctx, const route::ModelRoute& route);
  RouteStage(const RouteStage&) = delete;
  RouteStage& operator=(const RouteStage&) = delete;

  // Attempts until one answers, streams, or fails in a way no retry can change, or until the
  // attempts, the fallbacks or the deadline run out. The result is the answer to give: the last
  // attempt's, or kFailed with why no attempt could be made (503 no deployment available, 429
  // or 503 from a full or timed-out queue, with Retry-After in `headers`).
  asio::awaitable<provider::Exchange> run(provider::StreamSink& sink);

  // x-sluice-deployment and x-sluice-attempts, once an attempt has been made.
  std::span<const http::Header> headers() const { return {headers_.data(), header_count_}; }

 private:
  using Clock = std::chrono::steady_clock;
  using Indexes = boost::container::small_vector<std::uint32_t, 16>;

  enum class Verdict { kDone, kRetry, kContextLength };
  struct Attempt {
    provider::Exchange exchange;
    std::uint32_t index = 0;
    Verdict verdict = Verdict::kDone;
    std::string upstream_model;  // the model name this attempt sent
  };
  // What held deployments back in a pick that found none.
  struct Blocked {
    bool capacity = false;  // concurrency limits
    bool rate = false;      // rpm / tpm
  };
  enum class Pick { kPicked, kNone, kQueueFull, kQueueTimeout };

  // Takes a slot on a deployment that has room now; nullopt with `at_capacity` set when
  // concurrency limits held some back. With `last_resort`, panic routing when health holds
  // every deployment back.
  std::optional<std::uint32_t> take(const route::ModelRoute& model, const Indexes& tried,
                                    bool last_resort, bool& at_capacity);
  // Waits in the model's queue for a slot.
  asio::awaitable<Pick> queue(const route::ModelRoute& model, const Indexes& tried,
                              std::uint32_t& index, bool last_resort);
  // One eligible deployment now, never one in `skip`, one in `tried` only when nothing else is
  // eligible; nullopt with `blocked` saying what held deployments back. With `panic`, only an
  // open breaker, concurrency limits and rpm/tpm hold a deployment back.
  std::optional<std::uint32_t> pick_now(const route::ModelRoute& model, const Indexes& tried,
                                        const Indexes& skip, Blocked& blocked, bool panic);
  // One attempt on a deployment whose in-flight slot is already taken.
  asio::awaitable<Attempt> attempt(const route::ModelRoute& model, std::uint32_t index,
                                   provider::StreamSink& sink);
  // The first attempt and, if it is slow, a hedge on another deployment; the loser is cancelled.
  asio::awaitable<Attempt> hedged(const route::ModelRoute& model, std::uint32_t index,
                                  provider::StreamSink& sink);
  asio::awaitable<Attempt> hedge(const route::ModelRoute& model, Clock::duration delay,
                                 provider::StreamSink& sink, std::uint32_t first);
  // Feeds the outcome to the deployment's load and health; says what to do next.
  Verdict judge(const route::ModelRoute& model, std::uint32_t index,
                const provider::Exchange& exchange, Clock::time_point sent, std::int64_t in_flight);
  // Sleeps unless the deadline would pass first; false when cancelled or out of time.
  asio::awaitable<bool> sleep(Clock::duration d);
  void set_headers(const route::Deployment& deployment);

  RequestContext& ctx_;
  const route::ModelRoute& route_;
  Clock::time_point deadline_ = Clock::time_point::max();
  // The last answer was a 429: with a Retry-After short enough to wait for, or a longer one.
  bool rate_limited_ = false;
  std::optional<std::chrono::milliseconds> retry_after_;
  bool long_retry_after_ = false;
  bool rate_capped_ = false;  // a pick found every deployment at its rpm / tpm
  std::uint64_t affinity_ = 0;
  bool has_affinity_ = false;
  std::uint64_t tokens_estimate_ = 0;
  http::UpstreamTimeouts timeouts_;
  std::string attempts_text_;
  std::array<http::Header, 2> headers_{};
  std::size_t header_count_ = 0;
};

}  // namespace sluice::gateway
