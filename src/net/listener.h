// Listening sockets. Each worker gets its own acceptor on the same address with SO_REUSEPORT, so
// the kernel spreads new connections across workers without a shared accept lock.
//
// Thread safety: open_acceptor() may be called from any thread; the acceptor belongs to the
// io_context it was opened on.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <string>

#include "core/error.h"

namespace sluice::net {

// Resolves "127.0.0.1", "::1", "0.0.0.0" or "localhost" without touching DNS.
core::Result<boost::asio::ip::address> parse_listen_host(const std::string& host);

// Opens, binds and listens. With port 0 the kernel picks one; open the first acceptor with port
// 0 and the others with the port it got.
core::Result<boost::asio::ip::tcp::acceptor> open_acceptor(
    boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& at);

// Sets TCP_NODELAY on an accepted or connected socket; errors are ignored (the socket still works).
void tune_socket(boost::asio::ip::tcp::socket& socket);

// Raises the soft limit on open files to the hard limit, as servers that hold many connections
// must; returns the new soft limit.
long raise_open_file_limit();

}  // namespace sluice::net
