// Test support: a blocking HTTP/1.1 client on plain POSIX sockets with real timeouts, able to
// send arbitrary (including malformed) bytes and to read responses whole or piece by piece
// (for streams). Responses are parsed with Beast's parser, so framing errors are caught.
//
// Thread safety: one client per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sluice::testing {

using namespace std::chrono_literals;

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names; repeated ones joined by ", "
  std::string body;                            // de-chunked
  bool chunked = false;
  bool keep_alive = true;

  std::string header(const std::string& name) const;
};

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, std::chrono::milliseconds timeout = 10s);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send_raw(const std::string& bytes);
  bool send(const std::string& method, const std::string& target, const std::string& body = {},
            const std::map<std::string, std::string>& headers = {});

  // Reads one whole response. nullopt on timeout, error or EOF before a complete response.
  std::optional<Response> read_response();

  // Streaming: read_head() reads the status and headers; read_body_some() returns the next body
  // bytes as they arrive (de-chunked), nullopt at the end of the body, on timeout or on error;
  // body_complete() tells whether the body ended properly (terminating chunk seen).
  std::optional<Response> read_head();
  std::optional<std::string> read_body_some();
  bool body_complete() const;

  // Everything that arrives until the connection has been quiet for `quiet` (raw bytes).
  std::string read_raw(std::chrono::milliseconds quiet);

  // True when the server closes the connection within the timeout (EOF or reset).
  bool wait_closed(std::chrono::milliseconds timeout);
  void close();

 private:
  struct ParserState;
  bool fill();

  int fd_ = -1;
  std::chrono::milliseconds timeout_;
  std::string pending_;  // received, not yet parsed
  std::unique_ptr<ParserState> parser_;
};

// One request on a new connection.
std::optional<Response> request(std::uint16_t port, const std::string& method,
                                const std::string& target, const std::string& body = {},
                                const std::map<std::string, std::string>& headers = {},
                                std::chrono::milliseconds timeout = 10s);

// The `data:` payloads of the SSE events in `text`, in order.
std::vector<std::string> sse_data(const std::string& text);

}  // namespace sluice::testing
