#include "http/server.h"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <future>
#include <stdexcept>
#include <thread>

#include "net/listener.h"

namespace sluice::http {

using asio::ip::tcp;
using namespace std::chrono_literals;

struct Server::Slot {
  explicit Slot(int index) : worker(index) {}
  net::Worker worker;
  std::optional<tcp::acceptor> acceptor;
  std::unique_ptr<WorkerHandler> handler;
  boost::intrusive::list<ServerSession, boost::intrusive::base_hook<SessionRegistryHook>,
                         boost::intrusive::constant_time_size<false>>
      sessions;
};

Server::Server(Options options, HandlerFactory factory)
    : options_(std::move(options)), factory_(std::move(factory)) {}

Server::~Server() { shutdown(); }

void Server::start() {
  auto addr = net::parse_listen_host(options_.host);
  if (!addr) throw std::runtime_error(addr.error().message);
  int n = std::max(1, options_.workers);
  std::uint16_t port = options_.port;
  for (int i = 0; i < n; ++i) {
    auto slot = std::make_unique<Slot>(i);
    auto acceptor = net::open_acceptor(slot->worker.io(), tcp::endpoint(*addr, port));
    if (!acceptor) throw std::runtime_error(acceptor.error().message);
    // With port 0 the first bind picks the port and the other workers join it.
    port = acceptor->local_endpoint().port();
    slot->acceptor.emplace(std::move(*acceptor));
    slot->handler = factory_(slot->worker);
    slots_.push_back(std::move(slot));
  }
  port_ = port;
  for (auto& slot : slots_) {
    asio::co_spawn(slot->worker.io(), accept_loop(*slot), asio::detached);
    slot->worker.start();
  }
  started_ = true;
}

asio::awaitable<void> Server::accept_loop(Slot& slot) {
  asio::steady_timer pause(slot.worker.io());
  for (;;) {
    // At the connection limit, leave new connections in the kernel's backlog.
    while (active_.load(std::memory_order_relaxed) >= options_.limits.max_connections &&
           !stopping_) {
      pause.expires_after(20ms);
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (stopping_ || !slot.acceptor->is_open()) break;
    auto [ec, socket] = co_await slot.acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || stopping_) break;
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
        spdlog::warn("{}: cannot accept: {}; retrying in 100ms", options_.name, ec.message());
        pause.expires_after(100ms);
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      continue;
    }
    net::tune_socket(socket);
    auto session = std::make_unique<ServerSession>(std::move(socket), *slot.handler,
                                                   options_.limits, slot.worker.deadlines());
    slot.sessions.push_back(*session);
    active_.fetch_add(1, std::memory_order_relaxed);
    auto cancel_slot = session->cancellation_slot();
    asio::co_spawn(slot.worker.io(), run_session(slot, std::move(session)),
                   asio::bind_cancellation_slot(cancel_slot, asio::detached));
  }
}

asio::awaitable<void> Server::run_session(Slot&, std::unique_ptr<ServerSession> session) {
  try {
    co_await session->run();
  } catch (const std::exception& e) {
    spdlog::error("{}: connection from {} failed: {}", options_.name,
                  session->remote().address().to_string(), e.what());
  }
  session.reset();
  active_.fetch_sub(1, std::memory_order_relaxed);
}

void Server::on_each_worker(const std::function<void(Slot&)>& fn) {
  std::vector<std::future<void>> done;
  for (auto& slot : slots_) {
    auto task = std::make_shared<std::packaged_task<void()>>([&fn, s = slot.get()] { fn(*s); });
    done.push_back(task->get_future());
    asio::post(slot->worker.io(), [task] { (*task)(); });
  }
  for (auto& f : done) {
    // A worker that stopped running handlers cannot answer; do not wait forever for it.
    f.wait_for(5s);
  }
}

bool Server::wait_for_idle(std::chrono::steady_clock::time_point deadline) {
  while (active_.load() > 0 && std::chrono::steady_clock::now() < deadline && !hurry_) {
    std::this_thread::sleep_for(10ms);
  }
  return active_.load() == 0;
}

void Server::run_until_signal(const std::function<void()>& on_hangup,
                              const std::function<void()>& on_stop) {
  asio::io_context signals_io;
  asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  if (on_hangup) signals.add(SIGHUP);
  bool signalled = false;
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int sig) {
        if (ec) {
          signalled = true;
          spdlog::error("{}: cannot wait for signals: {}; stopping", options_.name, ec.message());
          return;
        }
        if (sig == SIGHUP) {
          spdlog::info("{}: received SIGHUP", options_.name);
          on_hangup();
          signals.async_wait(on_signal);
          return;
        }
        signalled = true;
        spdlog::info("{}: received {}", options_.name, sig == SIGINT ? "SIGINT" : "SIGTERM");
        // A second signal skips the rest of the drain.
        signals.async_wait([&](const boost::system::error_code& ec2, int sig2) {
          if (!ec2 && sig2 != SIGHUP) hurry_ = true;
        });
      };
  signals.async_wait(on_signal);
  // run_one() may also run Asio's internal handlers: wait for the flag, not for one handler.
  while (!signalled && signals_io.run_one() > 0) {
  }
  if (on_stop) on_stop();
  std::thread shutdown_thread([this] { shutdown(); });
  // Keep listening for the second signal while the drain runs.
  while (!stopped_) signals_io.run_one_for(50ms);
  shutdown_thread.join();
}

void Server::shutdown() {
  if (!started_ || stopped_) return;
  stopping_ = true;
  on_each_worker([](Slot& slot) {
    boost::system::error_code ec;
    slot.acceptor->close(ec);
    for (auto& session : slot.sessions) session.drain();
  });
  spdlog::info("{}: stopped accepting; draining {} connection(s) (up to {} ms)", options_.name,
               active_.load(), options_.drain_timeout.count());
  if (!wait_for_idle(std::chrono::steady_clock::now() + options_.drain_timeout)) {
    spdlog::warn("{}: drain deadline passed; closing {} connection(s)", options_.name,
                 active_.load());
    on_each_worker([](Slot& slot) {
      for (auto& session : slot.sessions) session.force_close();
    });
    hurry_ = false;
    wait_for_idle(std::chrono::steady_clock::now() + 2s);
  }
  on_each_worker([](Slot& slot) {
    slot.handler->shutdown();
    slot.worker.deadlines().stop();
  });
  for (auto& slot : slots_) slot->worker.release();
  auto deadline = std::chrono::steady_clock::now() + 2s;
  for (auto& slot : slots_) {
    while (!slot->worker.io().stopped() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(5ms);
    }
    slot->worker.stop();
    slot->worker.join();
  }
  // Handlers go first: their pools hold sockets of the workers' io_contexts.
  for (auto& slot : slots_) slot->handler.reset();
  stopped_ = true;
}

}  // namespace sluice::http
