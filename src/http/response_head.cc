#include "http/response_head.h"

#include <charconv>
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

void append_number(std::string& out, unsigned long long v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ", 2);
  out.append(value);
  out.append("\r\n", 2);
}

}  // namespace

void write_head(std::string& out, const HeadOptions& o) {
  out.clear();
  out.append("HTTP/1.1 ", 9);
  out.append(status_line(o.status));
  out.append("\r\ndate: ", 8);
  out.append(http_date());
  out.append("\r\n", 2);
  if (!o.content_type.empty()) append_header(out, "content-type", o.content_type);
  if (o.content_length >= 0) {
    out.append("content-length: ", 16);
    append_number(out, static_cast<unsigned long long>(o.content_length));
    out.append("\r\n", 2);
  } else if (o.content_length == kChunked) {
    out.append("transfer-encoding: chunked\r\n", 28);
  }
  if (!o.request_id.empty()) append_header(out, "x-request-id", o.request_id);
  for (const Header& h : o.extra) append_header(out, h.name, h.value);
  if (o.close) {
    out.append("connection: close\r\n", 19);
  } else if (o.keep_alive_10) {
    out.append("connection: keep-alive\r\n", 24);
  }
  out.append("\r\n", 2);
}

void append_chunk_size(std::string& out, std::size_t size) {
  char buf[20];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, size, 16);
  out.append(buf, end);
  out.append("\r\n", 2);
}

}  // namespace sluice::http
