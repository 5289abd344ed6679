#include "net/drained_read.h"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::net {

void BackgroundRead::start(Socket& socket, boost::beast::flat_buffer& buffer, std::size_t size) {
  socket_ = &socket;
  buffer_ = &buffer;
  pending_ = true;
  completed_ = false;
  socket.async_read_some(
      DrainingBuffer(buffer.prepare(size)),
      [this](const boost::system::error_code& ec, std::size_t n) { on_complete(ec, n); });
}

void BackgroundRead::on_complete(const boost::system::error_code& ec, std::size_t n) {
  pending_ = false;
  completed_ = true;
  result_ = {ec, n};
  if (!ec) buffer_->commit(n);
  if (waiter_) {
    if (slot_.is_connected()) slot_.clear();
    auto waiter = std::move(*waiter_);
    waiter_.reset();
    std::move(waiter)();
    return;
  }
  callback_(owner_, ec, n);
}

boost::asio::awaitable<void> BackgroundRead::wait() {
  if (!pending_) co_return;
  co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
      [this](auto handler) {
        waiter_.emplace(std::move(handler));
        // The type-erased handler chains its own cancellation state onto the waiter's slot, so
        // the cancel handler goes on the slot it exposes (emplacing on the original slot would
        // be replaced by it).
        slot_ = waiter_->get_cancellation_slot();
        if (slot_.is_connected()) {
          slot_.assign([this](boost::asio::cancellation_type) {
            boost::system::error_code ec;
            socket_->cancel(ec);
          });
        }
      },
      boost::asio::use_awaitable);
}

boost::asio::awaitable<BackgroundRead::Result> BackgroundRead::read(
    Socket& socket, boost::beast::flat_buffer& buffer, std::size_t want) {
  if (!pending_ && !completed_) {
    boost::system::error_code ec;
    std::size_t n = socket.read_some(buffer.prepare(want), ec);
    if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) {
      if (!ec) buffer.commit(n);
      co_return Result{ec, n};
    }
    start(socket, buffer, want);
  }
  co_await wait();
  co_return take();
}

BackgroundRead::Result BackgroundRead::take() {
  completed_ = false;
  return result_;
}

}  // namespace sluice::net
