// `kind: mock`: the simulated model (mock/engine.h) answering in-process, on the worker's own
// event loop, with the same pacing and injected faults as `sluice mock` behind HTTP. Faults come
// from the client's x-mock-* headers; timeouts behave as for a remote upstream (a hang ends in a
// 504 after the first-byte timeout).
//
// Thread safety: immutable apart from the engine's atomic counter; exchange() runs on any worker.
#pragma once

#include "config/config.h"
#include "mock/engine.h"
#include "provider/provider.h"

namespace sluice::provider {

class MockProvider final : public Provider {
 public:
  explicit MockProvider(const config::Provider& config);

  std::string_view name() const override { return name_; }
  std::string_view kind() const override { return "mock"; }
  asio::awaitable<Exchange> exchange(const Call& call, StreamSink& sink) const override;

 private:
  std::string name_;
  config::UpstreamTimeouts timeouts_;
  mock::Engine engine_;
};

}  // namespace sluice::provider
