#include "gateway/health_prober.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::gateway {

HealthProber::HealthProber(std::shared_ptr<const Runtime> runtime, WorkerState& worker,
                           asio::any_io_executor executor)
    : runtime_(std::move(runtime)), worker_(worker), executor_(std::move(executor)) {}

void HealthProber::start() {
  for (const route::ModelRoute& route : runtime_->models().routes()) {
    if (!route.config->health.probe.enabled) continue;
    for (std::size_t i = 0; i < route.deployments.size(); ++i) {
      auto& signal = signals_.emplace_back();
      asio::co_spawn(executor_, run(route, i),
                     asio::bind_cancellation_slot(signal.slot(), asio::detached));
    }
  }
}

void HealthProber::stop() {
  for (auto& signal : signals_) signal.emit(asio::cancellation_type::terminal);
}

asio::awaitable<void> HealthProber::run(const route::ModelRoute& route, std::size_t index) {
  const config::ActiveProbe& probe = route.config->health.probe;
  const provider::Provider& provider = *route.deployments[index].provider;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (;;) {
    const bool ok = co_await provider.probe(worker_.resources(), probe.path, probe.timeout);
    auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return;
    route.health->on_probe(index, ok, std::chrono::steady_clock::now());
    timer.expires_after(probe.interval);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
  }
}

}  // namespace sluice::gateway
