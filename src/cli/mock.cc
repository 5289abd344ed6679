// `sluice mock --listen ADDR`: the simulated OpenAI-compatible upstream behind HTTP, for tests,
// demos and benchmarks.
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/commands.h"
#include "config/loader.h"
#include "core/log.h"
#include "core/strings.h"
#include "http/server.h"
#include "mock/server.h"
#include "net/listener.h"

namespace sluice::cli {

namespace {

struct MockOptions {
  std::string listen = "127.0.0.1:8000";
  int workers = 1;
  std::string first_token_delay = "0ms";
  double tokens_per_second = 0;
  double fault_rate = 0;
  std::uint64_t seed = 0;
  int max_tokens = 64;
  std::string log_level = "info";
};

int mock_main(const MockOptions& opts) {
  core::setup_logging(opts.log_level);
  auto listen = config::parse_listen(opts.listen);
  if (!listen) {
    std::cerr << "sluice mock: --listen: " << listen.error().message << "\n";
    return 1;
  }
  config::MockSettings settings;
  auto delay = core::parse_duration(opts.first_token_delay);
  if (!delay) {
    std::cerr << "sluice mock: --first-token-delay: not a duration: " << opts.first_token_delay
              << "\n";
    return 1;
  }
  settings.first_token_delay = *delay;
  settings.tokens_per_second = opts.tokens_per_second;
  settings.fault_rate = opts.fault_rate;
  settings.seed = opts.seed;
  settings.max_tokens = opts.max_tokens;
  auto engine = std::make_shared<const mock::Engine>(settings);
  auto stats = std::make_shared<mock::MockStats>();
  auto faults = std::make_shared<mock::FaultDefaults>();

  net::raise_open_file_limit();
  http::Server::Options options;
  options.name = "sluice mock";
  options.host = listen->host;
  options.port = listen->port;
  options.workers = std::max(1, opts.workers);
  options.limits.idle_timeout = std::chrono::seconds(300);
  options.drain_timeout = std::chrono::seconds(5);
  http::Server server(options, [&](net::Worker&) {
    return std::make_unique<mock::MockServer>(engine, stats, faults);
  });
  server.start();
  spdlog::info("sluice mock listening on http://{}:{} ({} workers)", options.host, server.port(),
               options.workers);
  server.run_until_signal();
  return 0;
}

}  // namespace

void add_mock(CLI::App& app, std::function<int()>& run) {
  auto opts = std::make_shared<MockOptions>();
  auto* cmd = app.add_subcommand("mock", "Run the simulated OpenAI-compatible upstream");
  cmd->add_option("--listen", opts->listen, "HOST:PORT to listen on (port 0 picks one)");
  cmd->add_option("--workers", opts->workers, "Worker threads");
  cmd->add_option("--first-token-delay", opts->first_token_delay,
                  "Delay before the first byte of each answer (e.g. 200ms)");
  cmd->add_option("--tokens-per-second", opts->tokens_per_second,
                  "Stream pacing; 0 sends every token at once");
  cmd->add_option("--fault-rate", opts->fault_rate, "Share of requests answered with HTTP 500")
      ->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--seed", opts->seed, "Seed of the fault sequence");
  cmd->add_option("--max-tokens", opts->max_tokens, "Longest natural answer, in tokens")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--log-level", opts->log_level, "trace, debug, info, warn, error or off");
  cmd->callback([opts, &run] { run = [opts] { return mock_main(*opts); }; });
}

}  // namespace sluice::cli
