// Where the batch commands (`sluice batch`, `sluice run`, `sluice compare`) send their requests:
// a running gateway (`--url`), or the gateway of a configuration file (`-c`) started inside the
// command on a loopback port, so cache, routing, retries and limits are exactly the server's.
//
// It lives in cli/ (not batch/) because the in-process gateway is what `sluice serve` composes,
// from every module, admin included.
//
// Thread safety: open and destroy on one thread; client() is thread-safe as GatewayClient is.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "batch/gateway_client.h"
#include "config/config.h"
#include "core/error.h"

namespace sluice::cli {

class GatewayInstance;

struct EngineOptions {
  std::string config_file;  // -c: run this configuration in-process
  std::string url;          // --url: a running gateway (with -c too, the file gives the prices)
  std::string api_key;      // sent to the gateway; default: $SLUICE_API_KEY, then $OPENAI_API_KEY
  std::chrono::milliseconds timeout{600000};                 // one request, whole
  std::vector<std::pair<std::string, std::string>> headers;  // sent with every request
};

class Engine {
 public:
  static core::Result<std::unique_ptr<Engine>> open(const EngineOptions& options);
  ~Engine();  // drains and stops the in-process gateway, if any

  batch::GatewayClient& client() { return *client_; }
  // The file's configuration with -c (its prices and limits); with --url alone the built-in
  // default, since the server's is unknown here.
  const config::Config& config() const { return *config_; }
  bool in_process() const { return instance_ != nullptr; }

 private:
  Engine() = default;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<GatewayInstance> instance_;
  std::unique_ptr<batch::GatewayClient> client_;
};

}  // namespace sluice::cli
