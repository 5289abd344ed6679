// An HTTP/1.1 server: N workers, each with its own SO_REUSEPORT acceptor, its own Handler and its
// own sessions (DESIGN.md, "Process model"). Both `sluice serve` (gateway::Gateway) and
// `sluice mock` (mock::MockServer) run on it.
//
// Shutdown drains: stop accepting, let in-flight requests and streams finish (idle keep-alive
// connections close at once), and after drain_timeout close whatever is left.
//
// Thread safety: construct, start(), shutdown() and run_until_signal() from one thread (the
// main thread); the rest runs on the workers.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/intrusive/list.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "http/server_session.h"
#include "net/worker.h"

namespace sluice::http {

// A Handler that also owns per-worker resources (upstream pools) needing an orderly close.
class WorkerHandler : public Handler {
 public:
  // Called on the worker thread after the last session ended: close pools, stop timers.
  virtual void shutdown() {}
};

class Server {
 public:
  struct Options {
    std::string name = "sluice";  // for log lines
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;
    int workers = 1;
    config::ServerLimits limits;
    std::chrono::milliseconds drain_timeout{30000};
  };
  // Builds one worker's handler; called on the main thread before the workers start.
  using HandlerFactory = std::function<std::unique_ptr<WorkerHandler>(net::Worker&)>;

  Server(Options options, HandlerFactory factory);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every worker's acceptor and starts the workers. Throws std::runtime_error when the
  // address cannot be bound.
  void start();
  // The bound port (useful with port 0).
  std::uint16_t port() const { return port_; }
  int active_connections() const { return active_.load(std::memory_order_relaxed); }

  // Blocks until SIGINT or SIGTERM, then shuts down (a second signal skips the drain wait). With
  // `on_hangup`, each SIGHUP calls it (on this thread) and the server keeps running. `on_stop`,
  // when given, is called on this thread when the stopping signal arrives, before the drain
  // begins (while the server still accepts): work that sends requests to this server stops there.
  void run_until_signal(const std::function<void()>& on_hangup = {},
                        const std::function<void()>& on_stop = {});
  // Drains and stops; returns when every worker has finished.
  void shutdown();

 private:
  struct Slot;

  asio::awaitable<void> accept_loop(Slot& slot);
  asio::awaitable<void> run_session(Slot& slot, std::unique_ptr<ServerSession> session);
  void on_each_worker(const std::function<void(Slot&)>& fn);
  bool wait_for_idle(std::chrono::steady_clock::time_point deadline);

  Options options_;
  HandlerFactory factory_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::uint16_t port_ = 0;
  std::atomic<int> active_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> hurry_{false};
  bool started_ = false;
  std::atomic<bool> stopped_{false};
};

}  // namespace sluice::http
