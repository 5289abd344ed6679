#include "net/drained_read.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

namespace sluice::net {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

struct SocketPair {
  explicit SocketPair(asio::io_context& io) : a(io), b(io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    a.connect(acceptor.local_endpoint());
    acceptor.accept(b);
    a.non_blocking(true);
  }
  tcp::socket a;
  tcp::socket b;
};

void ignore(void*, const boost::system::error_code&, std::size_t) {}

TEST(BackgroundRead, ReadReturnsWhatArrives) {
  asio::io_context io;
  SocketPair p(io);
  BackgroundRead reader(&ignore, nullptr);
  boost::beast::flat_buffer buffer;
  std::optional<BackgroundRead::Result> got;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { got = co_await reader.read(p.a, buffer, 4096); },
      asio::detached);
  io.run_for(20ms);
  EXPECT_FALSE(got);  // nothing sent yet
  asio::write(p.b, asio::buffer(std::string("hello")));
  io.run_for(50ms);
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->ec);
  EXPECT_EQ(got->bytes, 5u);
  EXPECT_EQ(std::string(static_cast<const char*>(buffer.data().data()), buffer.size()), "hello");
}

TEST(BackgroundRead, ABackgroundReadIsAdoptedAndSeesEndOfFile) {
  asio::io_context io;
  SocketPair p(io);
  int calls = 0;
  BackgroundRead reader(
      [](void* self, const boost::system::error_code& ec, std::size_t) {
        ++*static_cast<int*>(self);
        EXPECT_EQ(ec, asio::error::eof);
      },
      &calls);
  boost::beast::flat_buffer buffer;
  reader.start(p.a, buffer, 4096);
  p.b.close();
  io.run_for(50ms);
  EXPECT_EQ(calls, 1);  // nobody waited: the callback saw the end of the connection
  EXPECT_TRUE(reader.completed());
  io.restart();
  std::optional<BackgroundRead::Result> got;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { got = co_await reader.read(p.a, buffer, 4096); },
      asio::detached);
  io.run_for(20ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->ec, asio::error::eof);
}

TEST(BackgroundRead, CancellingTheWaiterEndsTheRead) {
  asio::io_context io;
  SocketPair p(io);
  BackgroundRead reader(&ignore, nullptr);
  boost::beast::flat_buffer buffer;
  asio::cancellation_signal signal;
  std::optional<BackgroundRead::Result> got;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { got = co_await reader.read(p.a, buffer, 4096); },
      asio::bind_cancellation_slot(signal.slot(), asio::detached));
  io.run_for(20ms);
  ASSERT_FALSE(got);
  signal.emit(asio::cancellation_type::terminal);
  io.restart();
  io.run_for(20ms);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->ec, asio::error::operation_aborted);
}

}  // namespace
}  // namespace sluice::net
