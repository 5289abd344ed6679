// Test support: runs a `sluice` command to completion, its stdout and stderr captured apart, as a
// user at a shell would (the CLI suites: keys, usage, batch).
//
// Thread safety: a pure function (it blocks until the command exits).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace sluice::testing {

struct CliRun {
  int code = -1;  // the exit code; 128 + signal when killed
  std::string out, err;
};

// Runs `sluice args...`; the captured output goes through files in `dir`. A sanitizer report on
// stderr fails the calling test, as Process does.
CliRun sluice(const TempDir& dir, const std::vector<std::string>& args);

// The whole file (empty when it cannot be read).
std::string slurp(const std::filesystem::path& p);

}  // namespace sluice::testing
