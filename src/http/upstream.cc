#include "http/upstream.h"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>

#include "core/strings.h"
#include "net/listener.h"
#include "net/tls.h"

namespace sluice::http {

namespace bhttp = beast::http;
using asio::use_awaitable;
using asio::ip::tcp;
using core::Errc;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(use_awaitable);
constexpr std::string_view kUserAgent = "sluice/" SLUICE_VERSION;

asio::const_buffer cbuf(std::string_view s) { return asio::const_buffer(s.data(), s.size()); }

Clock::time_point earlier(Clock::time_point a, Clock::time_point b) { return a < b ? a : b; }

bool is_connection_loss(const boost::system::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::ssl::error::stream_truncated;
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ", 2);
  out.append(value);
  out.append("\r\n", 2);
}

}  // namespace

// --- UpstreamOrigin ---

std::shared_ptr<const UpstreamOrigin> UpstreamOrigin::from_config(const config::Provider& p) {
  auto origin = std::make_shared<UpstreamOrigin>();
  origin->name = p.name;
  origin->host = p.base_url.host;
  origin->port = p.base_url.port;
  origin->tls = p.base_url.tls;
  origin->tls_verify = p.tls_verify;
  if (origin->tls) origin->tls_context = net::make_client_tls_context(p.tls_verify, p.ca_file);
  bool default_port = origin->port == (origin->tls ? 443 : 80);
  bool v6 = origin->host.find(':') != std::string::npos;
  origin->host_header = v6 ? "[" + origin->host + "]" : origin->host;
  if (!default_port) origin->host_header += ":" + std::to_string(origin->port);
  origin->max_idle = static_cast<std::size_t>(std::max(0, p.max_idle_connections));
  origin->idle_timeout = p.pool_idle_timeout;
  return origin;
}

// --- UpstreamConnection ---

UpstreamConnection::UpstreamConnection(asio::any_io_executor executor, UpstreamPool& pool)
    : pool_(pool), socket_(executor), reader_(&UpstreamConnection::on_read_while_idle, this) {
  ++pool_.connections_;
}

UpstreamConnection::~UpstreamConnection() {
  close();
  --pool_.connections_;
}

void UpstreamConnection::enter(Phase phase, Clock::time_point deadline, bool total_bound) {
  probe_ = false;
  phase_ = phase;
  total_bound_ = total_bound;
  timed_out_ = false;
  set_deadline(deadline);
}

void UpstreamConnection::close() {
  boost::system::error_code ec;
  if (resolver_) resolver_->cancel();
  socket_.close(ec);
}

void ConnectionRetirer::operator()(UpstreamConnection* c) const {
  if (!c->reading()) {
    delete c;
    return;
  }
  c->retired_ = true;
  c->in_pool_ = false;
  c->clear_deadline();
  c->close();  // completes the watch, whose handler deletes the connection
}

void UpstreamConnection::arm_reuse_probe(Clock::time_point deadline) {
  probe_ = true;
  real_deadline_ = deadline;
  set_deadline(std::min(deadline, Clock::now() + kReuseProbeAfter));
}

void UpstreamConnection::on_deadline() {
  if (retired_) return;
  if (probe_) {
    // No answer yet on a reused connection: its close may have come with the last response's
    // bytes, in the one readiness event those used (see net/drained_read.h). Look once.
    probe_ = false;
    set_deadline(real_deadline_);
    char byte;
    ssize_t n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) {
      // Bytes are waiting that no event announced: restart the read, which takes them at once.
      reread_ = true;
      boost::system::error_code ec;
      socket_.cancel(ec);
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      stale_ = true;  // closed by the server: the call retries on a new connection
      close();
    }
    if (real_deadline_ > Clock::now()) return;
  }
  if (phase_ == Phase::kIdle) {
    // Idle too long in the pool: closing makes the idle watch complete, and its handler
    // removes the connection.
    close();
    return;
  }
  timed_out_ = true;
  close();
}

