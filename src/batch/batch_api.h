// The OpenAI Batch API on the server (docs/batch.md, "Batch API on the server"): the files routes
// (`POST /v1/files` as multipart/form-data with purpose=batch, `GET /v1/files`,
// `GET /v1/files/{id}`, `GET /v1/files/{id}/content`, `DELETE /v1/files/{id}`) and the batches
// routes (`POST /v1/batches`, `GET /v1/batches`, `GET /v1/batches/{id}`,
// `POST /v1/batches/{id}/cancel`), in OpenAI's shapes. The gateway forwards them here after
// authentication; the tenant's key id owns what it creates, and it sees nothing of others'.
//
// Nothing here blocks a worker: SQLite runs on the control plane's thread, and file bytes (the
// multipart parse of an upload, its durable write, reads for /content, deletes) on this API's
// own I/O thread. The batches themselves run in BatchExecutor, which this API wakes when one is
// created or cancelled.
//
// Thread safety: one instance shared by every worker; its state is the I/O thread and pointers
// to thread-safe services.
#pragma once

#include <boost/asio/thread_pool.hpp>

#include <cstdint>
#include <string>

#include "gateway/services.h"

namespace sluice::batch {

class BatchExecutor;

class BatchApi final : public gateway::BatchRoutes {
 public:
  struct Options {
    std::string data_dir;  // files are <data_dir>/files/<id>
    std::uint64_t max_file_bytes = 100ull * 1024 * 1024;
  };

  // Both outlive the API.
  BatchApi(Options options, store::ControlPlane& control_plane, BatchExecutor& executor);
  ~BatchApi() override;

  asio::awaitable<void> handle(gateway::RequestContext& ctx) override;
  std::uint64_t max_upload_bytes() const override { return options_.max_file_bytes; }

 private:
  asio::awaitable<void> create_file(gateway::RequestContext& ctx);
  asio::awaitable<void> list_files(gateway::RequestContext& ctx);
  asio::awaitable<void> file(gateway::RequestContext& ctx, std::string id, bool content);
  asio::awaitable<void> delete_file(gateway::RequestContext& ctx, std::string id);
  asio::awaitable<void> create_batch(gateway::RequestContext& ctx);
  asio::awaitable<void> list_batches(gateway::RequestContext& ctx);
  asio::awaitable<void> get_batch(gateway::RequestContext& ctx, std::string id);
  asio::awaitable<void> cancel_batch(gateway::RequestContext& ctx, std::string id);

  Options options_;
  store::ControlPlane& control_plane_;
  BatchExecutor& executor_;
  asio::thread_pool io_{1};
};

}  // namespace sluice::batch
