#include "net/listener.h"

#include <sys/resource.h>

#include <boost/asio/socket_base.hpp>

namespace sluice::net {

namespace ip = boost::asio::ip;
using core::Errc;

core::Result<ip::address> parse_listen_host(const std::string& host) {
  if (host == "localhost") return ip::make_address_v4("127.0.0.1");
  boost::system::error_code ec;
  auto addr = ip::make_address(host, ec);
  if (ec) {
    return core::fail(Errc::kInvalidRequest,
                      "listen address \"" + host + "\" is not an IP address (or localhost)");
  }
  return addr;
}

core::Result<ip::tcp::acceptor> open_acceptor(boost::asio::io_context& io,
                                              const ip::tcp::endpoint& at) {
  ip::tcp::acceptor acceptor(io);
  boost::system::error_code ec;
  auto failed = [&](const char* what) {
    return core::fail(Errc::kInternal, std::string(what) + " " + at.address().to_string() + ":" +
                                           std::to_string(at.port()) + ": " + ec.message());
  };
  acceptor.open(at.protocol(), ec);
  if (ec) return failed("cannot open socket for");
  acceptor.set_option(ip::tcp::acceptor::reuse_address(true), ec);
  int one = 1;
  if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    ec.assign(errno, boost::system::system_category());
    return failed("cannot set SO_REUSEPORT on");
  }
  if (at.address().is_v6()) acceptor.set_option(ip::v6_only(true), ec);
  acceptor.bind(at, ec);
  if (ec) return failed("cannot listen on");
  acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) return failed("cannot listen on");
  return acceptor;
}

void tune_socket(ip::tcp::socket& socket) {
  boost::system::error_code ec;
  socket.set_option(ip::tcp::no_delay(true), ec);
}

long raise_open_file_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return static_cast<long>(rl.rlim_cur);
}

}  // namespace sluice::net
