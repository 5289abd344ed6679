// The one place where user-facing errors get their OpenAI shape:
//   {"error":{"message":"...","type":"...","param":null,"code":"..."}}
// with the matching HTTP status (DESIGN.md, "Conventions"). Also turns upstream error bodies,
// whatever their shape, into that shape.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace boost::json {
class value;
}

namespace sluice::api {

int http_status(const core::Error& e);

// OpenAI's `type` for the error: invalid_request_error, authentication_error, ...
std::string_view error_type(const core::Error& e);

// The `code` member, or empty for null.
std::string_view error_code(const core::Error& e);

// The JSON body for `e`.
std::string error_body(const core::Error& e);

// An SSE event carrying `e`, for failures after a stream has started: "data: {...}\n\n".
std::string error_event(const core::Error& e);

// Rewrites an upstream error response body into OpenAI's shape. A body that already has an
// "error" object keeps its fields (missing ones are added as null); an old-style
// {"message": ...} or {"detail": ...} body is wrapped; anything else becomes a message that
// quotes the start of the body.
std::string normalize_upstream_error(int status, std::string_view body);

// A JSON value's type as OpenAI's messages word it: "a string", "an integer", "a decimal",
// "an array", "an object", "a boolean", "null".
std::string_view json_type_name(const boost::json::value& v);

}  // namespace sluice::api