asio::awaitable<net::BackgroundRead::Result> UpstreamConnection::read(std::size_t want) {
  if (tls_) {
    auto [ec, n] = co_await tls_->async_read_some(buffer_.prepare(want), kTuple);
    if (!ec) buffer_.commit(n);
    co_return net::BackgroundRead::Result{ec, n};
  }
  co_return co_await reader_.read(socket_, buffer_, want);
}

void UpstreamConnection::start_idle_watch() {
  // `this` stays valid until the watch completes: a connection with a queued operation is
  // deleted only by its completion (ConnectionRetirer), or unrun together with the io_context.
  if (!tls_) {
    // Plain TCP: the read stays outstanding when the connection is reused and becomes the read of
    // its next response. The last read drained the socket, so starting it costs no system call.
    reader_.start(socket_, buffer_, net::read_size(buffer_));
    return;
  }
  // TLS may deliver records that carry no data (session tickets), so only a TLS read tells an
  // idle connection's close apart from those; acquire() cancels it.
  ++tls_watches_;
  watch_saw_close_ = false;
  const std::uint32_t epoch = ++idle_epoch_;
  tls_->async_read_some(asio::buffer(watch_byte_),
                        [this, epoch](const boost::system::error_code& ec, std::size_t) {
                          on_tls_idle_watch(ec, epoch);
                        });
}

void UpstreamConnection::on_read_while_idle(void* self, const boost::system::error_code&,
                                            std::size_t) {
  auto* c = static_cast<UpstreamConnection*>(self);
  if (c->retired_) {
    if (!c->reading()) delete c;
    return;
  }
  // In use: the result waits for the call's next read. Idle in the pool, anything readable means
  // the connection is unusable: the server closed or reset it, or sent bytes nobody asked for
  // (some servers send a 408 before closing).
  if (c->in_pool_) c->pool_.drop_idle(c);  // destroys c
}

void UpstreamConnection::on_tls_idle_watch(const boost::system::error_code& ec,
                                           std::uint32_t epoch) {
  --tls_watches_;
  if (retired_) {
    if (!reading()) delete this;
    return;
  }
  if (epoch != idle_epoch_) return;
  watch_saw_close_ = ec != asio::error::operation_aborted || !socket_.is_open();
  if (in_pool_) pool_.drop_idle(this);  // destroys this
}

// --- UpstreamPool ---

UpstreamPool::UpstreamPool(asio::any_io_executor executor, net::DeadlineSweeper& deadlines,
                           std::shared_ptr<const UpstreamOrigin> origin)
    : executor_(std::move(executor)), deadlines_(deadlines), origin_(std::move(origin)) {}

UpstreamPool::~UpstreamPool() = default;

asio::awaitable<core::Result<ConnectionPtr>> UpstreamPool::acquire(Clock::time_point deadline,
                                                                   bool fresh) {
  while (!fresh && !idle_.empty()) {
    ConnectionPtr c = std::move(idle_.back());
    idle_.pop_back();
    c->in_pool_ = false;
    if (c->tls_watches_ > 0) {
      boost::system::error_code ec;
      c->socket_.cancel(ec);
      // The TLS watch reads; its handler must run before the connection reads again.
      while (c->tls_watches_ > 0) co_await asio::post(executor_, use_awaitable);
      if (c->watch_saw_close_) continue;
    }
    if (c->socket_.is_open()) co_return c;
  }
  co_return co_await connect(deadline);
}

