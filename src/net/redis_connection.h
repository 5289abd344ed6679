// One connection to Redis, driven by one worker's event loop: hiredis's asynchronous context with
// its socket waited on by Asio (no thread of its own, no hop to another thread), a reply timeout
// per command (hiredis 0.14 has none), and reconnection with back-off when the connection fails.
// Used by the cache's Redis tier and by the distributed rate limits, each with its own
// connection per worker (it lives in net/ so that neither module depends on the other).
//
// How hiredis is driven. hiredis asks for read and write readiness through its `ev` hooks and
// expects redisAsyncHandleRead/Write when the socket is ready. A Link (one per hiredis context)
// wraps the socket in a non-owning posix::stream_descriptor: a read wait is kept outstanding while
// hiredis wants reads; a write hiredis asks for on a connected socket is flushed from a posted
// handler (one write for every command issued in the same turn of the loop, no epoll_ctl), and
// only a write the kernel could not take whole waits for writability. When hiredis frees the
// context (on an error, or when we free it) its cleanup hook releases the descriptor before
// hiredis closes the fd, which cancels the waits; their handlers hold the Link alive and do
// nothing once its context is gone.
//
// Replies come in the order commands were sent, so each Link keeps its commands in a FIFO; a
// command awaited by a coroutine holds the coroutine's completion handler there. The handler is
// completed (always through post, never inside hiredis) by the reply, by the timeout timer (the
// entry stays in the FIFO without its handler, so the late reply is matched and dropped), or
// with kLost when the context is freed (hiredis calls every pending callback then). Nothing that
// hiredis calls ever touches a finished coroutine's state.
//
// States: connecting (resolve, TCP connect, AUTH and SELECT from the URL, then PING, within
// connect_timeout), ready, waiting to retry (100 ms doubling to 2 s, with jitter). Commands are
// sent only when ready; otherwise they are refused at once (kNotSent). A ready connection whose
// oldest command has waited longer than stall_limit is dropped and reconnected (a peer that
// vanished without a reset would otherwise hold it for the kernel's retransmission timeout).
//
// Thread safety: create, start(), close() and every command on the executor's thread;
// connected() and the counters may be read from any thread. The object is shared_ptr-owned so
// that handlers queued on the loop can outlive a close(); close() must run before the executor's
// io_context is destroyed.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/asio.h"
#include "core/error.h"

namespace sluice::net {

// Where to connect, from `redis://[user][:password@]host[:port][/db]`.
struct RedisEndpoint {
  std::string host;
  std::uint16_t port = 6379;
  std::string user;
  std::string password;
  int db = 0;

  static core::Result<RedisEndpoint> parse(std::string_view url);
  // "host:port/db", for log lines; never the password.
  std::string describe() const;
};

// A reply copied out of hiredis, or why there is none.
struct RedisReply {
  enum class Type : std::uint8_t {
    kString,
    kStatus,
    kInteger,
    kNil,
    kArray,
    kError,    // Redis answered with an error
    kTimeout,  // no answer within the timeout (the late answer is discarded)
    kNotSent,  // not sent: not connected, stalled, or at the bound of commands in flight
    kLost,     // sent, but the connection closed before the answer
  };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<RedisReply> elements;  // kArray
};

// Logs the state of a component's connections once for all workers: a warning when the first
// one is lost (or cannot connect), an info line when all of them are connected again. `component`
// opens every line ("redis cache tier"); `while_down` says what happens until Redis is back.
class RedisHealth {
 public:
  RedisHealth(std::string component, std::string where, std::string while_down)
      : component_(std::move(component)),
        where_(std::move(where)),
        while_down_(std::move(while_down)) {}
  const std::string& component() const { return component_; }
  void add_connection() { connections_.fetch_add(1, std::memory_order_relaxed); }
  void up();
  void down(bool was_up, std::string_view reason);
  void closed() { connected_.fetch_sub(1, std::memory_order_relaxed); }  // a ready one, on close
  int connected() const { return connected_.load(std::memory_order_relaxed); }
  int connections() const { return connections_.load(std::memory_order_relaxed); }

