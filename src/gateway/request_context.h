// The state of one request as it moves through the gateway: what was asked, where it went, what
// came back and how long each part took. Stages fill it in; the access log and (later) metrics
// read it at the end.
//
// Thread safety: lives on one worker, inside the request's coroutine.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/endpoint.h"
#include "api/inference_request.h"
#include "core/asio.h"
#include "core/error.h"

namespace sluice::http {
class ServerSession;
}

namespace sluice::gateway {

class Runtime;
struct WorkerState;

struct RequestContext {
  RequestContext(http::ServerSession& s, std::shared_ptr<const Runtime> rt, WorkerState& w)
      : session(s), runtime(std::move(rt)), worker(w) {}

  http::ServerSession& session;
  std::shared_ptr<const Runtime> runtime;  // the snapshot this request started with
  WorkerState& worker;

  std::optional<api::Endpoint> endpoint;
  api::InferenceRequest request;

  std::string_view model;       // as the client asked
  std::string_view provider;    // the deployment that answered
  std::string_view deployment;  // its id ("provider/model"), for x-sluice-deployment
  std::string upstream_model;
  int attempts = 0;  // upstream attempts made, retries and hedges included
  bool stream = false;
  // x-sluice-cache: "hit", "miss", "bypass" or "coalesced"; empty when the cache took no part.
  std::string_view cache_result;

  int status = 0;     // as sent to the client
  std::string error;  // our message, for the log, when the request failed
  bool stream_failed = false;
  std::chrono::steady_clock::time_point upstream_first_byte{};
};

}  // namespace sluice::gateway
