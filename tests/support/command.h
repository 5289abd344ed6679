// Test support: runs a shell command (a tool the test checks its output with, such as promtool)
// and returns its exit status and everything it printed, stdout and stderr together.
//
// Thread safety: a pure function (it blocks until the command exits).
#pragma once

#include <stdio.h>
#include <sys/wait.h>

#include <string>

namespace sluice::testing {

struct CommandResult {
  int status = -1;  // the exit code; -1 when it could not run or was killed
  std::string output;
};

inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) r.output.append(buf, n);
  int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace sluice::testing
