#include "support/process.h"

#include <boost/json.hpp>

#include "support/http_client.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace sluice::testing {

namespace fs = std::filesystem;

std::unique_ptr<Process> Process::start(const std::vector<std::string>& argv,
                                        const std::string& log_file,
                                        const std::map<std::string, std::string>& env) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int log_fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot open " + log_file);
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    // Die with the test runner, so no server outlives a crashed test.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::signal(SIGPIPE, SIG_DFL);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(log_fd);
  return std::unique_ptr<Process>(new Process(pid, log_file));
}

Process::~Process() {
  if (!exit_code_) {
    // A graceful stop first, so that every test also exercises shutdown and, in sanitizer
    // builds, the leak checker runs at exit.
    ::kill(pid_, SIGTERM);
    if (!wait(5s)) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  // Any sanitizer report from a child fails the test that ran it.
  std::string text = log();
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
    if (text.find(marker) != std::string::npos) {
      ADD_FAILURE() << "sanitizer report in " << log_file_ << ":\n" << text;
      break;
    }
  }
}

void Process::signal(int sig) {
  if (!exit_code_) ::kill(pid_, sig);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (exit_code_) return exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
}

bool Process::running() { return !wait(0ms).has_value(); }

std::string Process::log() const {
  std::ifstream in(log_file_, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Process::wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (log().find(needle) != std::string::npos) return true;
    if (!running()) return log().find(needle) != std::string::npos;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

std::uint16_t Process::wait_for_port(std::chrono::milliseconds timeout) {
  static const std::regex kListening(R"(listening on http://[^ ]+:(\d+))");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = log();
    std::smatch m;
    if (std::regex_search(text, m, kListening)) return static_cast<std::uint16_t>(std::stoi(m[1]));
    if (!running()) return 0;
    std::this_thread::sleep_for(10ms);
  }
  return 0;
}

long Process::rss_kib() const {
  std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

std::string sluice_binary() {
  if (const char* env = std::getenv("SLUICE_BINARY")) return env;
  return SLUICE_BINARY;
}

std::string MockUpstream::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port) + "/v1";
}

MockUpstream start_mock(const TempDir& dir, const std::vector<std::string>& args,
                        const std::string& name) {
  std::vector<std::string> argv = {sluice_binary(), "mock", "--listen", "127.0.0.1:0"};
  argv.insert(argv.end(), args.begin(), args.end());
  MockUpstream m;
  m.process = Process::start(argv, dir.file(name + ".log").string());
  m.port = m.process->wait_for_port();
  if (m.port == 0) throw std::runtime_error("sluice mock did not start:\n" + m.process->log());
  return m;
}

Gateway start_gateway(const TempDir& dir, const std::string& yaml,
                      const std::map<std::string, std::string>& env, const std::string& name) {
  std::string config = dir.write(name + ".yaml", yaml);
  Gateway g;
  g.process = Process::start({sluice_binary(), "serve", "-c", config, "--listen", "127.0.0.1:0"},
                             dir.file(name + ".log").string(), env);
  g.port = g.process->wait_for_port();
  if (g.port == 0) throw std::runtime_error("sluice serve did not start:\n" + g.process->log());
  return g;
}

boost::json::object MockUpstream::stats() const {
  auto r = request(port, "GET", "/mock/stats");
  EXPECT_TRUE(r && r->status == 200) << "the mock did not answer /mock/stats";
  if (!r || r->status != 200) return {};
  return boost::json::parse(r->body).as_object();
}

std::int64_t MockUpstream::requests() const {
  auto s = stats();
  auto* n = s.if_contains("requests");
  return n != nullptr && n->is_int64() ? n->as_int64() : -1;
}

bool MockUpstream::set_faults(const std::string& json) const {
  auto r = request(port, "POST", "/mock/faults", json);
  return r && r->status == 200;
}

bool MockUpstream::wait_for_stats(const std::function<bool(const boost::json::object&)>& pred,
                                  std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(stats())) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace sluice::testing
