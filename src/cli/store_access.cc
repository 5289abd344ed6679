#include "cli/store_access.h"

#include <filesystem>
#include <iostream>

#include "config/loader.h"

namespace sluice::cli {

namespace {

// The CLI may wait for a gateway's batch write to finish; a person at a terminal does not mind
// a second, and a failure after a short wait would only make them run the command again.
constexpr std::chrono::milliseconds kCliBusyTimeout{5000};

}  // namespace

void add_store_options(CLI::App& cmd, StoreOptions& options) {
  auto* config = cmd.add_option("-c,--config", options.config_file,
                                "A configuration file; its data_dir holds the database")
                     ->type_name("FILE");
  auto* dir = cmd.add_option("--data-dir", options.data_dir,
                             "The data directory (the database is DIR/sluice.db)")
                  ->type_name("DIR");
  config->excludes(dir);
}

std::unique_ptr<store::Database> open_store(const StoreOptions& options, const std::string& command,
                                            bool create) {
  std::string data_dir = options.data_dir;
  if (!options.config_file.empty()) {
    try {
      data_dir = config::load_file(options.config_file).data_dir;
    } catch (const config::ConfigError& e) {
      std::cerr << e.what() << "\n";
      return nullptr;
    }
    if (data_dir.empty()) {
      std::cerr << command << ": " << options.config_file
                << " sets no data_dir (where the keys and the usage ledger are stored)\n";
      return nullptr;
    }
  }
  if (data_dir.empty()) {
    std::cerr << command << ": say where the database is: --data-dir DIR or -c FILE\n";
    return nullptr;
  }
  std::string path = store::database_path(data_dir);
  std::error_code ec;
  if (!create && !std::filesystem::exists(path, ec)) {
    std::cerr << command << ": no database at " << path
              << " (sluice keys create makes one; is the data directory right?)\n";
    return nullptr;
  }
  auto db = store::Database::open(path, kCliBusyTimeout);
  if (!db) {
    std::cerr << command << ": " << db.error().message << "\n";
    return nullptr;
  }
  return std::move(*db);
}

}  // namespace sluice::cli
