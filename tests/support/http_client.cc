#include "support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cerrno>
#include <cstring>

#include "core/strings.h"

namespace sluice::testing {

namespace bhttp = boost::beast::http;

struct HttpClient::ParserState {
  bhttp::response_parser<bhttp::string_body> parser;
  bool eof = false;
  ParserState() {
    parser.body_limit(boost::none);
    parser.eager(true);
  }
};

std::string Response::header(const std::string& name) const {
  auto it = headers.find(core::to_lower(name));
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(std::uint16_t port, std::chrono::milliseconds timeout) : timeout_(timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

HttpClient::~HttpClient() { close(); }

void HttpClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool HttpClient::send_raw(const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

bool HttpClient::send(const std::string& method, const std::string& target, const std::string& body,
                      const std::map<std::string, std::string>& headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  bool has_type = false;
  for (const auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    if (core::iequals(k, "content-type")) has_type = true;
  }
  if (!body.empty() || method == "POST") {
    if (!has_type) req += "Content-Type: application/json\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  return send_raw(req);
}

bool HttpClient::fill() {
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout_.count()));
  if (r <= 0) return false;
  char buf[65536];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) {
    if (parser_) parser_->eof = true;
    return false;
  }
  pending_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::optional<Response> HttpClient::read_head() {
  parser_ = std::make_unique<ParserState>();
  for (;;) {
    if (!pending_.empty()) {
      boost::beast::error_code ec;
      std::size_t used = parser_->parser.put(boost::asio::buffer(pending_), ec);
      pending_.erase(0, used);
      if (ec && ec != bhttp::error::need_more) return std::nullopt;
      if (parser_->parser.is_header_done()) break;
    }
    if (!fill()) return std::nullopt;
  }
  Response r;
  const auto& msg = parser_->parser.get();
  r.status = msg.result_int();
  for (const auto& f : msg) {
    std::string name = core::to_lower(f.name_string());
    auto& slot = r.headers[name];
    if (!slot.empty()) slot += ", ";
    slot += std::string(f.value());
  }
  r.chunked = parser_->parser.chunked();
  r.keep_alive = parser_->parser.keep_alive();
  return r;
}

std::optional<std::string> HttpClient::read_body_some() {
  if (!parser_) return std::nullopt;
  auto& p = parser_->parser;
  for (;;) {
    if (!p.get().body().empty()) {
      std::string out = std::move(p.get().body());
      p.get().body().clear();
      return out;
    }
    if (p.is_done()) return std::nullopt;
    if (!pending_.empty()) {
      boost::beast::error_code ec;
      std::size_t used = p.put(boost::asio::buffer(pending_), ec);
      pending_.erase(0, used);
      if (ec && ec != bhttp::error::need_more) return std::nullopt;
      if (used > 0) continue;
    }
    if (!fill()) {
      if (parser_->eof) {
        boost::beast::error_code ec;
        p.put_eof(ec);
        if (!p.get().body().empty()) continue;
      }
      return std::nullopt;
    }
  }
}

bool HttpClient::body_complete() const { return parser_ && parser_->parser.is_done(); }

std::optional<Response> HttpClient::read_response() {
  auto head = read_head();
  if (!head) return std::nullopt;
  while (auto piece = read_body_some()) head->body += *piece;
  if (!body_complete()) return std::nullopt;
  return head;
}

std::string HttpClient::read_raw(std::chrono::milliseconds quiet) {
  std::string out = std::move(pending_);
  pending_.clear();
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(quiet.count())) <= 0) return out;
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

bool HttpClient::wait_closed(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, 20);
    if (r > 0) {
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
      pending_.append(buf, static_cast<std::size_t>(n));
    }
  }
  return false;
}

std::optional<Response> request(std::uint16_t port, const std::string& method,
                                const std::string& target, const std::string& body,
                                const std::map<std::string, std::string>& headers,
                                std::chrono::milliseconds timeout) {
  HttpClient client(port, timeout);
  if (!client.connected() || !client.send(method, target, body, headers)) return std::nullopt;
  return client.read_response();
}

std::vector<std::string> sse_data(const std::string& text) {
  std::vector<std::string> out;
  std::string current;
  bool has_data = false;
  std::size_t i = 0;
  while (i <= text.size()) {
    std::size_t end = text.find('\n', i);
    if (end == std::string::npos) break;
    std::string line = text.substr(i, end - i);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    i = end + 1;
    if (line.empty()) {
      if (has_data) out.push_back(current);
      current.clear();
      has_data = false;
    } else if (line.rfind("data:", 0) == 0) {
      std::string value = line.substr(5);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      if (has_data) current += "\n";
      current += value;
      has_data = true;
    }
  }
  return out;
}

}  // namespace sluice::testing
