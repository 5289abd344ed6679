// Test support: a scripted upstream for faults the mock cannot produce (a malformed response, an
// error body in a foreign shape, bytes cut at an exact place). It accepts connections on a
// loopback port, reads one request per connection, and answers with the bytes the test's
// function returns, exactly as given; then it closes the connection.
//
// Thread safety: runs its own thread; requests() may be read from the test thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace sluice::testing {

class FakeUpstream {
 public:
  // Put in a response, makes the bytes before it go out in their own write, 20 ms before the
  // rest: a stream split at an exact byte (inside a multi-byte character, between an event's
  // lines) reaches the gateway in separate reads.
  static constexpr std::string_view kFlush = "\x01<flush>\x01";

  // `respond` gets the raw request (head and body) and returns the raw response bytes.
  explicit FakeUpstream(std::function<std::string(const std::string& request)> respond);
  ~FakeUpstream();

  std::uint16_t port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }
  int requests() const { return requests_.load(); }

 private:
  void run();

  std::function<std::string(const std::string&)> respond_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<int> requests_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// A port on 127.0.0.1 where nothing listens (bound once, then closed).
std::uint16_t closed_port();

}  // namespace sluice::testing
