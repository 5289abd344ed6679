#include "http/server_session.h"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>

#include "core/strings.h"

namespace sluice::http {

namespace bhttp = beast::http;
using asio::use_awaitable;
using core::Errc;

namespace {

constexpr auto kTuple = asio::as_tuple(use_awaitable);

// After an error answer, how long and how much we keep reading so that the client sees the
// answer instead of a reset caused by its unread request bytes (nginx's lingering close).
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr std::size_t kLingerBytes = 1024 * 1024;

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kLastChunk = "0\r\n\r\n";
constexpr std::string_view kCrlfLastChunk = "\r\n0\r\n\r\n";

asio::const_buffer cbuf(std::string_view s) { return asio::const_buffer(s.data(), s.size()); }

core::Error parse_error(const beast::error_code& ec, const config::ServerLimits& limits,
                        std::uint64_t body_limit) {
  if (ec == bhttp::error::header_limit) {
    return core::Error(Errc::kHeadersTooLarge, "The request line and headers exceed the limit of " +
                                                   core::format_bytes(limits.max_header_bytes) +
                                                   ".");
  }
  if (ec == bhttp::error::body_limit) {
    return core::Error(Errc::kPayloadTooLarge, "The request body exceeds the limit of " +
                                                   core::format_bytes(body_limit) + ".");
  }
  return core::Error(Errc::kInvalidRequest, "Malformed HTTP request: " + ec.message() + ".");
}

}  // namespace

ServerSession::ServerSession(asio::ip::tcp::socket socket, Handler& handler,
                             const config::ServerLimits& limits, net::DeadlineSweeper& deadlines)
    : socket_(std::move(socket)),
      handler_(handler),
      limits_(limits),
      reader_(&ServerSession::on_read_while_busy, this) {
  boost::system::error_code ec;
  remote_ = socket_.remote_endpoint(ec);
  socket_.non_blocking(true, ec);  // BackgroundRead::read tries reads at once
  head_.reserve(512);
  deadlines.add(*this);
}

ServerSession::~ServerSession() = default;

asio::awaitable<void> ServerSession::run() {
  // Cancellation here means the connection is over (client gone or forced close); the code
  // checks the session's flags rather than catching exceptions.
  co_await asio::this_coro::throw_if_cancelled(false);
  bool first = true;
  for (;;) {
    ReadOutcome outcome = co_await read_request(first);
    first = false;
    if (outcome != ReadOutcome::kRequest) {
      co_await close_connection(outcome == ReadOutcome::kRejected);
      break;
    }
    phase_ = Phase::kHandling;
    co_await handler_.handle(*this);
    unwatch_client();
    if (!head_sent_ && !closing_ && !client_gone_) {
      spdlog::error("handler wrote no response for {} {}", request_.method_string(), path_);
      co_await respond_error(core::Error(Errc::kInternal, "The gateway produced no response."));
    }
    if (streaming_) close_after_ = true;  // the handler left a stream unfinished
    if (closing_ || client_gone_ || close_after_) {
      co_await close_connection(false);
      break;
    }
  }
  phase_ = Phase::kClosed;
  clear_deadline();
  co_await finish_reads();
}

asio::awaitable<ServerSession::ReadOutcome> ServerSession::read_request(bool first) {
  parser_.emplace(request_);
  parser_->header_limit(
      static_cast<std::uint32_t>(std::min<std::uint64_t>(limits_.max_header_bytes, UINT32_MAX)));
  body_limit_ = limits_.max_body_bytes;
  parser_->body_limit(body_limit_);
  parser_->limit_body_with(&ServerSession::body_limit_for, this);
  timed_out_ = false;
  // Until a byte arrives the connection is idle: a drain closes it at once, and a timeout closes
  // it quietly. A new connection gets header_timeout from its accept, not idle_timeout, so that
  // connections which never send anything cannot pile up.
  phase_ = Phase::kIdle;
  set_deadline_after(first ? limits_.header_timeout : limits_.idle_timeout);
  bool header_deadline_set = first;

  for (;;) {
    if (buffer_.size() > 0) {
      if (phase_ == Phase::kIdle) phase_ = Phase::kHeader;
      beast::error_code ec;
      std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec && ec != bhttp::error::need_more)
        co_return co_await reject(parse_error(ec, limits_, body_limit_));
      if (phase_ == Phase::kHeader && parser_->is_header_done()) {
        if (auto checked = check_header(); !checked) co_return co_await reject(checked.error());
        begin_request();
        phase_ = Phase::kBody;
        parser_->eager(true);
        if (parser_->is_done()) break;
        auto expect = request_.fields().get(bhttp::field::expect);
        if (buffer_.size() == 0 && core::iequals(expect, "100-continue") &&
            request_.version() == 11) {
          std::array buffers{cbuf(kContinue)};
          if (!co_await write_buffers(buffers)) co_return ReadOutcome::kClosed;
        }
        set_deadline_after(limits_.body_timeout);
        continue;
      }
      if (parser_->is_done()) break;
    }

    if (phase_ == Phase::kHeader && !header_deadline_set) {
      // The first bytes of a request arrived without its whole head: from now on the client
      // has header_timeout to send the rest (slow-header clients get a 408).
      header_deadline_set = true;
      set_deadline_after(limits_.header_timeout);
    } else if (phase_ == Phase::kBody) {
      set_deadline_after(limits_.body_timeout);
    }

    // The read the watcher left outstanding is this read; otherwise read now or wait.
    std::size_t want = net::read_size(buffer_);
    auto [ec, n] = co_await reader_.read(socket_, buffer_, want);
    if (!ec && n == 0) ec = asio::error::eof;
    if (ec) {
      if (timed_out_ && !draining_ && phase_ != Phase::kIdle) {
        co_return co_await reject(
            core::Error(Errc::kRequestTimeout,
                        "The client did not send a complete request within " +
                            core::format_duration(phase_ == Phase::kBody ? limits_.body_timeout
                                                                         : limits_.header_timeout) +
                            "."));
      }
      co_return ReadOutcome::kClosed;  // idle timeout, drain, EOF or reset: nobody to answer
    }
  }

