// What the Gemini translator's files share (gemini_translate.h is the interface; this header is
// theirs alone): reading the client's request body and Gemini's JSON, and Gemini's errors. They
// parse with api::JsonArenaParser and write with api/json_text.h's writers (UTF-8 passes through
// byte for byte; decimals keep their shortest round-trip form, so 0.7 stays "0.7" and an
// embedding's values keep their digits).
//
// Thread safety: pure functions; a RequestBody belongs to one caller.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/json_text.h"
#include "core/asio.h"
#include "core/error.h"

namespace sluice::provider::gemini::wire {

// `"key":` (the key needs no escaping: callers pass literals).
inline void append_key(std::string& out, std::string_view key) {
  out += '"';
  out += key;
  out += "\":";
}

// The client's OpenAI body, parsed on the stack: a chat request with a few tools takes more
// than api::JsonArenaParser's 4 KiB first block, and a heap block for each costs some 3% of the
// translation. It reads as deep as api::JsonArenaParser does.
class RequestBody {
 public:
  RequestBody() = default;
  RequestBody(const RequestBody&) = delete;
  RequestBody& operator=(const RequestBody&) = delete;

  // The body as a JSON object, valid while this lives; the client's 400 when it is not JSON or
  // not an object.
  core::Result<const json::object*> parse(std::string_view body);

 private:
  unsigned char first_block_[8192];
  json::monotonic_resource arena_{first_block_, sizeof first_block_};
  std::optional<json::value> doc_;
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
