#include "provider/gemini_wire.h"

#include <cmath>

namespace sluice::provider::gemini::wire {

core::Result<const json::object*> RequestBody::parse(std::string_view body) {
  boost::system::error_code ec;
  // emplace keeps the arena; assignment would copy the document onto the heap
  doc_.emplace(json::parse(body, ec, &arena_, api::json_parse_options()));
  if (ec) {
    return core::fail(core::Errc::kInvalidRequest,
                      "The request body is not valid JSON: " + ec.message() + ".");
  }
  const json::object* o = object_of(&*doc_);
  if (o == nullptr) {
    return core::fail(core::Errc::kInvalidRequest, "The request body must be a JSON object.");
  }
  return o;
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
