#include "api/json_text.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace sluice::api {

namespace {

constexpr std::size_t kMaxDepth = 128;

}  // namespace

json::parse_options json_parse_options() {
  json::parse_options o;
  o.max_depth = kMaxDepth;
  return o;
}

JsonArenaParser::JsonArenaParser()
    : parser_(json::storage_ptr(), json_parse_options(), temp_, sizeof temp_) {}

const json::value* JsonArenaParser::parse(std::string_view text) {
  boost::system::error_code ec;
  std::size_t at = 0;
  return parse(text, ec, at);
}

const json::value* JsonArenaParser::parse(std::string_view text, boost::system::error_code& ec,
                                          std::size_t& error_at) {
  value_.reset();   // before the arena frees what it points to
  parser_.reset();  // drops a failed parse's partial values while their arena lives
  arena_.emplace(first_block_, sizeof first_block_);
  parser_.reset(&*arena_);
  error_at = parser_.write(text.data(), text.size(), ec);
  if (ec) return nullptr;
  value_.emplace(parser_.release());  // emplace keeps the arena; assignment would copy
  return &*value_;
}

namespace {

// Whether none of the 8 bytes at `p` needs escaping: no control character, quote or backslash.
// Strings are mostly plain (and a base64 image is megabytes of it), so they are scanned a word at
// a time. The tests are exact for "is there any": a borrow can only flag a byte above one that is
// really flagged.
bool plain_word(const char* p) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
  constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
  std::uint64_t x;
  std::memcpy(&x, p, sizeof x);
  auto has_zero = [](std::uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  const std::uint64_t control = (x - 0x20 * kOnes) & ~x & kHigh;
  return (control | has_zero(x ^ ('"' * kOnes)) | has_zero(x ^ ('\\' * kOnes))) == 0;
}

}  // namespace

void append_json_chars(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char* data = s.data();
  const std::size_t n = s.size();
  std::size_t run = 0;  // start of the bytes not yet copied
  std::size_t i = 0;
  while (i < n) {
    if (i + 8 <= n && plain_word(data + i)) {
      i += 8;
      continue;
    }
    const auto c = static_cast<unsigned char>(data[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out.append(data + run, i - run);
    run = ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
  }
  out.append(data + run, n - run);
}

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  append_json_chars(out, s);
  out += '"';
}

void append_json(std::string& out, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      return;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case json::kind::int64:
      append_int(out, v.get_int64());
      return;
    case json::kind::uint64:
      append_uint(out, v.get_uint64());
      return;
    case json::kind::double_:
      append_double(out, v.get_double());
      return;
    case json::kind::string:
      append_json_string(out, v.get_string());
      return;
    case json::kind::array: {
      out += '[';
      bool first = true;
      for (const json::value& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_json(out, e);
      }
      out += ']';
      return;
    }
    case json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, kv.key());
        out += ':';
        append_json(out, kv.value());
      }
      out += '}';
      return;
    }
  }
}

void append_uint(std::string& out, std::uint64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

void append_int(std::string& out, std::int64_t n) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, r.ptr);
}

void append_double(std::string& out, double d) {
  // std::to_chars gives the shortest round-trip text ("0.7", "1"), where Boost.JSON's serializer
  // writes "7E-1" and "1E0".
  if (!std::isfinite(d)) {
    out += '0';
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

std::optional<std::uint64_t> json_count(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64()) {
    if (v->get_int64() < 0) return std::nullopt;
    return static_cast<std::uint64_t>(v->get_int64());
  }
  if (v->is_double()) {
    const double d = v->get_double();
    if (!(d >= 0)) return std::nullopt;
    constexpr double kMax = static_cast<double>(std::numeric_limits<std::uint64_t>::max());
    return d >= kMax ? std::numeric_limits<std::uint64_t>::max() : static_cast<std::uint64_t>(d);
  }
  return std::nullopt;
}

}  // namespace sluice::api
