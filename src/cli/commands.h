// The `sluice` commands. main.cc parses the command line with CLI11 and each command registers
// its own options here; one file per command (DESIGN.md, "Where things live").
//
// Thread safety: called once from main().
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace sluice::cli {

// Adds the subcommand to `app`; `run` is set to the function to call when it is chosen. The
// function returns the process exit code.
void add_serve(CLI::App& app, std::function<int()>& run);
void add_mock(CLI::App& app, std::function<int()>& run);
void add_config(CLI::App& app, std::function<int()>& run);
void add_cache(CLI::App& app, std::function<int()>& run);
void add_keys(CLI::App& app, std::function<int()>& run);
void add_usage(CLI::App& app, std::function<int()>& run);
void add_batch(CLI::App& app, std::function<int()>& run);
void add_compare(CLI::App& app, std::function<int()>& run);
void add_run(CLI::App& app, std::function<int()>& run);

}  // namespace sluice::cli
