// What the admin routes read from a request: a JSON object body, a query parameter.
//
// Thread safety: pure functions.
#pragma once

#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "http/message.h"

namespace sluice::admin {

// The body as a JSON object; kInvalidRequest when it is not JSON or not an object.
core::Result<boost::json::value> parse_json_object(std::string_view body);

using http::query_param;

}  // namespace sluice::admin
