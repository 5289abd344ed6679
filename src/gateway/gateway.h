// The gateway's request handler, one per worker: routes each request by method and path
// (DESIGN.md, "Life of a request", step 2) to the inference pipeline or to the small endpoints
// (models, health), and writes the access log line.
//
// Thread safety: one instance per worker, used only on that worker's thread.
#pragma once

#include <memory>

#include "gateway/health_prober.h"
#include "gateway/runtime.h"
#include "gateway/services.h"
#include "gateway/worker_state.h"
#include "http/server.h"
#include "net/worker.h"

namespace sluice::gateway {

class Gateway final : public http::WorkerHandler {
 public:
  Gateway(net::Worker& worker, std::shared_ptr<const Runtime> runtime, Services services);

  asio::awaitable<void> handle(http::ServerSession& session) override;
  http::ErrorPage render_error(const core::Error& error) override;
  void shutdown() override;

 private:
  std::shared_ptr<const Runtime> runtime_;
  WorkerState state_;
  asio::any_io_executor executor_;        // the worker's, for the cache's per-worker state
  std::unique_ptr<HealthProber> prober_;  // on the first worker only
};

}  // namespace sluice::gateway
