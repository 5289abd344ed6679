// Active health checks (docs/routing.md, "Health"): for every deployment of a model whose
// health.probe is enabled, GET <base_url><path> every `interval`, and tell the model's
// HealthGroup. One worker runs them all (probes are few and cheap), on its own pools.
//
// A reload hands the prober the new snapshot's routes (serve()): the old snapshot's loops are
// cancelled and new ones start for the new routes.
//
// Thread safety: lives on its worker; the HealthGroups it reports to are shared and safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <list>
#include <memory>

#include "core/asio.h"
#include "gateway/worker_state.h"

namespace sluice::gateway {

class HealthProber {
 public:
  explicit HealthProber(asio::any_io_executor executor) : executor_(std::move(executor)) {}
  // Probes the deployments of `routes`' snapshot, one loop each, and ends the loops of the
  // snapshot served before.
  void serve(std::shared_ptr<WorkerRoutes> routes);
  // Cancels every loop (at shutdown, so the worker's io_context can finish).
  void stop();

 private:
  struct Loop {
    asio::cancellation_signal signal;
    bool done = false;  // the loop's coroutine has returned: the signal is no longer bound
  };
  static asio::awaitable<void> run(std::shared_ptr<WorkerRoutes> routes,
                                   const route::ModelRoute& route, std::size_t index, Loop& loop);

  asio::any_io_executor executor_;
  std::list<Loop> loops_;  // a list never moves them
};

}  // namespace sluice::gateway
