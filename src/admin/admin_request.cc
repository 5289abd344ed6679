#include "admin/admin_request.h"

#include <boost/json/parse.hpp>

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

}  // namespace sluice::admin
