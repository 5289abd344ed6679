// One downstream HTTP/1.1 connection: reads requests in a loop (keep-alive, pipelining-safe),
// enforces the limits with clear answers, and gives the Handler a small API to answer, either
// in one write (head and body together) or as a chunked stream.
//
// Limits (DESIGN.md, "Life of a request", step 1): header bytes -> 431, body bytes -> 413,
// malformed framing (including Content-Length with Transfer-Encoding, or a Transfer-Encoding
// that does not end in chunked) -> 400 and close, slow request -> 408, idle keep-alive
// connection -> closed quietly, client that stops reading -> closed after send_timeout.
//
// Cancellation: while a handler waits on something other than the client (an upstream answer, a
// timer), it calls watch_client(); if the client closes the connection meanwhile, the session
// emits terminal cancellation on the slot its coroutine was spawned with, which cancels whatever
// the handler is awaiting. The session then closes.
//
// Thread safety: a session lives on one worker thread; every member is used from that thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/intrusive/list_hook.hpp>

#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/asio.h"
#include "core/error.h"
#include "core/request_id.h"
#include "http/message.h"
#include "http/response_head.h"
#include "net/deadline.h"
#include "net/drained_read.h"

namespace sluice::http {

class ServerSession;

// The status and body of an error the session detected itself, rendered by the Handler so that
// every error has the same shape (api/errors.h).
struct ErrorPage {
  int status = 500;
  std::string body;
};

// What a server does with each request (gateway::Gateway, mock::MockServer).
class Handler {
 public:
  virtual ~Handler() = default;
  // Answers session.request(): writes one response through the session, or aborts it.
  virtual asio::awaitable<void> handle(ServerSession& session) = 0;
  virtual ErrorPage render_error(const core::Error& error) = 0;
  // The most body bytes a request may send, decided from its method and target before its
  // headers are read: `configured` (limits.max_body_bytes) unless a route takes more (uploads).
  virtual std::uint64_t body_limit(beast::http::verb method, std::string_view target,
                                   std::uint64_t configured) {
    (void)method;
    (void)target;
    return configured;
  }
};

struct SessionRegistryTag;
using SessionRegistryHook =
    boost::intrusive::list_base_hook<boost::intrusive::tag<SessionRegistryTag>,
                                     boost::intrusive::link_mode<boost::intrusive::auto_unlink>>;

// Rewrites the bodies a handler writes for one request, for an API served in another vendor's
// shape (the gateway's /v1/messages): the handler and its stages write OpenAI's answers, errors
// and events, and the client receives the other shape. Set with ServerSession::rewrite_with().
class ResponseRewriter {
 public:
  virtual ~ResponseRewriter() = default;
  // A whole response: may change its status and body.
  virtual void rewrite_reply(int& status, std::string& body) = 0;
  // A stream's bytes: what to send instead (valid until the next call).
  virtual std::string_view rewrite_stream(std::string_view data, bool last) = 0;
};

class ServerSession final : public net::Deadline, public SessionRegistryHook {
 public:
  ServerSession(asio::ip::tcp::socket socket, Handler& handler, const config::ServerLimits& limits,
                net::DeadlineSweeper& deadlines);
  ~ServerSession();

  // The connection's whole life. Spawn it with bind_cancellation_slot(cancellation_slot()).
  asio::awaitable<void> run();
  asio::cancellation_slot cancellation_slot() { return cancel_.slot(); }

  // --- for handlers, during handle() ---

  Request& request() { return request_; }
  const Request& request() const { return request_; }
  // The request target without its query string.
  std::string_view path() const { return path_; }
  std::string_view request_id() const { return request_id_; }
  const asio::ip::tcp::endpoint& remote() const { return remote_; }
  // The worker this session runs on.
  asio::any_io_executor executor() { return socket_.get_executor(); }
  // When the request's headers were complete.
  std::chrono::steady_clock::time_point started() const { return started_; }

  // Writes a whole response, head and body in one write. Returns false if the client is gone.
  // A 304 or 204 goes without a body and without content-length.
  asio::awaitable<bool> respond(int status, std::string_view content_type, std::string_view body,
                                std::span<const Header> extra = {});
  // Writes `error` rendered by the handler.
  asio::awaitable<bool> respond_error(const core::Error& error, std::span<const Header> extra = {});