  clear_deadline();
  parser_.reset();
  co_return ReadOutcome::kRequest;
}

core::Result<void> ServerSession::check_header() {
  const Request& req = request_;
  if (req.version() != 11 && req.version() != 10) {
    return core::fail(Errc::kInvalidRequest, "Unsupported HTTP version; use HTTP/1.1.");
  }
  if (req.version() == 11 && !req.fields().contains(bhttp::field::host)) {
    return core::fail(Errc::kInvalidRequest, "HTTP/1.1 requests must have a Host header.");
  }
  // A Transfer-Encoding that does not end in "chunked" leaves the body length unknown
  // (RFC 9112, section 6.3): reject rather than guess, which is what request smuggling needs.
  if (req.fields().contains(bhttp::field::transfer_encoding) && !parser_->chunked()) {
    return core::fail(Errc::kInvalidRequest,
                      "Unsupported Transfer-Encoding; only chunked is accepted.");
  }
  auto target = req.target();
  if (target.empty() || target.front() != '/') {
    return core::fail(Errc::kInvalidRequest, "The request target must be an absolute path.");
  }
  return {};
}

void ServerSession::begin_request() {
  const Request& req = request_;
  auto target = req.target();
  path_.assign(target.substr(0, target.find('?')));
  auto client_id = req.fields().get("x-request-id");
  if (!client_id.empty() && core::is_acceptable_request_id(client_id)) {
    request_id_.assign(client_id);
  } else {
    request_id_.assign(core::next_request_id().view());
  }
  started_ = std::chrono::steady_clock::now();
  status_ = 0;
  bytes_sent_ = 0;
  head_sent_ = false;
  streaming_ = false;
  stream_until_close_ = false;
  head_request_ = req.method() == bhttp::verb::head;
  bool keep_alive = parser_->keep_alive();
  keep_alive_10_ = keep_alive && req.version() == 10;
  if (!keep_alive || draining_) close_after_ = true;
}

std::uint64_t ServerSession::body_limit_for(void* self, bhttp::verb method,
                                            std::string_view target) {
  auto* session = static_cast<ServerSession*>(self);
  session->body_limit_ =
      session->handler_.body_limit(method, target, session->limits_.max_body_bytes);
  return session->body_limit_;
}

asio::awaitable<ServerSession::ReadOutcome> ServerSession::reject(const core::Error& error) {
  close_after_ = true;
  if (request_id_.empty() || phase_ != Phase::kBody) {
    request_id_.assign(core::next_request_id().view());
  }
  head_request_ = false;
  head_sent_ = false;
  streaming_ = false;
  bytes_sent_ = 0;
  co_await respond_error(error);
  co_return ReadOutcome::kRejected;
}

