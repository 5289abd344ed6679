#include "provider/mock_provider.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/strings.h"

namespace sluice::provider {

using core::Errc;
using Clock = std::chrono::steady_clock;

namespace {

// Waits `d` on the calling coroutine's executor; false when cancelled (the client went away).
asio::awaitable<bool> sleep_for(std::chrono::milliseconds d) {
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return !ec;
}

core::Error timeout(std::string_view provider, std::string_view what, config::Duration limit) {
  return core::Error(Errc::kUpstreamTimeout, "Upstream " + std::string(provider) + " " +
                                                 std::string(what) + " " +
                                                 core::format_duration(limit) + ".");
}

}  // namespace

MockProvider::MockProvider(const config::Provider& config)
    : name_(config.name), timeouts_(config.timeouts), engine_(config.mock) {}

asio::awaitable<Exchange> MockProvider::exchange(const Call& call, StreamSink& sink) const {
  Exchange out;
  const auto& client = call.client;
  auto faults = mock::Faults::from_headers([&](std::string_view name) { return client[name]; });
  std::string rebuilt;
  std::string_view body = call.request.body;
  if (call.upstream_model != call.request.model()) {
    rebuilt = api::body_with_model(call.request, call.upstream_model);
    body = rebuilt;
  }
  mock::Reply reply = engine_.respond(call.request.endpoint, body, faults);
  auto cancelled = [&] {
    out.error = core::Error(Errc::kCancelled, "The client went away.");
    return out;
  };

  if (reply.hang || reply.first_delay > timeouts_.first_byte) {
    if (!co_await sleep_for(timeouts_.first_byte)) co_return cancelled();
    out.error = timeout(name_, "did not answer within", timeouts_.first_byte);
    co_return out;
  }
  if (reply.first_delay.count() > 0 && !co_await sleep_for(reply.first_delay)) {
    co_return cancelled();
  }
  out.first_byte_at = Clock::now();
  out.status = reply.status;
  out.content_type = reply.content_type;
  out.headers = reply.headers;

  if (!reply.stream) {
    if (reply.cut_after >= 0) {
      out.error = core::Error(Errc::kUpstreamProtocol,
                              "Upstream " + name_ + " closed the connection mid-answer.");
      co_return out;
    }
    out.kind = Exchange::Kind::kReply;
    out.body = std::move(reply.body);
    co_return out;
  }

  const std::size_t n = reply.events.size();
  const std::size_t cut = reply.cut_after >= 0 ? std::min<std::size_t>(reply.cut_after, n) : n;
  auto stream_cut = [&](bool opened) {
    out.kind = opened ? Exchange::Kind::kStreamed : Exchange::Kind::kFailed;
    out.stream_failed = opened;
    out.error = core::Error(Errc::kUpstreamProtocol,
                            "Upstream " + name_ + " closed the connection mid-answer.");
    return out;
  };
  if (reply.event_interval.count() == 0) {
    // Unpaced: everything that is ready goes in one write.
    std::string all;
    for (std::size_t i = 0; i < cut; ++i) all += reply.events[i];
    if (cut > 0 && !co_await sink.events(out, all, cut == n)) co_return cancelled();
    if (cut < n) co_return stream_cut(cut > 0);
    out.kind = Exchange::Kind::kStreamed;
    co_return out;
  }
  if (reply.event_interval > timeouts_.idle) {
    // The engine would pause longer than the gateway waits between events.
    if (!co_await sink.events(out, reply.events[0], n == 1)) co_return cancelled();
    if (!co_await sleep_for(timeouts_.idle)) co_return cancelled();
    out.kind = Exchange::Kind::kStreamed;
    out.stream_failed = true;
    out.error = timeout(name_, "sent nothing for", timeouts_.idle);
    co_return out;
  }
  for (std::size_t i = 0; i < cut; ++i) {
    if (i > 0 && !co_await sleep_for(reply.event_interval)) co_return cancelled();
    if (!co_await sink.events(out, reply.events[i], i + 1 == n)) co_return cancelled();
  }
  if (cut < n) co_return stream_cut(cut > 0);
  out.kind = Exchange::Kind::kStreamed;
  co_return out;
}

}  // namespace sluice::provider