  // Starts a streamed response (chunked; close-delimited for HTTP/1.0 clients). `first` goes in
  // the same write as the head; `last` also ends the stream in that write.
  asio::awaitable<bool> begin_stream(int status, std::string_view content_type,
                                     std::span<const Header> extra = {},
                                     std::string_view first = {}, bool last = false);
  // Sends `data` as one chunk; `last` also ends the stream, in the same write.
  asio::awaitable<bool> write_stream(std::string_view data, bool last);

  // Every body of the current request's response goes through `rewriter` (null: none); the
  // handler clears it before the request ends.
  void rewrite_with(ResponseRewriter* rewriter) { rewriter_ = rewriter; }

  // Drops the connection now, without finishing the response (the mock's injected faults).
  void abort();
  // Sends the head (with the full Content-Length) and the first `keep` bytes of `body`, then
  // drops the connection: a truncated answer, for fault injection.
  asio::awaitable<void> respond_and_cut(int status, std::string_view content_type,
                                        std::string_view body, std::size_t keep);

  bool head_sent() const { return head_sent_; }
  bool client_gone() const { return client_gone_; }
  // The status and the bytes written for the current request's response.
  int status() const { return status_; }
  std::uint64_t bytes_sent() const { return bytes_sent_; }

  // Watches the socket for the client closing it while the handler awaits something else. On a
  // close the session cancels what the handler awaits, or, when `on_gone` is given, calls it
  // instead and lets it decide (a coalesced call goes on while others wait for its answer).
  using ClientGoneHook = void (*)(void* owner);
  void watch_client(ClientGoneHook on_gone = nullptr, void* owner = nullptr);
  void unwatch_client();
  // Cancels what the handler awaits (terminal cancellation), as a client close does.
  void cancel_handler() { cancel_.emit(asio::cancellation_type::terminal); }

  // --- for the server, on this session's worker thread ---

  // Finishes the current request, if any, with "connection: close"; an idle connection closes now.
  void drain();
  // Closes the connection and cancels whatever the handler awaits.
  void force_close();

 private:
  enum class Phase { kIdle, kHeader, kBody, kHandling, kWriting, kLinger, kClosed };
  enum class ReadOutcome { kRequest, kClosed, kRejected };

  asio::awaitable<ReadOutcome> read_request(bool first);
  asio::awaitable<ReadOutcome> reject(const core::Error& error);
  core::Result<void> check_header();
  asio::awaitable<bool> write_buffers(std::span<const asio::const_buffer> buffers);
  asio::awaitable<void> close_connection(bool linger);
  void begin_request();
  static void on_read_while_busy(void* self, const boost::system::error_code& ec, std::size_t n);
  static std::uint64_t body_limit_for(void* self, beast::http::verb method,
                                      std::string_view target);
  // Ends an outstanding read before the session goes away.
  asio::awaitable<void> finish_reads();
  void on_deadline() override;

  asio::ip::tcp::socket socket_;
  asio::ip::tcp::endpoint remote_;
  Handler& handler_;
  const config::ServerLimits& limits_;
  asio::cancellation_signal cancel_;
  net::BackgroundRead reader_;  // the one read outstanding on the socket, if any

  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  Request request_;
  std::string path_;
  std::string request_id_;
  std::chrono::steady_clock::time_point started_;
  std::uint64_t body_limit_ = 0;  // the current request's, from Handler::body_limit

  ResponseRewriter* rewriter_ = nullptr;
  std::string rewritten_;   // a rewritten whole body
  std::string head_;        // response head, reused
  std::string chunk_head_;  // chunk-size line, reused
  std::array<char, 2048> linger_buf_;

  Phase phase_ = Phase::kIdle;
  bool timed_out_ = false;
  bool head_sent_ = false;
  bool streaming_ = false;
  bool stream_until_close_ = false;
  bool close_after_ = false;  // answer with "connection: close" and close
  bool keep_alive_10_ = false;
  bool head_request_ = false;
  bool draining_ = false;
  bool closing_ = false;
  bool client_gone_ = false;
  bool watching_ = false;
  ClientGoneHook on_gone_ = nullptr;
  void* on_gone_owner_ = nullptr;
  int status_ = 0;
  std::uint64_t bytes_sent_ = 0;
};

}  // namespace sluice::http