asio::awaitable<bool> ServerSession::respond(int status, std::string_view content_type,
                                             std::string_view body, std::span<const Header> extra) {
  if (head_sent_) co_return false;
  if (rewriter_ != nullptr) [[unlikely]] {
    rewritten_.assign(body);
    rewriter_->rewrite_reply(status, rewritten_);
    body = rewritten_;
  }
  HeadOptions o;
  o.status = status;
  o.content_type = content_type;
  // A 304 or 204 has no body, and a content-length there would have to be the length of the
  // body a 200 would have had (RFC 9110, 8.6), not 0: it goes without one.
  const bool bodiless = status == 304 || status == 204;
  o.content_length = bodiless ? kUntilClose : static_cast<long long>(body.size());
  o.close = close_after_;
  o.keep_alive_10 = keep_alive_10_ && !close_after_;
  o.request_id = request_id_;
  o.extra = extra;
  write_head(head_, o);
  head_sent_ = true;
  status_ = status;
  std::array buffers{cbuf(head_), cbuf(body)};
  co_return co_await write_buffers(std::span(buffers).first(head_request_ || bodiless ? 1 : 2));
}

asio::awaitable<bool> ServerSession::respond_error(const core::Error& error,
                                                   std::span<const Header> extra) {
  ErrorPage page = handler_.render_error(error);
  co_return co_await respond(page.status, "application/json", page.body, extra);
}

asio::awaitable<bool> ServerSession::begin_stream(int status, std::string_view content_type,
                                                  std::span<const Header> extra,
                                                  std::string_view first, bool last) {
  if (head_sent_) co_return false;
  if (rewriter_ != nullptr) [[unlikely]]
    first = rewriter_->rewrite_stream(first, last);
  HeadOptions o;
  o.status = status;
  o.content_type = content_type;
  // HTTP/1.0 has no chunked coding: the stream ends when the connection closes.
  stream_until_close_ = request_.version() == 10;
  if (stream_until_close_) close_after_ = true;
  o.content_length = stream_until_close_ ? kUntilClose : kChunked;
  o.close = close_after_;
  o.request_id = request_id_;
  o.extra = extra;
  write_head(head_, o);
  head_sent_ = true;
  status_ = status;
  streaming_ = !last;
  if (head_request_) {
    streaming_ = false;
    std::array buffers{cbuf(head_)};
    co_return co_await write_buffers(buffers);
  }
  if (stream_until_close_) {
    std::array buffers{cbuf(head_), cbuf(first)};
    co_return co_await write_buffers(std::span(buffers).first(first.empty() ? 1 : 2));
  }
  if (first.empty()) {
    std::array buffers{cbuf(head_), cbuf(kLastChunk)};
    co_return co_await write_buffers(std::span(buffers).first(last ? 2 : 1));
  }
  chunk_head_.clear();
  append_chunk_size(chunk_head_, first.size());
  std::array buffers{cbuf(head_), cbuf(chunk_head_), cbuf(first),
                     cbuf(last ? kCrlfLastChunk : kCrlf)};
  co_return co_await write_buffers(buffers);
}

asio::awaitable<bool> ServerSession::write_stream(std::string_view data, bool last) {
  if (!streaming_) co_return head_request_&& head_sent_;  // HEAD: bodies are not sent
  if (last) streaming_ = false;
  if (rewriter_ != nullptr) [[unlikely]]
    data = rewriter_->rewrite_stream(data, last);
  if (stream_until_close_ || data.empty()) {
    if (data.empty() && (!last || stream_until_close_)) co_return true;
    std::array buffers{cbuf(data.empty() ? kLastChunk : data)};
    co_return co_await write_buffers(buffers);
  }
  chunk_head_.clear();
  append_chunk_size(chunk_head_, data.size());
  std::array buffers{cbuf(chunk_head_), cbuf(data), cbuf(last ? kCrlfLastChunk : kCrlf)};
  co_return co_await write_buffers(buffers);
}

