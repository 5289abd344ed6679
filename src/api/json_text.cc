#include "api/json_text.h"

#include <charconv>
#include <limits>

namespace sluice::api {

namespace {

constexpr std::size_t kMaxDepth = 128;

json::parse_options parse_options() {
  json::parse_options o;
  o.max_depth = kMaxDepth;
  return o;
}

}  // namespace

JsonArenaParser::JsonArenaParser()
    : parser_(json::storage_ptr(), parse_options(), temp_, sizeof temp_) {}

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

void append_json_chars(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
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
  out.append(s.data() + run, s.size() - run);
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
    case json::kind::int64: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.get_int64());
      out.append(buf, r.ptr);
      return;
    }
    case json::kind::uint64:
      append_uint(out, v.get_uint64());
      return;
    case json::kind::double_: {
      // The shortest text that reads back as the same double ("0.7", "1"), where Boost.JSON's
      // serializer writes "7E-1" and "1E0".
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, v.get_double());
      out.append(buf, r.ptr);
      return;
    }
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
