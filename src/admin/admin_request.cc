#include "admin/admin_request.h"

#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>

namespace sluice::admin {

core::Result<boost::json::value> parse_json_object(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec) {
    return core::fail(core::Errc::kInvalidRequest,
                      "We could not parse the JSON body of your request: " + ec.message() + ".");
  }
  if (!v.is_object()) {
    return core::fail(core::Errc::kInvalidRequest, "The request body must be a JSON object.");
  }
  return v;
}

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return std::nullopt;
  auto params = url->params();
  auto it = params.find(name);
  if (it == params.end()) return std::nullopt;
  return std::string((*it).value);
}

}  // namespace sluice::admin