asio::awaitable<core::Result<ConnectionPtr>> UpstreamPool::connect(Clock::time_point deadline) {
  ConnectionPtr c(new UpstreamConnection(executor_, *this));
  deadlines_.add(*c);
  c->enter(UpstreamConnection::Phase::kConnect, deadline, false);
  const UpstreamOrigin& o = *origin_;
  std::string where = o.host + ":" + std::to_string(o.port);

  auto failure = [&](const boost::system::error_code& ec, std::string_view doing) {
    if (c->timed_out()) {
      return core::Error(Errc::kUpstreamTimeout, "Upstream " + o.name + " (" + where +
                                                     "): no connection within the connect "
                                                     "timeout.");
    }
    if (ec == asio::error::operation_aborted) return core::Error(Errc::kCancelled, "cancelled");
    std::string detail = ec.message();
    if (c->is_tls() && ec.category() == asio::error::get_ssl_category()) {
      detail = net::describe_tls_error(c->tls_->native_handle(), ec);
    }
    return core::Error(Errc::kUpstreamUnreachable, "Upstream " + o.name + " (" + where + ") " +
                                                       std::string(doing) + ": " + detail + ".");
  };

  boost::system::error_code ec;
  auto addr = asio::ip::make_address(o.host, ec);
  if (!ec) {
    std::tie(ec) = co_await c->socket_.async_connect(tcp::endpoint(addr, o.port), kTuple);
  } else {
    // Name resolution runs on Asio's resolver thread, not on this worker.
    c->resolver_.emplace(executor_);
    auto [rec, results] =
        co_await c->resolver_->async_resolve(o.host, std::to_string(o.port), kTuple);
    c->resolver_.reset();
    if (rec || c->timed_out()) co_return failure(rec, "cannot be resolved");
    tcp::endpoint connected;
    std::tie(ec, connected) = co_await asio::async_connect(c->socket_, results, kTuple);
  }
  if (ec) co_return failure(ec, "refused the connection");
  net::tune_socket(c->socket_);
  c->socket_.non_blocking(true, ec);  // BackgroundRead::read tries reads at once

  if (o.tls) {
    c->tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(c->socket_, *o.tls_context);
    if (!net::prepare_client_ssl(c->tls_->native_handle(), o.host, o.tls_verify)) {
      co_return core::Error(Errc::kUpstreamUnreachable,
                            "Upstream " + o.name + ": invalid TLS host name " + o.host + ".");
    }
    std::tie(ec) = co_await c->tls_->async_handshake(asio::ssl::stream_base::client, kTuple);
    if (ec) co_return failure(ec, "failed the TLS handshake");
  }
  co_return c;
}

void UpstreamPool::release(ConnectionPtr c) {
  // Bytes after the end of the response mean the connection is out of step: do not reuse it.
  if (closed_ || idle_.size() >= origin_->max_idle || !c->socket_.is_open() ||
      c->buffer_.size() > 0 || c->reading()) {
    return;
  }
  c->enter(UpstreamConnection::Phase::kIdle, Clock::now() + origin_->idle_timeout, false);
  c->in_pool_ = true;
  c->start_idle_watch();
  idle_.push_back(std::move(c));
}

void UpstreamPool::drop_idle(UpstreamConnection* c) {
  for (auto it = idle_.begin(); it != idle_.end(); ++it) {
    if (it->get() == c) {
      idle_.erase(it);
      return;
    }
  }
}

void UpstreamPool::close_all() {
  closed_ = true;
  // Closing completes each idle watch; the handlers remove the connections.
  for (auto& c : idle_) c->close();
}

// --- UpstreamCall ---

UpstreamCall::UpstreamCall(UpstreamPool& pool, const UpstreamTimeouts& timeouts)
    : pool_(pool), timeouts_(timeouts) {}

UpstreamCall::~UpstreamCall() { parser_.reset(); }

void UpstreamCall::abandon() {
  reusable_ = false;
  if (connection_) connection_->close();
}

asio::awaitable<core::Result<void>> UpstreamCall::start(const UpstreamRequest& request) {
  total_deadline_ = Clock::now() + timeouts_.total;
  bool retryable = false;
  auto result = co_await attempt(request, false, retryable);
  if (!result && retryable) {
    // A kept-alive connection the server had already closed: nothing reached the server's
    // application, so sending again on a new connection is safe.
    result = co_await attempt(request, true, retryable);
  }
  co_return result;
}

