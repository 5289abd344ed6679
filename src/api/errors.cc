#include "api/errors.h"

#include <boost/json.hpp>

#include "core/asio.h"

namespace sluice::api {

using core::Errc;

int http_status(const core::Error& e) {
  switch (e.code) {
    case Errc::kInvalidRequest:
      return 400;
    case Errc::kUnauthorized:
      return 401;
    case Errc::kPermissionDenied:
      return 403;
    case Errc::kNotFound:
      return 404;
    case Errc::kModelNotFound:
    case Errc::kObjectNotFound:
      return 404;
    case Errc::kMethodNotAllowed:
      return 405;
    case Errc::kRequestTimeout:
      return 408;
    case Errc::kConflict:
      return 409;
    case Errc::kPayloadTooLarge:
      return 413;
    case Errc::kHeadersTooLarge:
      return 431;
    case Errc::kUpstreamUnreachable:
      return 502;
    case Errc::kUpstreamProtocol:
    case Errc::kUpstreamTooLarge:
      return 502;
    case Errc::kUpstreamTimeout:
      return 504;
    case Errc::kUpstreamError:
      return e.status >= 400 && e.status <= 599 ? e.status : 502;
    case Errc::kRateLimited:
    case Errc::kInsufficientQuota:
      return 429;
    case Errc::kServiceUnavailable:
      return 503;
    case Errc::kInternal:
      return 500;
    case Errc::kCancelled:
      return 499;
  }
  return 500;
}

std::string_view error_type(const core::Error& e) {
  switch (e.code) {
    case Errc::kUpstreamUnreachable:
    case Errc::kUpstreamProtocol:
    case Errc::kUpstreamTooLarge:
    case Errc::kUpstreamTimeout:
      return "upstream_error";
    case Errc::kServiceUnavailable:
    case Errc::kInternal:
    case Errc::kCancelled:
      return "server_error";
    case Errc::kUnauthorized:
      return "authentication_error";
    case Errc::kPermissionDenied:
      return "permission_error";
    case Errc::kRateLimited:
      return "rate_limit_error";
    case Errc::kInsufficientQuota:
      return "insufficient_quota";
    case Errc::kUpstreamError: {
      int s = http_status(e);
      if (s == 401) return "authentication_error";
      if (s == 403) return "permission_error";
      if (s == 429) return "rate_limit_error";
      if (s >= 500) return "server_error";
      return "invalid_request_error";
    }
    default:
      return "invalid_request_error";
  }
}

std::string_view error_code(const core::Error& e) {
  switch (e.code) {
    case Errc::kInvalidRequest:
      return "";
    case Errc::kUnauthorized:
      return "invalid_api_key";
    case Errc::kPermissionDenied:
      return "permission_denied";
    case Errc::kNotFound:
      return "unknown_url";
    case Errc::kModelNotFound:
      return "model_not_found";
    case Errc::kObjectNotFound:
      return "";
    case Errc::kMethodNotAllowed:
      return "method_not_allowed";
    case Errc::kRequestTimeout:
      return "request_timeout";
    case Errc::kConflict:
      return "conflict";
    case Errc::kPayloadTooLarge:
      return "request_too_large";
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
    case Errc::kRateLimited:
      return "rate_limit_exceeded";
    case Errc::kInsufficientQuota:
      return "insufficient_quota";
    case Errc::kServiceUnavailable:
      return "service_unavailable";
    case Errc::kInternal:
      return "internal_error";
    case Errc::kCancelled:
      return "client_closed_request";
  }
  return "";
}

namespace {

json::object error_object(std::string_view message, std::string_view type, std::string_view param,
                          std::string_view code) {
  json::object inner;
  inner["message"] = message;
  inner["type"] = type;
  inner["param"] = param.empty() ? json::value(nullptr) : json::value(param);
  inner["code"] = code.empty() ? json::value(nullptr) : json::value(code);
  json::object outer;
  outer["error"] = std::move(inner);
  return outer;
}

}  // namespace

std::string error_body(const core::Error& e) {
  return json::serialize(error_object(e.message, error_type(e), e.param, error_code(e)));
}

std::string error_event(const core::Error& e) {
  std::string out = "data: ";
  out += error_body(e);
  out += "\n\n";
  return out;
}

std::string normalize_upstream_error(int status, std::string_view body) {
  core::Error as_error(Errc::kUpstreamError, "");
  as_error.status = status;
  std::string_view type = error_type(as_error);

  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) {
    auto& obj = v.as_object();
    if (auto* err = obj.if_contains("error"); err && err->is_object()) {
      auto& inner = err->as_object();
      bool complete = inner.contains("message") && inner.contains("type") &&
                      inner.contains("param") && inner.contains("code");
      if (complete && obj.size() == 1) return std::string(body);
      if (!inner.contains("message"))
        inner["message"] = "upstream returned HTTP " + std::to_string(status);
      if (!inner.contains("type")) inner["type"] = type;
      if (!inner.contains("param")) inner["param"] = nullptr;
      if (!inner.contains("code")) inner["code"] = nullptr;
      json::object outer;
      outer["error"] = std::move(inner);
      return json::serialize(outer);
    }
    if (auto* err = obj.if_contains("error"); err && err->is_string()) {
      return json::serialize(error_object(err->as_string(), type, "", ""));
    }
    for (const char* key : {"message", "detail"}) {
      if (auto* m = obj.if_contains(key); m && m->is_string()) {
        return json::serialize(error_object(m->as_string(), type, "", ""));
      }
    }
  }
  std::string message = "upstream returned HTTP " + std::to_string(status);
  if (!body.empty()) {
    constexpr size_t kQuote = 200;
    message += ": ";
    message.append(body.substr(0, kQuote));
    if (body.size() > kQuote) message += "...";
  }
  return json::serialize(error_object(message, type, "", ""));
}

std::string_view json_type_name(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "a boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "an integer";
    case json::kind::double_:
      return "a decimal";
    case json::kind::string:
      return "a string";
    case json::kind::array:
      return "an array";
    case json::kind::object:
      return "an object";
  }
  return "a value";
}

}  // namespace sluice::api
