#include "gateway/health_prober.h"

#include "gateway/runtime.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::gateway {

void HealthProber::serve(std::shared_ptr<WorkerRoutes> routes) {
  stop();
  std::erase_if(loops_, [](const Loop& loop) { return loop.done; });
  for (const route::ModelRoute& route : routes->runtime->models().routes()) {
    if (!route.config->health.probe.enabled) continue;
    for (std::size_t i = 0; i < route.deployments.size(); ++i) {
      Loop& loop = loops_.emplace_back();
      asio::co_spawn(executor_, run(routes, route, i, loop),
                     asio::bind_cancellation_slot(loop.signal.slot(), asio::detached));
    }
  }
}

void HealthProber::stop() {
  for (Loop& loop : loops_) {
    if (!loop.done) loop.signal.emit(asio::cancellation_type::terminal);
  }
}

asio::awaitable<void> HealthProber::run(std::shared_ptr<WorkerRoutes> routes,
                                        const route::ModelRoute& route, std::size_t index,
                                        Loop& loop) {
  struct Done {
    Loop& loop;
    ~Done() { loop.done = true; }
  } done{loop};
  const config::ActiveProbe& probe = route.config->health.probe;
  const provider::Provider& provider = *route.deployments[index].provider;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    const bool ok = co_await provider.probe(routes->resources(), probe.path, probe.timeout);
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return;
    route.health->on_probe(index, ok, std::chrono::steady_clock::now());
    timer.expires_after(probe.interval);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
  }
}

}  // namespace sluice::gateway