asio::awaitable<core::Result<void>> UpstreamCall::attempt(const UpstreamRequest& request,
                                                          bool fresh, bool& retryable) {
  retryable = false;
  parser_.reset();
  connection_.reset();
  reusable_ = true;
  const auto now = Clock::now();
  auto connect_deadline = earlier(now + timeouts_.connect, total_deadline_);
  auto acquired = co_await pool_.acquire(connect_deadline, fresh);
  if (!acquired) co_return acquired.error();
  connection_ = std::move(*acquired);
  const bool reused = connection_->reused();

  std::size_t body_size = 0;
  for (const auto& b : request.body) body_size += b.size();
  const UpstreamOrigin& o = pool_.origin();
  std::string& head = connection_->request_head_;
  head.clear();
  head.append(request.method);
  head.push_back(' ');
  head.append(request.target);
  head.append(" HTTP/1.1\r\n", 11);
  append_header(head, "host", o.host_header);
  append_header(head, "user-agent", kUserAgent);
  if (!request.content_type.empty()) append_header(head, "content-type", request.content_type);
  if (request.method != "GET" || body_size > 0) {
    append_header(head, "content-length", std::to_string(body_size));
  }
  for (const Header& h : request.headers) append_header(head, h.name, h.value);
  head.append("\r\n", 2);

  std::array<asio::const_buffer, 8> buffers;
  std::size_t count = 0;
  buffers[count++] = cbuf(head);
  for (const auto& b : request.body) {
    if (count == buffers.size()) co_return core::fail(Errc::kInternal, "too many body pieces");
    buffers[count++] = b;
  }

  const auto first_byte_deadline = now + timeouts_.first_byte;
  const bool total_bound = total_deadline_ <= first_byte_deadline;
  connection_->enter(UpstreamConnection::Phase::kWrite,
                     earlier(first_byte_deadline, total_deadline_), total_bound);
  auto [wec, written] = co_await connection_->async_write(std::span(buffers.data(), count), kTuple);
  if (wec) {
    retryable = reused && !connection_->timed_out() && wec != asio::error::operation_aborted;
    auto error = io_error(wec, "while sending the request");
    abandon();
    co_return error;
  }

  connection_->enter(UpstreamConnection::Phase::kFirstByte,
                     earlier(first_byte_deadline, total_deadline_), total_bound);
  if (reused && !connection_->is_tls()) {
    connection_->arm_reuse_probe(earlier(first_byte_deadline, total_deadline_));
  }
  auto new_parser = [&] {
    parser_.emplace(connection_->response_);
    parser_->header_limit(static_cast<std::uint32_t>(o.max_header_bytes));
    parser_->body_limit(boost::none);
  };
  new_parser();
  bool got_bytes = connection_->buffer().size() > 0;
  for (;;) {
    auto& buffer = connection_->buffer();
    if (buffer.size() > 0) {
      beast::error_code ec;
      std::size_t used = parser_->put(buffer.data(), ec);
      buffer.consume(used);
      if (ec && ec != bhttp::error::need_more) {
        abandon();
        co_return protocol_error("an invalid HTTP response", ec);
      }
      if (parser_->is_header_done()) {
        int status = connection_->response_.status();
        if (status >= 100 && status < 200) {
          // Interim answers (100 Continue, 103 Early Hints) precede the real one.
          new_parser();
          continue;
        }
        break;
      }
    }
    std::size_t want = net::read_size(buffer);
    auto [ec, n] = co_await connection_->read(want);
    if (!ec && n == 0) ec = asio::error::eof;
    if (ec == asio::error::operation_aborted && connection_->take_reread() &&
        (co_await asio::this_coro::cancellation_state).cancelled() ==
            asio::cancellation_type::none) {
      continue;  // the reuse probe restarted the read; a cancelled caller is not resumed
    }
    if (ec) {
      retryable = reused && !got_bytes && !connection_->timed_out() &&
                  (is_connection_loss(ec) || connection_->stale());
      auto error = io_error(ec, "before answering");
      abandon();
      co_return error;
    }
    if (!got_bytes) first_byte_at_ = Clock::now();
    got_bytes = true;
  }
  parser_->eager(true);
  ++connection_->requests_;
  co_return core::Result<void>{};
}

