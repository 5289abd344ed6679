// `sluice config check FILE`: validates a configuration and prints every problem with its
// file:line:column, or "FILE: ok". Exit code 0 when valid, 1 otherwise.
#include <iostream>

#include "cli/commands.h"
#include "config/loader.h"

namespace sluice::cli {

void add_config(CLI::App& app, std::function<int()>& run) {
  auto* cmd = app.add_subcommand("config", "Work with configuration files");
  cmd->require_subcommand(1);
  auto file = std::make_shared<std::string>();
  auto* check = cmd->add_subcommand("check", "Validate a configuration file");
  check->add_option("file", *file, "The YAML file")->required();
  check->callback([file, &run] {
    run = [file] {
      try {
        config::load_file(*file);
      } catch (const config::ConfigError& e) {
        std::cerr << e.what() << "\n";
        return 1;
      }
      std::cout << *file << ": ok\n";
      return 0;
    };
  });
}

}  // namespace sluice::cli
