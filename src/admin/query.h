// Reading the admin routes' query parameters.
//
// Thread safety: pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sluice::admin {

// The value of query parameter `name` in a request target ("/path?a=1&b=2"), percent-decoded;
// nullopt when it is absent or the target does not parse.
std::optional<std::string> query_param(std::string_view target, std::string_view name);

}  // namespace sluice::admin
