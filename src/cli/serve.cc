// `sluice serve [-c FILE]`: runs the gateway until SIGINT or SIGTERM, then drains and exits 0.
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <thread>

#include "cli/commands.h"
#include "cli/gateway_instance.h"
#include "config/loader.h"
#include "core/log.h"

namespace sluice::cli {

namespace {

struct ServeOptions {
  std::string config_file;
  std::string listen;
  int workers = -1;
};

int serve(const ServeOptions& opts) {
  std::optional<config::Listen> listen;
  if (!opts.listen.empty()) {
    auto parsed = config::parse_listen(opts.listen);
    if (!parsed) {
      std::cerr << "sluice: --listen: " << parsed.error().message << "\n";
      return 1;
    }
    listen = *parsed;
  }
  // What the command line and the environment change in the file, at startup and on reloads.
  auto overrides = [listen, workers = opts.workers](config::Config& c) {
    if (listen) c.listen = *listen;
    if (workers >= 0) c.workers = workers;
    if (c.auth.admin_key.empty()) {
      if (const char* key = std::getenv("SLUICE_ADMIN_KEY")) c.auth.admin_key = key;
    }
  };
  config::Config cfg;
  try {
    cfg = opts.config_file.empty() ? config::default_config() : config::load_file(opts.config_file);
  } catch (const config::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  overrides(cfg);
  core::setup_logging(cfg.log_level);
  auto instance = GatewayInstance::start(std::move(cfg), overrides, /*batch_jobs=*/true);
  if (!instance) {
    std::cerr << "sluice: " << instance.error().message << "\n";
    return 1;
  }
  const config::Config& c = (*instance)->config();
  spdlog::info("sluice {} listening on http://{}:{} ({} workers, config {}, {} models)",
               SLUICE_VERSION, c.listen.host, (*instance)->port(),
               c.workers > 0 ? c.workers
                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())),
               c.source, c.models.size());
  (*instance)->run_until_signal();
  instance->reset();
  spdlog::info("sluice stopped");
  // Writes what the asynchronous loggers still hold (the access log's last lines) before exit.
  spdlog::shutdown();
  return 0;
}

}  // namespace

void add_serve(CLI::App& app, std::function<int()>& run) {
  auto opts = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "Run the gateway");
  cmd->add_option("-c,--config", opts->config_file,
                  "Configuration file (YAML); without it, a built-in offline default");
  cmd->add_option("--listen", opts->listen, "Override `listen` (HOST:PORT)");
  cmd->add_option("--workers", opts->workers, "Override `workers` (0 = one per core)");
  cmd->callback([opts, &run] { run = [opts] { return serve(*opts); }; });
}

}  // namespace sluice::cli
