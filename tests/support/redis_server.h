// Test support: a real `redis-server` on a free loopback port, without persistence, in its own
// temporary directory, that a test can kill (SIGKILL), restart on the same port, freeze
// (SIGSTOP) and thaw (SIGCONT); and a small blocking RESP client to look at what is stored.
//
// Header-only so that both the unit tests (which link only sluice_lib) and the integration tests
// can use it. The server dies with the test runner (PR_SET_PDEATHSIG) and is killed and reaped
// when the object is destroyed.
//
// Thread safety: an instance belongs to the thread that created it; command() may be called
// from any thread (each call uses its own connection).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/free_port.h"

namespace sluice::testing {

// A RESP reply.
struct RespValue {
  char type = 0;  // '+', '-', ':', '$', '*'; 0 when the exchange failed
  bool nil = false;
  std::string str;  // '+', '-', '$'
  long long integer = 0;
  std::vector<RespValue> elements;  // '*'
  bool ok() const { return type != 0 && type != '-'; }
};

class RedisServer {
 public:
  // Starts a server now (`start = true`) or only reserves its port, for a test in which Redis is
  // down at first. `extra_args` go after the defaults (e.g. {"--requirepass", "secret"}).
  explicit RedisServer(bool start_now = true, std::vector<std::string> extra_args = {},
                       std::string password = {})
      : extra_args_(std::move(extra_args)), password_(std::move(password)) {
    char tmpl[] = "/tmp/sluice-redis-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    port_ = free_port();
    if (start_now) start();
  }
  ~RedisServer() {
    kill();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }
  // redis://[:password@]127.0.0.1:PORT/DB
  std::string url(int db = 0) const {
    std::string auth = password_.empty() ? "" : ":" + password_ + "@";
    return "redis://" + auth + "127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
  }
  bool running() const { return pid_ > 0; }

  // Starts the server (again) on its port; returns once it answers PING.
  void start() {
    if (pid_ > 0) return;
    std::vector<std::string> argv = {"/usr/bin/redis-server",
                                     "--port",
                                     std::to_string(port_),
                                     "--bind",
                                     "127.0.0.1",
                                     "--save",
                                     "",
                                     "--appendonly",
                                     "no",
                                     "--dir",
                                     dir_.string(),
                                     "--daemonize",
                                     "no",
                                     "--enable-debug-command",
                                     "local"};
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    std::string log = (dir_ / "redis.log").string();
    int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      if (log_fd >= 0) {
        ::dup2(log_fd, STDOUT_FILENO);
        ::dup2(log_fd, STDERR_FILENO);
      }
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    if (log_fd >= 0) ::close(log_fd);
    pid_ = pid;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (command({"PING"}).str == "PONG") return;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("redis-server exited at start; see " + log);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("redis-server did not answer PING; see " + log);
  }

  // SIGKILL (thawing it first is not needed) and reap; the port is free again at once.
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  void freeze() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  void thaw() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }

  // One command on a new connection (AUTH and SELECT first when needed). type 0 on failure.
  RespValue command(const std::vector<std::string>& args, int db = 0,
                    std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
    auto replies = pipeline({args}, db, timeout);
    return replies.empty() ? RespValue{} : replies.back();
  }

  // Several commands in one write; their replies in order (fewer on failure).
  std::vector<RespValue> pipeline(
      const std::vector<std::vector<std::string>>& commands, int db = 0,
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) const {
    std::vector<RespValue> out;
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return out;
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(fd);
      return out;
    }
    std::string wire;
    std::size_t skip = 0;  // replies to AUTH and SELECT
    if (!password_.empty()) {
      wire += encode({"AUTH", password_});
      ++skip;
    }
    if (db != 0) {
      wire += encode({"SELECT", std::to_string(db)});
      ++skip;
    }
    for (const auto& c : commands) wire += encode(c);
    for (std::size_t sent = 0; sent < wire.size();) {
      ssize_t n = ::send(fd, wire.data() + sent, wire.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        ::close(fd);
        return out;
      }
      sent += static_cast<std::size_t>(n);
    }
    Reader reader{fd};
    for (std::size_t i = 0; i < skip + commands.size(); ++i) {
      auto v = reader.value();
      if (!v) break;
      if (i >= skip) out.push_back(std::move(*v));
    }
    ::close(fd);
    return out;
  }

 private:
  static std::string encode(const std::vector<std::string>& args) {
    std::string s = "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args) s += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
    return s;
  }

  struct Reader {
    int fd;
    std::string buf;
    std::size_t pos = 0;

    bool fill() {
      char chunk[65536];
      ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buf.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    std::optional<std::string> line() {
      for (;;) {
        auto end = buf.find("\r\n", pos);
        if (end != std::string::npos) {
          std::string l = buf.substr(pos, end - pos);
          pos = end + 2;
          return l;
        }
        if (!fill()) return std::nullopt;
      }
    }
    std::optional<RespValue> value() {
      auto l = line();
      if (!l || l->empty()) return std::nullopt;
      RespValue v;
      v.type = (*l)[0];
      std::string rest = l->substr(1);
      switch (v.type) {
        case '+':
        case '-':
          v.str = rest;
          return v;
        case ':':
          v.integer = std::stoll(rest);
          return v;
        case '$': {
          long long n = std::stoll(rest);
          if (n < 0) {
            v.nil = true;
            return v;
          }
          while (buf.size() < pos + static_cast<std::size_t>(n) + 2) {
            if (!fill()) return std::nullopt;
          }
          v.str = buf.substr(pos, static_cast<std::size_t>(n));
          pos += static_cast<std::size_t>(n) + 2;
          return v;
        }
        case '*': {
          long long n = std::stoll(rest);
          if (n < 0) {
            v.nil = true;
            return v;
          }
          for (long long i = 0; i < n; ++i) {
            auto e = value();
            if (!e) return std::nullopt;
            v.elements.push_back(std::move(*e));
          }
          return v;
        }
        default:
          return std::nullopt;
      }
    }
  };

  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::vector<std::string> extra_args_;
  std::string password_;
};

}  // namespace sluice::testing