asio::awaitable<bool> ServerSession::write_buffers(std::span<const asio::const_buffer> buffers) {
  if (closing_ || client_gone_) co_return false;
  Phase previous = phase_;
  phase_ = Phase::kWriting;
  timed_out_ = false;
  set_deadline_after(limits_.send_timeout);
  auto [ec, n] = co_await asio::async_write(socket_, buffers, kTuple);
  clear_deadline();
  phase_ = previous;
  bytes_sent_ += n;
  if (ec) {
    client_gone_ = true;
    close_after_ = true;
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> ServerSession::respond_and_cut(int status, std::string_view content_type,
                                                     std::string_view body, std::size_t keep) {
  HeadOptions o;
  o.status = status;
  o.content_type = content_type;
  o.content_length = static_cast<long long>(body.size());
  o.request_id = request_id_;
  write_head(head_, o);
  head_sent_ = true;
  status_ = status;
  std::array buffers{cbuf(head_), cbuf(body.substr(0, std::min(keep, body.size())))};
  co_await write_buffers(buffers);
  abort();
}

void ServerSession::abort() {
  closing_ = true;
  close_after_ = true;
  streaming_ = false;
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

void ServerSession::watch_client(ClientGoneHook on_gone, void* owner) {
  if (watching_ || client_gone_ || closing_) return;
  watching_ = true;
  on_gone_ = on_gone;
  on_gone_owner_ = owner;
  // A pipelined request already in the buffer proves the client is there; otherwise keep a read
  // outstanding: its end-of-file is the disconnect, its bytes the next request. The last read
  // drained the socket, so starting it costs no system call.
  if (buffer_.size() == 0 && !reader_.pending() && !reader_.completed()) {
    reader_.start(socket_, buffer_, net::read_size(buffer_));
  }
}

void ServerSession::on_read_while_busy(void* self, const boost::system::error_code& ec,
                                       std::size_t n) {
  auto* s = static_cast<ServerSession*>(self);
  // After unwatch_client() the result waits for read_request(); while watching, only the end of
  // the connection matters (bytes are a pipelined request, kept in the buffer).
  if (!s->watching_ || ec == asio::error::operation_aborted) return;
  if (ec || n == 0) {
    s->client_gone_ = true;
    s->watching_ = false;
    if (s->on_gone_ != nullptr) {
      s->on_gone_(s->on_gone_owner_);
    } else {
      s->cancel_.emit(asio::cancellation_type::terminal);
    }
  }
}

void ServerSession::unwatch_client() {
  // An outstanding read stays: it becomes the next request's read.
  watching_ = false;
  on_gone_ = nullptr;
}

asio::awaitable<void> ServerSession::finish_reads() {
  if (!reader_.pending()) co_return;
  boost::system::error_code ec;
  socket_.cancel(ec);
  co_await reader_.wait();
}

asio::awaitable<void> ServerSession::close_connection(bool linger) {
  boost::system::error_code ec;
  if (!socket_.is_open()) co_return;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  if (linger && !client_gone_ && !closing_) {
    phase_ = Phase::kLinger;
    timed_out_ = false;
    set_deadline_after(kLingerTime);
    std::size_t drained = 0;
    while (drained < kLingerBytes) {
      auto [rec, n] = co_await socket_.async_read_some(asio::buffer(linger_buf_), kTuple);
      if (rec) break;
      drained += n;
    }
    clear_deadline();
  }
  socket_.close(ec);
  phase_ = Phase::kClosed;
}

void ServerSession::drain() {
  draining_ = true;
  close_after_ = true;
  if (phase_ == Phase::kIdle) {
    boost::system::error_code ec;
    socket_.cancel(ec);
  }
}

void ServerSession::force_close() {
  closing_ = true;
  client_gone_ = true;
  boost::system::error_code ec;
  socket_.close(ec);
  cancel_.emit(asio::cancellation_type::terminal);
}

void ServerSession::on_deadline() {
  boost::system::error_code ec;
  switch (phase_) {
    case Phase::kIdle:
    case Phase::kHeader:
    case Phase::kBody:
    case Phase::kLinger:
      timed_out_ = true;
      socket_.cancel(ec);
      break;
    case Phase::kWriting:
      // The client stopped reading: give up on it.
      timed_out_ = true;
      client_gone_ = true;
      socket_.close(ec);
      cancel_.emit(asio::cancellation_type::terminal);
      break;
    case Phase::kHandling:
    case Phase::kClosed:
      break;
  }
}

}  // namespace sluice::http
