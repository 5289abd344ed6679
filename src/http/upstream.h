// The upstream HTTP/1.1 client: one connection pool per origin per worker (keep-alive, TLS with
// verification), and UpstreamCall, one request/response exchange with connect, first-byte, idle
// and total deadlines.
//
// An idle pooled connection keeps a read pending, so a connection the server closes leaves the
// pool at once instead of failing the next request. If a reused connection still turns out dead
// before any response byte arrives, the call retries once on a new connection.
//
// Cancellation: every wait is an Asio operation awaited by the caller's coroutine, so a terminal
// cancellation on the coroutine (the client went away) stops the call at once; the connection is
// then closed, never reused.
//
// Thread safety: a pool and its connections belong to one worker thread. UpstreamOrigin is
// immutable and shared by all workers.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/asio.h"
#include "core/error.h"
#include "http/message.h"
#include "http/response_head.h"
#include "net/deadline.h"
#include "net/drained_read.h"

namespace sluice::http {

// Where upstream requests for one provider go. Built once from configuration.
struct UpstreamOrigin {
  std::string name;  // provider name, for messages
  std::string host;
  std::uint16_t port = 0;
  bool tls = false;
  bool tls_verify = true;
  std::shared_ptr<asio::ssl::context> tls_context;  // when tls
  std::string host_header;                          // "host" or "host:port"
  std::size_t max_idle = 64;
  std::chrono::milliseconds idle_timeout{30000};
  std::uint64_t max_header_bytes = 64 * 1024;

  static std::shared_ptr<const UpstreamOrigin> from_config(const config::Provider& provider);
};

class UpstreamPool;
class UpstreamConnection;

// Deletes a connection, or, while an idle watch of it is still queued in the event loop, closes
// it and leaves the deletion to that watch's handler (which holds a pointer to it).
struct ConnectionRetirer {
  void operator()(UpstreamConnection* connection) const;
};
using ConnectionPtr = std::unique_ptr<UpstreamConnection, ConnectionRetirer>;

class UpstreamConnection final : public net::Deadline {
 public:
  enum class Phase { kIdle, kConnect, kWrite, kFirstByte, kBody };

  UpstreamConnection(asio::any_io_executor executor, UpstreamPool& pool);
  ~UpstreamConnection();

  asio::ip::tcp::socket& socket() { return socket_; }
  bool is_tls() const { return tls_ != nullptr; }
  bool reused() const { return requests_ > 0; }
  bool timed_out() const { return timed_out_; }
  Phase phase() const { return phase_; }
  beast::flat_buffer& buffer() { return buffer_; }

  // A reused connection that has not answered after kReuseProbeAfter is checked once for a close
  // that no readiness event reported; `deadline` stays the phase's real deadline.
  void arm_reuse_probe(std::chrono::steady_clock::time_point deadline);
  bool stale() const { return stale_; }
  // Whether the probe cancelled the read to restart it (bytes were waiting); clears the flag.
  bool take_reread() { return std::exchange(reread_, false); }

  // Starts a phase with its deadline (the sweeper closes the socket when it passes).
  // `total_bound` says the deadline is the exchange's total one, for the timeout message.
  void enter(Phase phase, std::chrono::steady_clock::time_point deadline, bool total_bound);

  bool total_bound() const { return total_bound_; }

  // Reads up to `want` more bytes into buffer(), adopting the idle read if one is outstanding.
  asio::awaitable<net::BackgroundRead::Result> read(std::size_t want);

  template <class Buffers, class Token>
  auto async_write(const Buffers& buffers, Token&& token);

  void close();

 private:
  friend class UpstreamPool;
  friend class UpstreamCall;
  friend struct ConnectionRetirer;
  void on_deadline() override;
  void start_idle_watch();
  void on_tls_idle_watch(const boost::system::error_code& ec, std::uint32_t epoch);
  static void on_read_while_idle(void* self, const boost::system::error_code& ec, std::size_t n);
  // Whether an operation holding `this` is still queued.
  bool reading() const { return reader_.pending() || tls_watches_ > 0; }

  UpstreamPool& pool_;
  asio::ip::tcp::socket socket_;
  std::optional<asio::ip::tcp::resolver> resolver_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
  beast::flat_buffer buffer_;
  std::string request_head_;  // reused for every request sent on this connection
  Response response_;         // the current response; its memory is reused too
  Phase phase_ = Phase::kConnect;
  bool timed_out_ = false;
  bool total_bound_ = false;
  net::BackgroundRead reader_;    // plain TCP: the read outstanding while idle
  int tls_watches_ = 0;           // TLS: idle watches still queued (each holds `this`)
  std::uint32_t idle_epoch_ = 0;  // TLS: which idle period a watch belongs to
  bool watch_saw_close_ = false;
  bool in_pool_ = false;
  bool retired_ = false;  // closed and waiting for its watch's handler to delete it
  bool probe_ = false;
  bool stale_ = false;
  bool reread_ = false;
  std::chrono::steady_clock::time_point real_deadline_;
  static constexpr std::chrono::milliseconds kReuseProbeAfter{100};
  std::uint64_t requests_ = 0;
  std::array<char, 1> watch_byte_;
};

// Idle connections to one origin, on one worker. Most recently used first, so a burst reuses warm
// connections and the rest age out.
class UpstreamPool {
 public:
  UpstreamPool(asio::any_io_executor executor, net::DeadlineSweeper& deadlines,
               std::shared_ptr<const UpstreamOrigin> origin);
  ~UpstreamPool();

