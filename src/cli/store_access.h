// How `sluice keys` and `sluice usage` find and open the control-plane database: from the
// data_dir of a configuration file (-c/--config) or given directly (--data-dir). They open the
// file themselves, so no gateway needs to run; a gateway running on the same file sees their
// changes within its poll interval (store/control_plane.h).
//
// Called once per command, on the main thread.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "store/database.h"

namespace sluice::cli {

struct StoreOptions {
  std::string config_file;
  std::string data_dir;
};

// Adds -c/--config FILE and --data-dir DIR (one or the other) to `cmd`.
void add_store_options(CLI::App& cmd, StoreOptions& options);

// Opens <data_dir>/sluice.db. Unless `create` is set, a database that does not exist yet is an
// error (a mistyped directory should not silently show nothing). On failure, prints
// "<command>: <reason>" to stderr and returns null.
std::unique_ptr<store::Database> open_store(const StoreOptions& options, const std::string& command,
                                            bool create);

}  // namespace sluice::cli
