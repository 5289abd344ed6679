// What the Gemini translator's files share (gemini_translate.h is the interface; this header is
// theirs alone): JSON written straight into a string, without building a document, and a
// parser whose arena the next document reuses.
//
// Writing: strings are escaped as RFC 8259 asks and nothing more (UTF-8 passes through byte for
// byte, so CJK and emoji come out as they came in); decimals are written in their shortest
// round-trip form (std::to_chars), so 0.7 stays "0.7" and an embedding's values keep their
// digits.
//
// Thread safety: pure functions; an ArenaParser belongs to one caller.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/asio.h"
#include "core/error.h"

namespace sluice::provider::gemini::wire {

// `s` as a JSON string, quotes included.
void append_quoted(std::string& out, std::string_view s);

// Any value, in the forms above.
void append_json(std::string& out, const json::value& v);

void append_int(std::string& out, std::int64_t n);

// `"key":` (the key needs no escaping: callers pass literals).
inline void append_key(std::string& out, std::string_view key) {
  out += '"';
  out += key;
  out += "\":";
}

// Parses one document at a time into an arena that the next parse reuses: a stream's events are
// small and dropped as soon as they are read, so most cost no heap allocation at all.
class ArenaParser {
 public:
  ArenaParser();
  ArenaParser(const ArenaParser&) = delete;
  ArenaParser& operator=(const ArenaParser&) = delete;

  // Null when `text` is not JSON; the value stays valid until the next parse().
  const json::value* parse(std::string_view text);

 private:
  unsigned char temp_[2048];
  unsigned char first_block_[8192];
  json::monotonic_resource arena_{first_block_, sizeof first_block_};
  json::parser parser_;
  std::optional<json::value> value_;
};

// Readers that treat a member of another type as absent.
inline const json::value* member(const json::object& o, std::string_view key) {
  return o.if_contains(key);
}
inline std::string_view string_of(const json::value* v) {
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}
inline const json::object* object_of(const json::value* v) {
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}
inline const json::array* array_of(const json::value* v) {
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}
// A non-negative integer (a count or an index), also when written as 3.0; nullopt otherwise.
std::optional<std::uint64_t> count_of(const json::value* v);

// The client status and OpenAI-shaped error for a Gemini error object
// ({"code": 400, "message": "...", "status": "INVALID_ARGUMENT", "details": [...]}), for a whole
// answer (`http_status` is the answer's) and for an error event in a stream (0).
core::Error gemini_error(const json::object& error, int http_status);

}  // namespace sluice::provider::gemini::wire
