// The one error type of the request path, and Result<T> built on boost::system::result.
//
// An Error says what went wrong in terms a client can act on (its Errc picks the HTTP status and
// the OpenAI error type in api/errors.h); it carries no HTTP detail itself, so every layer can
// produce one. Values only; no thread-safety concerns.
#pragma once

#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace sluice::core {

enum class Errc {
  kInvalidRequest,       // 400: the client's request is malformed (JSON, fields, framing)
  kUnauthorized,         // 401: no key, or a wrong, revoked or expired one
  kPermissionDenied,     // 403: the caller may not do this (admin API from a remote address)
  kNotFound,             // 404: unknown path or object
  kModelNotFound,        // 404: missing or unknown model
  kObjectNotFound,       // 404: no such file or batch (or not the caller's); OpenAI's code null
  kMethodNotAllowed,     // 405
  kRequestTimeout,       // 408: the client was too slow sending its request
  kConflict,             // 409: clashes with work in progress (a CPU profile already running)
  kPayloadTooLarge,      // 413
  kHeadersTooLarge,      // 431
  kUpstreamUnreachable,  // 502: could not connect, TLS failed, connection reset before answer
  kUpstreamProtocol,     // 502: upstream answered something that is not valid HTTP / SSE / JSON
  kUpstreamTooLarge,     // 502: the upstream's whole answer exceeded limits.max_response_bytes
  kUpstreamTimeout,      // 504: connect, first-byte, idle or total deadline passed
  kUpstreamError,        // upstream answered with an error status (status in Error::status)
  kRateLimited,          // 429: too many requests now; Retry-After says when to come back
  kInsufficientQuota,    // 429: the key's budget is spent until its period rolls over
  kServiceUnavailable,   // 503: the gateway is shutting down or out of capacity
  kInternal,             // 500: a bug; never expected
  kCancelled,            // the client went away; nothing is sent
};

struct Error {
  Errc code = Errc::kInternal;
  std::string message;
  std::string param;  // the request field at fault, if any
  int status = 0;     // HTTP status for kUpstreamError; 0 means "derive from code"

  Error() = default;
  Error(Errc c, std::string msg, std::string p = {})
      : code(c), message(std::move(msg)), param(std::move(p)) {}
};

// Lets boost::system::result<T, Error>::value() throw; the request path never calls value()
// without checking, so this only fires on a programming error.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

template <class T>
using Result = boost::system::result<T, Error>;

inline boost::system::result<void, Error> ok() { return {}; }

// Builds a failed Result of any T, so `return fail(Errc::kX, "...")` reads naturally.
inline Error fail(Errc code, std::string message, std::string param = {}) {
  return Error(code, std::move(message), std::move(param));
}

std::string_view errc_name(Errc code);

}  // namespace sluice::core
