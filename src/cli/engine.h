// Where the batch commands (`sluice batch`, `sluice run`, `sluice compare`) send their requests:
// a running gateway (`--url`), or the gateway of a configuration file (`-c`) started inside the
// command on a loopback port, so cache, routing, retries and limits are exactly the server's.
//
// Thread safety: open and destroy on one thread; client() is thread-safe as GatewayClient is.
#pragma once

#include <memory>
#include <string>

#include "batch/gateway_client.h"
#include "config/config.h"
#include "core/error.h"

namespace sluice::gateway {
class Instance;
}

namespace sluice::batch {

struct EngineOptions {
  std::string config_file;  // -c: run this configuration in-process
  std::string url;          // --url: a running gateway (wins when both are set)
  std::string api_key;      // sent to the gateway; default: $SLUICE_API_KEY, then $OPENAI_API_KEY
};

class Engine {
 public:
  static core::Result<std::unique_ptr<Engine>> open(const EngineOptions& options);
  ~Engine();  // drains and stops the in-process gateway, if any

  GatewayClient& client() { return *client_; }
  // The configuration in force: the file's with -c, the built-in default with --url (prices,
  // models and limits are then the server's, unknown here).
  const config::Config& config() const { return *config_; }
  bool in_process() const { return instance_ != nullptr; }

 private:
  Engine() = default;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<gateway::Instance> instance_;
  std::unique_ptr<GatewayClient> client_;
};

}  // namespace sluice::batch