asio::awaitable<core::Result<bool>> UpstreamCall::read_more() {
  for (;;) {
    if (parser_->is_done()) co_return false;
    auto& buffer = connection_->buffer();
    if (buffer.size() > 0) {
      beast::error_code ec;
      std::size_t used = parser_->put(buffer.data(), ec);
      buffer.consume(used);
      if (ec && ec != bhttp::error::need_more) {
        abandon();
        co_return protocol_error("an invalid response body", ec);
      }
      if (parser_->is_done()) co_return false;
      if (used > 0) co_return true;
    }
    if (!reusable_) {
      abandon();
      co_return core::fail(Errc::kUpstreamProtocol,
                           "Upstream " + pool_.origin().name + " connection lost.");
    }
    auto now = Clock::now();
    auto idle_deadline = now + timeouts_.idle;
    connection_->enter(UpstreamConnection::Phase::kBody, earlier(idle_deadline, total_deadline_),
                       total_deadline_ <= idle_deadline);
    // Large bursts (a stream's backlog, a big answer) come in few reads.
    std::size_t want = std::clamp<std::size_t>(buffer.capacity() - buffer.size(), 16384, 65536);
    auto [ec, n] = co_await connection_->read(want);
    if (!ec && n == 0) ec = asio::error::eof;
    if (ec) {
      if (is_connection_loss(ec) && !connection_->timed_out()) {
        beast::error_code eof_ec;
        parser_->put_eof(eof_ec);
        abandon();
        // A body delimited by the connection's end is complete now; any other is cut.
        if (!eof_ec) co_return false;
        co_return core::fail(Errc::kUpstreamProtocol, "Upstream " + pool_.origin().name +
                                                          " closed the connection mid-answer.");
      }
      auto error = io_error(ec, "mid-answer");
      abandon();
      co_return error;
    }
  }
}

asio::awaitable<core::Result<bool>> UpstreamCall::read_some() { co_return co_await read_more(); }

asio::awaitable<core::Result<std::string>> UpstreamCall::read_body(std::uint64_t limit) {
  for (;;) {
    auto more = co_await read_more();
    if (!more) co_return more.error();
    if (body().size() > limit) {
      abandon();
      co_return core::fail(Errc::kUpstreamTooLarge,
                           "Upstream " + pool_.origin().name + " answered more than " +
                               core::format_bytes(limit) + " (limits.max_response_bytes).");
    }
    if (!*more) break;
  }
  co_return std::move(body());
}

void UpstreamCall::finish() {
  if (!connection_) return;
  if (reusable_ && parser_ && parser_->is_done() && parser_->keep_alive()) {
    parser_.reset();
    pool_.release(std::move(connection_));
  }
}

core::Error UpstreamCall::protocol_error(std::string_view what, const beast::error_code& ec) const {
  return core::Error(Errc::kUpstreamProtocol, "Upstream " + pool_.origin().name + " sent " +
                                                  std::string(what) + ": " + ec.message() + ".");
}

core::Error UpstreamCall::io_error(const boost::system::error_code& ec,
                                   std::string_view doing) const {
  const UpstreamOrigin& o = pool_.origin();
  if (connection_ && connection_->timed_out()) {
    using Phase = UpstreamConnection::Phase;
    std::string what;
    if (connection_->total_bound()) {
      what = "did not finish within the total timeout of " + core::format_duration(timeouts_.total);
    } else if (connection_->phase() == Phase::kBody) {
      what = "sent nothing for " + core::format_duration(timeouts_.idle) + " (idle timeout)";
    } else {
      what = "did not answer within " + core::format_duration(timeouts_.first_byte) +
             " (first-byte timeout)";
    }
    return core::Error(Errc::kUpstreamTimeout, "Upstream " + o.name + " " + what + ".");
  }
  if (ec == asio::error::operation_aborted) return core::Error(Errc::kCancelled, "cancelled");
  return core::Error(Errc::kUpstreamUnreachable,
                     "Upstream " + o.name + " (" + o.host + ":" + std::to_string(o.port) +
                         ") failed " + std::string(doing) + ": " + ec.message() + ".");
}

}  // namespace sluice::http
