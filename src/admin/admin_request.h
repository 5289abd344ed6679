// What the admin routes read from a request: a JSON object body, a query parameter.
//
// Thread safety: pure functions.
#pragma once

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace sluice::admin {

// The body as a JSON object; kInvalidRequest when it is not JSON or not an object.
core::Result<boost::json::value> parse_json_object(std::string_view body);

// The value of query parameter `name` in a request target ("/path?a=1&b=2"), percent-decoded;
// nullopt when it is absent or the target does not parse.
std::optional<std::string> query_param(std::string_view target, std::string_view name);

}  // namespace sluice::admin
