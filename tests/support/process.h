// Test support: start real `sluice` processes (gateway, mock) and other servers (nginx) on
// ephemeral loopback ports, wait until they listen, signal them, collect their exit status.
//
// Every process is killed (SIGKILL) and reaped when its handle is destroyed, so a failing test
// leaves nothing behind. Logs go to a file in the test's temporary directory.
//
// Thread safety: a Process handle belongs to the test thread that created it.
#pragma once

#include <sys/types.h>

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace sluice::testing {

using namespace std::chrono_literals;

class Process {
 public:
  // Starts argv[0] with the given arguments; stdout and stderr go to `log_file`.
  static std::unique_ptr<Process> start(const std::vector<std::string>& argv,
                                        const std::string& log_file,
                                        const std::map<std::string, std::string>& env = {});
  ~Process();

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for the process to exit; returns its exit code (128 + signal when killed), or nullopt
  // on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  std::string log() const;
  // Waits until the log contains `needle`; false on timeout or if the process exited.
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout);
  // Waits for the "listening on http://HOST:PORT" line and returns PORT (0 on failure).
  std::uint16_t wait_for_port(std::chrono::milliseconds timeout = 10s);

  // Peak resident set size in KiB, from /proc (0 when unavailable).
  long rss_kib() const;

 private:
  Process(pid_t pid, std::string log_file) : pid_(pid), log_file_(std::move(log_file)) {}
  pid_t pid_;
  std::string log_file_;
  std::optional<int> exit_code_;
};

// The path of the sluice binary under test.
std::string sluice_binary();

// A running `sluice mock`.
struct MockUpstream {
  std::unique_ptr<Process> process;
  std::uint16_t port = 0;
  std::string base_url() const;  // "http://127.0.0.1:PORT/v1"

  // GET /mock/stats: the mock's counters (empty, after a test failure, when it does not answer).
  boost::json::object stats() const;
  // stats()["requests"]: requests the mock received (-1 when it does not answer).
  std::int64_t requests() const;
  // Polls stats() until `pred` holds; false when `timeout` passes first.
  bool wait_for_stats(const std::function<bool(const boost::json::object&)>& pred,
                      std::chrono::milliseconds timeout) const;
  // POST /mock/faults: `json` (e.g. R"({"status":500})", or "{}" to clear) becomes the faults of
  // every later request that its own x-mock-* headers do not override. False when the mock
  // refused it or did not answer.
  bool set_faults(const std::string& json) const;
};
// Extra arguments go after `mock --listen 127.0.0.1:0`.
MockUpstream start_mock(const TempDir& dir, const std::vector<std::string>& args = {},
                        const std::string& name = "mock");

// A running `sluice serve` with the given YAML (its `listen` is forced to 127.0.0.1:0).
struct Gateway {
  std::unique_ptr<Process> process;
  std::uint16_t port = 0;
};
Gateway start_gateway(const TempDir& dir, const std::string& yaml,
                      const std::map<std::string, std::string>& env = {},
                      const std::string& name = "gateway");

}  // namespace sluice::testing
