// sluice: an OpenAI-compatible AI gateway. Parses the command line and runs one command.
#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>

#include "cli/commands.h"

int main(int argc, char** argv) {
  // Writes to closed sockets report EPIPE instead of killing the process.
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"Sluice: a fast, caching, OpenAI-compatible AI gateway"};
  app.set_version_flag("--version", "sluice " SLUICE_VERSION);
  app.require_subcommand(1);
  std::function<int()> run;
  sluice::cli::add_serve(app, run);
  sluice::cli::add_mock(app, run);
  sluice::cli::add_config(app, run);
  sluice::cli::add_cache(app, run);
  sluice::cli::add_keys(app, run);
  sluice::cli::add_usage(app, run);
  sluice::cli::add_batch(app, run);
  sluice::cli::add_compare(app, run);
  sluice::cli::add_run(app, run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes (105, 106, 109, ...) say which parse error it was; scripts expect the
    // usual 2 for any misuse of the command line. --help and --version stay 0.
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return run ? run() : 0;
  } catch (const std::exception& e) {
    std::cerr << "sluice: " << e.what() << "\n";
    return 1;
  }
}
