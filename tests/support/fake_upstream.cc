#include "support/fake_upstream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace sluice::testing {

namespace {

int listen_loopback(std::uint16_t& port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot listen on loopback");
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port = ntohs(addr.sin_port);
  return fd;
}

// Reads until the head and a Content-Length body are complete (or 5 s pass).
std::string read_request(int fd) {
  std::string data;
  char buf[8192];
  for (;;) {
    auto head_end = data.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      std::size_t length = 0;
      auto pos = data.find("ontent-Length: ");
      if (pos == std::string::npos) pos = data.find("ontent-length: ");
      if (pos != std::string::npos && pos < head_end) length = std::stoul(data.substr(pos + 15));
      if (data.size() >= head_end + 4 + length) return data;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) return data;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return data;
    data.append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

FakeUpstream::FakeUpstream(std::function<std::string(const std::string&)> respond)
    : respond_(std::move(respond)) {
  listen_fd_ = listen_loopback(port_);
  thread_ = std::thread([this] { run(); });
}

FakeUpstream::~FakeUpstream() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

void FakeUpstream::run() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::string request = read_request(fd);
    ++requests_;
    const std::string response = respond_(request);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string_view rest = response;
    for (bool more = true; more;) {
      auto at = rest.find(kFlush);
      more = at != std::string_view::npos;
      std::string_view piece = rest.substr(0, at);
      std::size_t sent = 0;
      while (sent < piece.size()) {
        ssize_t n = ::send(fd, piece.data() + sent, piece.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
      if (more) {
        rest.remove_prefix(at + kFlush.size());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    ::shutdown(fd, SHUT_WR);
    // Let the peer read everything before the socket goes away.
    pollfd q{fd, POLLIN, 0};
    char drain[1024];
    while (::poll(&q, 1, 200) > 0 && ::recv(fd, drain, sizeof drain, 0) > 0) {
    }
    ::close(fd);
  }
}

std::uint16_t closed_port() {
  std::uint16_t port = 0;
  int fd = listen_loopback(port);
  ::close(fd);
  return port;
}

}  // namespace sluice::testing
