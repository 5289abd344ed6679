#include "core/error.h"

#include <stdexcept>
#include <string>

namespace sluice::core {

void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw std::runtime_error(std::string(errc_name(e.code)) + ": " + e.message);
}

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::kInvalidRequest:
      return "invalid_request";
    case Errc::kUnauthorized:
      return "unauthorized";
    case Errc::kPermissionDenied:
      return "permission_denied";
    case Errc::kNotFound:
      return "not_found";
    case Errc::kModelNotFound:
      return "model_not_found";
    case Errc::kObjectNotFound:
      return "object_not_found";
    case Errc::kMethodNotAllowed:
      return "method_not_allowed";
    case Errc::kRequestTimeout:
      return "request_timeout";
    case Errc::kPayloadTooLarge:
      return "payload_too_large";
    case Errc::kConflict:
      return "conflict";
    case Errc::kHeadersTooLarge:
      return "headers_too_large";
    case Errc::kUpstreamUnreachable:
      return "upstream_unreachable";
    case Errc::kUpstreamProtocol:
      return "upstream_protocol_error";
    case Errc::kUpstreamTooLarge:
      return "upstream_response_too_large";
    case Errc::kUpstreamTimeout:
      return "upstream_timeout";
    case Errc::kUpstreamError:
      return "upstream_error";
    case Errc::kServiceUnavailable:
      return "service_unavailable";
    case Errc::kRateLimited:
      return "rate_limited";
    case Errc::kInsufficientQuota:
      return "insufficient_quota";
    case Errc::kInternal:
      return "internal_error";
    case Errc::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

}  // namespace sluice::core
