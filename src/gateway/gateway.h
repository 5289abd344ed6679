// The gateway's request handler, one per worker: routes each request by method and path
// (DESIGN.md, "Life of a request", step 2) to the inference pipeline or to the small endpoints
// (models, health), and writes the access log line. At the start of each request it takes the
// RuntimeSource's newest snapshot if a reload published one (adopt()).
//
// Thread safety: one instance per worker, used only on that worker's thread.
#pragma once

#include <memory>

#include "gateway/health_prober.h"
#include "gateway/runtime.h"
#include "gateway/runtime_source.h"
#include "gateway/services.h"
#include "gateway/worker_state.h"
#include "http/server.h"
#include "net/worker.h"

namespace sluice::gateway {

class Gateway final : public http::WorkerHandler {
 public:
  // `runtimes` outlives the gateway.
  Gateway(net::Worker& worker, const RuntimeSource& runtimes, Services services);

  asio::awaitable<void> handle(http::ServerSession& session) override;
  http::ErrorPage render_error(const core::Error& error) override;
  // POST /v1/files takes up to batch.max_file_bytes; everything else limits.max_body_bytes.
  std::uint64_t body_limit(beast::http::verb method, std::string_view target,
                           std::uint64_t configured) override;
  void shutdown() override;

 private:
  // Builds the worker's routes for `runtime`: the pools of its providers (kept from the snapshot
  // before where the provider did not change) and fresh balancers; retires the pools no longer
  // used and frees retired ones nothing uses any more.
  void adopt(std::shared_ptr<const Runtime> runtime);

  const RuntimeSource& runtimes_;
  std::uint64_t version_ = 0;  // of the snapshot in state_.routes
  WorkerState state_;
  net::Worker& worker_;
  asio::any_io_executor executor_;  // the worker's, for the cache's per-worker state
  // The routes of snapshots replaced by a reload, while requests still hold them: a retired pool
  // is freed only when none of them refers to it.
  std::vector<std::weak_ptr<WorkerRoutes>> replaced_;
  std::unique_ptr<HealthProber> prober_;  // on the first worker only
};

}  // namespace sluice::gateway
