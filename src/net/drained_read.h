// Socket reads that tell Asio's epoll reactor when they drained the socket, and a read that
// stays outstanding while its owner is busy elsewhere.
//
// Asio attempts every read at once before waiting for readiness; on a request/response
// connection that attempt fails with EAGAIN every time (the next message has not arrived), one
// wasted system call per message on each side of the proxy. Its reactor already knows how to
// skip the attempt: an operation that reports "done_and_exhausted" marks the socket drained
// until the next readiness event. Asio reports that only at end of file; a read into a
// DrainingBuffer also reports it when it returned fewer bytes than asked, which with
// edge-triggered epoll is exactly nginx's rule (a short read clears `ready`; new data raises a
// new edge). So the next read on that socket is queued without a system call.
//
// BackgroundRead keeps one such read outstanding: a session starts it once a request is read
// (its completion with end-of-file is how a client disconnect is noticed while the upstream
// works), and the next request read adopts it instead of starting another. No second operation
// and no epoll_ctl is needed per request.
//
// One case needs care: when the peer's FIN arrives together with the last bytes, their single
// readiness event is spent on those bytes, and a read queued on the drained socket would wait
// for an edge that never comes (nginx knows from EPOLLRDHUP, which Asio does not ask for). So
// only the first read of a message is queued on a drained socket; a missed FIN there is
// harmless (a client that half-closed is noticed at its idle timeout; a pooled upstream
// connection the server closed fails its next use with a reset, which is retried). Reads inside
// a message, where a missed FIN would stall a cut answer, go through read(), which tries recv()
// at once as Asio would have.
//
// Thread safety: a BackgroundRead belongs to its socket's worker thread.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/detail/reactive_socket_recv_op.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/version.hpp>

#include <algorithm>
#include <optional>

namespace sluice::net {

// A single mutable buffer whose reads mark the socket drained when they come back short.
struct DrainingBuffer : boost::asio::mutable_buffer {
  explicit DrainingBuffer(boost::asio::mutable_buffer b) : boost::asio::mutable_buffer(b) {}
};

// How much to read next into `buffer`: what it holds spare (it keeps the capacity the largest
// message needed), at least 4 KiB and at most 64 KiB, so a large answer takes few reads.
inline std::size_t read_size(const boost::beast::flat_buffer& buffer) {
  return std::clamp<std::size_t>(buffer.capacity() - buffer.size(), 4096, 65536);
}

class BackgroundRead {
 public:
  using Socket = boost::asio::ip::tcp::socket;
  // Called when the read completes while nobody waits for it (the owner is busy elsewhere).
  using Callback = void (*)(void* owner, const boost::system::error_code& ec, std::size_t n);

  BackgroundRead(Callback callback, void* owner) : callback_(callback), owner_(owner) {}
  BackgroundRead(const BackgroundRead&) = delete;
  BackgroundRead& operator=(const BackgroundRead&) = delete;

  // Starts reading up to `size` bytes into `buffer`; the bytes are committed to it on
  // completion. The buffer must not be touched until then. `this` must outlive the read.
  void start(Socket& socket, boost::beast::flat_buffer& buffer, std::size_t size);

  bool pending() const { return pending_; }
  // Whether a completed result waits to be taken.
  bool completed() const { return completed_; }

  // Waits until the read has completed (at once if it has). Cancelling the waiting coroutine
  // cancels the socket's operations, which completes the read with operation_aborted.
  boost::asio::awaitable<void> wait();

  // The completed read's result (the bytes are already in the buffer); clears it.
  struct Result {
    boost::system::error_code ec;
    std::size_t bytes = 0;
  };
  Result take();

  // Reads up to `want` more bytes into `buffer`: adopts the outstanding read if there is one;
  // otherwise tries at once and queues a read only when nothing is waiting. The socket must be
  // in non-blocking mode (socket.non_blocking(true)).
  boost::asio::awaitable<Result> read(Socket& socket, boost::beast::flat_buffer& buffer,
                                      std::size_t want);

 private:
  void on_complete(const boost::system::error_code& ec, std::size_t n);

  Callback callback_;
  void* owner_;
  Socket* socket_ = nullptr;
  boost::beast::flat_buffer* buffer_ = nullptr;
  boost::asio::cancellation_slot slot_;
  bool pending_ = false;
  bool completed_ = false;
  Result result_;
  std::optional<boost::asio::any_completion_handler<void()>> waiter_;
};

}  // namespace sluice::net

// The drained-socket rule above, as a specialization of Asio's receive operation for
// DrainingBuffer. It is Asio 1.81's reactive_socket_recv_op_base with one rule added in
// do_perform; check it against the new version when Boost is upgraded.
static_assert(BOOST_VERSION / 100 == 1081, "check the DrainingBuffer receive op against Asio");

namespace boost::asio::detail {

template <>
class reactive_socket_recv_op_base<sluice::net::DrainingBuffer> : public reactor_op {
 public:
  reactive_socket_recv_op_base(const boost::system::error_code& success_ec, socket_type socket,
                               socket_ops::state_type state,
                               const sluice::net::DrainingBuffer& buffers,
                               socket_base::message_flags flags, func_type complete_func)
      : reactor_op(success_ec, &reactive_socket_recv_op_base::do_perform, complete_func),
        socket_(socket),
        state_(state),
        buffer_(buffers),
        flags_(flags) {}

  static status do_perform(reactor_op* base) {
    auto* o = static_cast<reactive_socket_recv_op_base*>(base);
    status result =
        socket_ops::non_blocking_recv1(o->socket_, o->buffer_.data(), o->buffer_.size(), o->flags_,
                                       (o->state_ & socket_ops::stream_oriented) != 0, o->ec_,
                                       o->bytes_transferred_)
            ? done
            : not_done;
    // A short read (or end of file) emptied the socket: wait for the next edge before reading.
    if (result == done && (o->state_ & socket_ops::stream_oriented) != 0 &&
        o->bytes_transferred_ < o->buffer_.size()) {
      result = done_and_exhausted;
    }
    return result;
  }

 private:
  socket_type socket_;
  socket_ops::state_type state_;
  boost::asio::mutable_buffer buffer_;
  socket_base::message_flags flags_;
};

}  // namespace boost::asio::detail
