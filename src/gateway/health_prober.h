// Active health checks (docs/routing.md, "Health"): for every deployment of a model whose
// health.probe is enabled, GET <base_url><path> every `interval`, and tell the model's
// HealthGroup. One worker runs them all (probes are few and cheap), on its own pools.
//
// Thread safety: lives on its worker; the HealthGroups it reports to are shared and safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <list>
#include <memory>

#include "core/asio.h"
#include "gateway/runtime.h"
#include "gateway/worker_state.h"

namespace sluice::gateway {

class HealthProber {
 public:
  HealthProber(std::shared_ptr<const Runtime> runtime, WorkerState& worker,
               asio::any_io_executor executor);
  // Spawns one loop per probed deployment.
  void start();
  // Cancels every loop (at shutdown, so the worker's io_context can finish).
  void stop();

 private:
  asio::awaitable<void> run(const route::ModelRoute& route, std::size_t index);

  std::shared_ptr<const Runtime> runtime_;
  WorkerState& worker_;
  asio::any_io_executor executor_;
  std::list<asio::cancellation_signal> signals_;  // one per loop; a list never moves them
};

}  // namespace sluice::gateway
