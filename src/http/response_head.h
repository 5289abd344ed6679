// Writes HTTP/1.1 response heads straight into a reusable string: no per-response allocation
// once the string has grown, no header container. Used for every response Sluice sends.
//
// Thread safety: http_date() keeps a per-thread cache; the rest is pure.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace sluice::http {

// A header to add to a response. Views: the strings must outlive the write.
struct Header {
  std::string_view name;
  std::string_view value;
};

// "200 OK" for known codes, "599 Unknown" style otherwise (the reason phrase is informative only).
std::string_view status_line(int status);

// The current time as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), recomputed at most once
// per second per thread.
std::string_view http_date();

struct HeadOptions {
  int status = 200;
  std::string_view content_type;  // omitted when empty
  // >= 0: Content-Length; kChunked: Transfer-Encoding: chunked; kUntilClose: neither (the body
  // ends when the connection closes, for HTTP/1.0 streams; or there is none, for a 304 or 204).
  long long content_length = 0;
  bool close = false;           // adds "connection: close"
  bool keep_alive_10 = false;   // adds "connection: keep-alive" (HTTP/1.0 clients that asked)
  std::string_view request_id;  // adds "x-request-id" when not empty
  std::span<const Header> extra;
};

inline constexpr long long kChunked = -1;
inline constexpr long long kUntilClose = -2;

// Clears `out` and writes the head, ending with the blank line.
void write_head(std::string& out, const HeadOptions& options);

// Appends the chunk-size line for a chunk of `size` bytes ("1a2\r\n").
void append_chunk_size(std::string& out, std::size_t size);

}  // namespace sluice::http