 private:
  std::string component_;
  std::string where_;
  std::string while_down_;
  std::atomic<int> connections_{0};
  std::atomic<int> connected_{0};
  std::atomic<bool> degraded_{false};
  std::atomic<bool> announced_{false};
};

class RedisConnection : public std::enable_shared_from_this<RedisConnection> {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    RedisEndpoint endpoint;
    std::chrono::milliseconds connect_timeout{1000};  // connect + AUTH + SELECT + PING
    std::chrono::milliseconds stall_limit{5000};
    std::chrono::milliseconds backoff_min{100};
    std::chrono::milliseconds backoff_max{2000};
    std::size_t max_in_flight = 1000;             // commands sent and not answered
    std::size_t max_in_flight_bytes = 32u << 20;  // their bytes
  };

  struct Counters {
    std::atomic<std::uint64_t> reconnects{0};      // ready again after a loss
    std::atomic<std::uint64_t> connect_errors{0};  // attempts that failed
  };

  RedisConnection(asio::any_io_executor executor, Options options,
                  std::shared_ptr<RedisHealth> health);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  const asio::any_io_executor& executor() const { return executor_; }

  // Connects (and keeps reconnecting) until close().
  void start();
  // Frees the context (pending commands complete with kLost) and stops every timer.
  void close();

  bool ready() const { return state_ == State::kReady; }
  // Any thread: whether the connection is ready.
  bool connected() const { return connected_.load(std::memory_order_relaxed); }
  const Counters& counters() const { return counters_; }

  // Sends a command whose reply nobody waits for; an error reply (or a lost one) increments
  // `failures` when given. False when not sent (see RedisReply::kNotSent).
  bool send(std::span<const std::string_view> args, std::atomic<std::uint64_t>* failures = nullptr);
  bool send(std::initializer_list<std::string_view> args,
            std::atomic<std::uint64_t>* failures = nullptr) {
    return send(std::span(args.begin(), args.size()), failures);
  }

  // Sends a command and waits for its reply, at most `timeout`. Resumes on this connection's
  // executor, always after returning to the event loop. `args` must stay valid until it returns
  // (a named array: GCC 12 miscompiles a braced list inside a co_await expression).
  asio::awaitable<RedisReply> call(std::span<const std::string_view> args,
                                   std::chrono::milliseconds timeout);

 private:
  struct Link;
  struct Pending;
  friend struct Link;
  enum class State : std::uint8_t { kIdle, kConnecting, kReady, kWaiting, kClosed };

  void connect();
  void open(const std::string& ip);
  void fail(std::string reason);
  void on_ready();
  void on_link_closed(Link* link, std::string reason);
  void drop_link(std::string reason);
  void arm_retry(std::chrono::milliseconds delay);
  void arm_timeout(Clock::time_point at);
  void on_timeout();
  // The command would not be sent now; why, for kNotSent.
  bool refuse(std::size_t bytes, std::chrono::milliseconds wait);
  bool issue(std::span<const std::string_view> args, Pending pending);

  asio::any_io_executor executor_;
  Options options_;
  std::shared_ptr<RedisHealth> health_;
  State state_ = State::kIdle;
  bool ever_ready_ = false;
  std::atomic<bool> connected_{false};
  std::shared_ptr<Link> link_;
  std::optional<asio::ip::tcp::resolver> resolver_;
  std::optional<asio::steady_timer> retry_timer_;  // connect deadline, or back-off
  std::uint64_t retry_gen_ = 0;
  std::optional<asio::steady_timer> timeout_timer_;  // the earliest reply deadline
  std::uint64_t timeout_gen_ = 0;
  bool timeout_armed_ = false;
  Clock::time_point timeout_at_{};
  std::chrono::milliseconds backoff_;
  std::minstd_rand rng_;
  Counters counters_;
};

}  // namespace sluice::net
