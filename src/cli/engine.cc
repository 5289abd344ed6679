#include "cli/engine.h"

#include <cstdlib>

#include "cli/gateway_instance.h"
#include "config/loader.h"
#include "core/log.h"

namespace sluice::cli {

Engine::~Engine() {
  client_.reset();  // before the gateway it talks to
  instance_.reset();
}

core::Result<std::unique_ptr<Engine>> Engine::open(const EngineOptions& options) {
  std::unique_ptr<Engine> engine(new Engine());
  config::Config cfg;
  try {
    cfg = options.config_file.empty() ? config::default_config()
                                      : config::load_file(options.config_file);
  } catch (const config::ConfigError& e) {
    return core::fail(core::Errc::kInvalidRequest, e.what());
  }
  std::string url = options.url;
  if (url.empty()) {
    if (options.config_file.empty()) {
      return core::fail(core::Errc::kInvalidRequest,
                        "say where to send the requests: -c CONFIG (run that gateway in-process) "
                        "or --url URL (a running gateway)");
    }
    // Only this process talks to it: loopback, a port of the kernel's choosing, and quiet logs
    // (a progress bar owns the terminal).
    const std::string& level = cfg.log_level;
    core::setup_logging(level == "error" || level == "off" ? level : "warn");
    auto instance = GatewayInstance::start(std::move(cfg), [](config::Config& c) {
      c.listen.host = "127.0.0.1";
      c.listen.port = 0;
      // The command's own output goes to stdout; an access log to a file stays.
      if (c.access_log.path == "stdout") c.access_log.enabled = false;
    });
    if (!instance) return instance.error();
    engine->instance_ = std::move(*instance);
    url = "http://127.0.0.1:" + std::to_string(engine->instance_->port());
    engine->config_ = std::make_shared<const config::Config>(engine->instance_->config());
  } else {
    engine->config_ = std::make_shared<const config::Config>(std::move(cfg));
  }
  batch::GatewayClient::Options client;
  client.url = url;
  client.api_key = options.api_key;
  for (const char* name : {"SLUICE_API_KEY", "OPENAI_API_KEY"}) {
    if (!client.api_key.empty()) break;
    if (const char* value = std::getenv(name)) client.api_key = value;
  }
  client.timeout = options.timeout;
  client.headers = options.headers;
  auto opened = batch::GatewayClient::open(std::move(client));
  if (!opened) return opened.error();
  engine->client_ = std::move(*opened);
  return engine;
}

}  // namespace sluice::cli
