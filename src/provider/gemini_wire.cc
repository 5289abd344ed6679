#include "provider/gemini_wire.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

namespace sluice::provider::gemini::wire {

namespace {

// Bytes that JSON requires escaped: '"', '\\' and the controls below 0x20.
constexpr bool needs_escape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }

void append_double(std::string& out, double d) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  if (ec != std::errc() || !std::isfinite(d)) {
    out += '0';  // a parsed JSON number is always finite; this only keeps the output valid
    return;
  }
  out.append(buf, end);
}

// Whether any of the 8 bytes in `w` needs escaping: one below 0x20, a '"' or a '\\' (the
// "has less than" and "has zero byte" word tricks; exact, no false positives).
constexpr bool word_needs_escape(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  constexpr std::uint64_t kHigh = 0x8080808080808080ull;
  std::uint64_t below = (w - kOnes * 0x20) & ~w;
  std::uint64_t quote = w ^ (kOnes * '"');
  std::uint64_t slash = w ^ (kOnes * '\\');
  quote = (quote - kOnes) & ~quote;
  slash = (slash - kOnes) & ~slash;
  return ((below | quote | slash) & kHigh) != 0;
}

void append_escape(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
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
    default: {
      char u[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
      out.append(u, sizeof u);
    }
  }
}

}  // namespace

void append_quoted(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out += '"';
  const char* p = s.data();
  const char* end = p + s.size();
  const char* run = p;  // start of the bytes not yet copied
  while (p < end) {
    // Text is mostly plain: skip it a word at a time.
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, sizeof w);
      if (word_needs_escape(w)) break;
      p += 8;
    }
    if (p == end) break;
    auto c = static_cast<unsigned char>(*p);
    if (needs_escape(c)) {
      out.append(run, static_cast<std::size_t>(p - run));
      append_escape(out, c);
      run = p + 1;
    }
    ++p;
  }
  out.append(run, static_cast<std::size_t>(end - run));
  out += '"';
}

void append_int(std::string& out, std::int64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, end);
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
    case json::kind::uint64: {
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
      out.append(buf, end);
      return;
    }
    case json::kind::double_:
      append_double(out, v.get_double());
      return;
    case json::kind::string:
      append_quoted(out, v.get_string());
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
        append_quoted(out, kv.key());
        out += ':';
        append_json(out, kv.value());
      }
      out += '}';
      return;
    }
  }
}

ArenaParser::ArenaParser()
    : parser_(json::storage_ptr(), json::parse_options(), temp_, sizeof temp_) {}

const json::value* ArenaParser::parse(std::string_view text) {
  value_.reset();  // before the arena frees what it points to
  arena_.release();
  parser_.reset(&arena_);
  boost::system::error_code ec;
  parser_.write(text.data(), text.size(), ec);
  if (ec) return nullptr;
  value_.emplace(parser_.release());  // emplace keeps the arena; assignment would copy
  return &*value_;
}

std::optional<std::uint64_t> count_of(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_uint64()) return v->get_uint64();
  if (v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
  if (v->is_double()) {
    double d = v->get_double();
    if (d >= 0 && d < 1.8e19 && std::floor(d) == d) return static_cast<std::uint64_t>(d);
  }
  return std::nullopt;
}

namespace {

// Google's canonical error codes (google.rpc.Code) as the HTTP statuses their REST APIs send
// with them, except where the gateway's client is better told otherwise (see below).
int status_for(std::string_view code) {
  struct Entry {
    std::string_view code;
    int status;
  };
  static constexpr Entry kTable[] = {
      {"INVALID_ARGUMENT", 400},
      {"FAILED_PRECONDITION", 400},  // e.g. the API is not offered in the caller's region
      {"OUT_OF_RANGE", 400},
      {"UNAUTHENTICATED", 401},
      {"PERMISSION_DENIED", 403},
      {"NOT_FOUND", 404},
      {"ALREADY_EXISTS", 409},
      {"ABORTED", 409},
      {"RESOURCE_EXHAUSTED", 429},
      // Google sends 499 (the client closed the request); the gateway's client did not, so it
      // is told the upstream failed.
      {"CANCELLED", 502},
      {"UNKNOWN", 500},
      {"INTERNAL", 500},
      {"DATA_LOSS", 500},
      {"UNIMPLEMENTED", 501},
      {"UNAVAILABLE", 503},
      {"DEADLINE_EXCEEDED", 504},
  };
  for (const Entry& e : kTable) {
    if (e.code == code) return e.status;
  }
  return 0;
}

// Gemini answers an invalid API key with 400 INVALID_ARGUMENT and an ErrorInfo reason; the
// client is told 401, as an OpenAI-compatible upstream's 401 reaches it, so it is not taken for
// a fault of the client's request (and, like any 401, it is not retried).
bool bad_api_key(const json::object& error) {
  const json::array* details = array_of(member(error, "details"));
  if (details == nullptr) return false;
  for (const json::value& d : *details) {
    const json::object* o = object_of(&d);
    if (o == nullptr) continue;
    std::string_view reason = string_of(member(*o, "reason"));
    if (reason == "API_KEY_INVALID" || reason == "API_KEY_EXPIRED") return true;
  }
  return false;
}

}  // namespace

core::Error gemini_error(const json::object& error, int http_status) {
  int status = status_for(string_of(member(error, "status")));
  if (status == 0) {
    auto code = count_of(member(error, "code"));
    if (code && *code >= 400 && *code <= 599) status = static_cast<int>(*code);
  }
  if (status == 0) status = http_status >= 400 && http_status <= 599 ? http_status : 502;
  if (bad_api_key(error)) status = 401;

  std::string message(string_of(member(error, "message")));
  if (message.empty()) message = "Gemini returned HTTP " + std::to_string(status);
  core::Error e(core::Errc::kUpstreamError, std::move(message));
  e.status = status;
  return e;
}

}  // namespace sluice::provider::gemini::wire