  const UpstreamOrigin& origin() const { return *origin_; }

  // An idle connection, or a new one (connect and TLS handshake) within `deadline`.
  asio::awaitable<core::Result<ConnectionPtr>> acquire(
      std::chrono::steady_clock::time_point deadline, bool fresh);
  // Returns a connection whose last response was read completely and allows keep-alive.
  void release(ConnectionPtr connection);
  // Closes every idle connection (shutdown).
  void close_all();

  std::size_t idle_count() const { return idle_.size(); }
  // Connections of this pool that exist, idle, in use or closed and awaiting deletion: a pool
  // may be destroyed only when none does.
  std::size_t connections() const { return connections_; }

 private:
  friend class UpstreamConnection;
  asio::awaitable<core::Result<ConnectionPtr>> connect(
      std::chrono::steady_clock::time_point deadline);
  void drop_idle(UpstreamConnection* connection);

  asio::any_io_executor executor_;
  net::DeadlineSweeper& deadlines_;
  std::shared_ptr<const UpstreamOrigin> origin_;
  std::vector<ConnectionPtr> idle_;
  std::size_t connections_ = 0;
  bool closed_ = false;
};

struct UpstreamTimeouts {
  std::chrono::milliseconds connect{5000};
  std::chrono::milliseconds first_byte{300000};
  std::chrono::milliseconds idle{120000};
  std::chrono::milliseconds total{600000};
};

// What to send. Views: everything must outlive the call.
struct UpstreamRequest {
  std::string_view method = "POST";
  std::string_view target;                   // "/v1/chat/completions"
  std::span<const asio::const_buffer> body;  // the body, possibly in pieces (spliced)
  std::string_view content_type = "application/json";
  std::span<const Header> headers;  // authorization, forwarded, ...
};

// One exchange: start() sends the request and reads the response head; then read_body() or
// read_some() read the body; finish() returns the connection to the pool when it can be reused.
// The connection stays with the call until the call ends, so the response it holds stays valid.
class UpstreamCall {
 public:
  UpstreamCall(UpstreamPool& pool, const UpstreamTimeouts& timeouts);
  ~UpstreamCall();

  asio::awaitable<core::Result<void>> start(const UpstreamRequest& request);

  // The response head (valid after start() succeeded).
  int status() const { return response().status(); }
  const Response& response() const { return connection_->response_; }
  std::string_view content_type() const {
    return response().fields().get(beast::http::field::content_type);
  }

  // Reads the whole body (at most `limit` bytes).
  asio::awaitable<core::Result<std::string>> read_body(std::uint64_t limit);
  // Reads more of the body, appended to body(); returns false once the body is complete.
  // The caller may erase a consumed prefix of body() between calls.
  asio::awaitable<core::Result<bool>> read_some();
  std::string& body() { return connection_->response_.body(); }
  bool done() const { return parser_ && parser_->is_done(); }

  // Returns the connection to the pool if the response was read completely and allows reuse;
  // closes it otherwise.
  void finish();

  std::chrono::steady_clock::time_point first_byte_at() const { return first_byte_at_; }

 private:
  asio::awaitable<core::Result<void>> attempt(const UpstreamRequest& request, bool fresh,
                                              bool& retryable);
  asio::awaitable<core::Result<bool>> read_more();
  core::Error io_error(const boost::system::error_code& ec, std::string_view doing) const;
  core::Error protocol_error(std::string_view what, const beast::error_code& ec) const;
  // The connection cannot be reused: close it (the object lives until the call ends).
  void abandon();

  UpstreamPool& pool_;
  UpstreamTimeouts timeouts_;
  std::chrono::steady_clock::time_point total_deadline_;
  std::chrono::steady_clock::time_point first_byte_at_;
  ConnectionPtr connection_;
  std::optional<ResponseParser> parser_;
  bool reusable_ = true;
};

// --- template implementation ---

template <class Buffers, class Token>
auto UpstreamConnection::async_write(const Buffers& buffers, Token&& token) {
  if (tls_) return asio::async_write(*tls_, buffers, std::forward<Token>(token));
  return asio::async_write(socket_, buffers, std::forward<Token>(token));
}

}  // namespace sluice::http
