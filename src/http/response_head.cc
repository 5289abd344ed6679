#include "http/response_head.h"

#include <charconv>
#include <cstring>
#include <ctime>

namespace sluice::http {

std::string_view status_line(int status) {
  switch (status) {
    case 100:
      return "100 Continue";
    case 200:
      return "200 OK";
    case 201:
      return "201 Created";
    case 202:
      return "202 Accepted";
    case 204:
      return "204 No Content";
    case 301:
      return "301 Moved Permanently";
    case 304:
      return "304 Not Modified";
    case 400:
      return "400 Bad Request";
    case 401:
      return "401 Unauthorized";
    case 402:
      return "402 Payment Required";
    case 403:
      return "403 Forbidden";
    case 404:
      return "404 Not Found";
    case 405:
      return "405 Method Not Allowed";
    case 408:
      return "408 Request Timeout";
    case 409:
      return "409 Conflict";
    case 410:
      return "410 Gone";
    case 411:
      return "411 Length Required";
    case 413:
      return "413 Content Too Large";
    case 415:
      return "415 Unsupported Media Type";
    case 422:
      return "422 Unprocessable Content";
    case 429:
      return "429 Too Many Requests";
    case 431:
      return "431 Request Header Fields Too Large";
    case 499:
      return "499 Client Closed Request";
    case 500:
      return "500 Internal Server Error";
    case 501:
      return "501 Not Implemented";
    case 502:
      return "502 Bad Gateway";
    case 503:
      return "503 Service Unavailable";
    case 504:
      return "504 Gateway Timeout";
    case 505:
      return "505 HTTP Version Not Supported";
    case 529:
      return "529 Overloaded";
    default:
      break;
  }
  // Unlisted codes keep their number; the phrase is optional in HTTP/1.1.
  thread_local char buf[8];
  if (status < 100 || status > 999) status = 500;
  buf[0] = static_cast<char>('0' + status / 100);
  buf[1] = static_cast<char>('0' + status / 10 % 10);
  buf[2] = static_cast<char>('0' + status % 10);
  buf[3] = ' ';
  return std::string_view(buf, 4);
}

std::string_view http_date() {
  thread_local std::time_t cached_at = 0;
  thread_local char buf[40];
  thread_local std::size_t len = 0;
  std::time_t now = std::time(nullptr);
  if (now != cached_at) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    len = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_at = now;
  }
  return std::string_view(buf, len);
}

namespace {

// A cursor into storage sized beforehand: each piece is one copy, where std::string::append
// checks the capacity and writes a terminator every time (a head has some 40 pieces).
struct HeadWriter {
  char* at;
  void put(std::string_view s) {
    std::memcpy(at, s.data(), s.size());
    at += s.size();
  }
  void header(std::string_view name, std::string_view value) {
    put(name);
    put(": ");
    put(value);
    put("\r\n");
  }
};

constexpr std::size_t kNumberChars = 20;  // a long long in decimal

}  // namespace

void write_head(std::string& out, const HeadOptions& o) {
  const std::string_view status = status_line(o.status);
  const std::string_view date = http_date();
  // What the longest of every line below may take; the head is cut to what it took.
  std::size_t size = 9 + status.size() + 8 + date.size() + 2 + 16 + o.content_type.size() + 18 +
                     kNumberChars + 16 + o.request_id.size() + 24 + 2;
  for (const Header& h : o.extra) size += h.name.size() + h.value.size() + 4;
  out.resize(size);
  HeadWriter w{out.data()};
  w.put("HTTP/1.1 ");
  w.put(status);
  w.put("\r\ndate: ");
  w.put(date);
  w.put("\r\n");
  if (!o.content_type.empty()) w.header("content-type", o.content_type);
  if (o.content_length >= 0) {
    w.put("content-length: ");
    w.at = std::to_chars(w.at, w.at + kNumberChars, o.content_length).ptr;
    w.put("\r\n");
  } else if (o.content_length == kChunked) {
    w.put("transfer-encoding: chunked\r\n");
  }
  if (!o.request_id.empty()) w.header("x-request-id", o.request_id);
  for (const Header& h : o.extra) w.header(h.name, h.value);
  if (o.close) {
    w.put("connection: close\r\n");
  } else if (o.keep_alive_10) {
    w.put("connection: keep-alive\r\n");
  }
  w.put("\r\n");
  out.resize(static_cast<std::size_t>(w.at - out.data()));
}

void append_chunk_size(std::string& out, std::size_t size) {
  char buf[20];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, size, 16);
  out.append(buf, end);
  out.append("\r\n", 2);
}

}  // namespace sluice::http
