// The state of one request as it moves through the gateway: what was asked, where it went, what
// came back and how long each part took. Stages fill it in; the access log and the metrics read
// it at the end.
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
#include "api/usage.h"
#include "core/asio.h"
#include "core/error.h"
#include "gateway/admission.h"

namespace sluice::http {
class ServerSession;
}
namespace sluice::config {
struct Deployment;
}
namespace sluice::route {
struct ModelRoute;
}

namespace sluice::gateway {

class Runtime;
struct Tenant;
struct TenantSnapshot;
struct WorkerRoutes;
struct WorkerState;

struct RequestContext {
  RequestContext(http::ServerSession& s, std::shared_ptr<WorkerRoutes> r, WorkerState& w);

  http::ServerSession& session;
  // The snapshot this request started with, and this worker's pools and balancers for it: a
  // reload while the request is in flight changes neither.
  std::shared_ptr<WorkerRoutes> routes;
  const Runtime* runtime;  // routes->runtime, kept alive by `routes`
  WorkerState& worker;

  std::optional<api::Endpoint> endpoint;
  // The OpenAI request the pipeline serves: the client's body, or, for an API served in another
  // shape (/v1/messages), its translation, which `translated_body` holds.
  std::string_view body;
  std::string translated_body;
  api::InferenceRequest request;
  // The body as sent upstream when the gateway changed it (asking a stream for its usage).
  std::string upstream_body;
  bool strip_usage = false;  // drop the usage chunk the client did not ask for

  // Stage 3: the caller's key (null when auth is off), and the snapshot that keeps it alive.
  const Tenant* tenant = nullptr;
  std::shared_ptr<const TenantSnapshot> tenants;
  // Stage 5, settled in stage 12.
  Admission admission;

  std::string_view model;                    // as the client asked
  std::string_view provider;                 // the deployment that answered
  std::string_view deployment;               // its id ("provider/model"), for x-sluice-deployment
  std::uint32_t deployment_name_id = 0;      // route::name_id(deployment)
  const route::ModelRoute* route = nullptr;  // the model the client asked for
  const config::Deployment* deployment_config = nullptr;  // the deployment that answered
  int upstream_status = 0;  // the answering upstream's status; 0 when none answered
  // The routing stage's span (balance, attempts, retries, the answer's streaming), for metrics.
  std::chrono::steady_clock::time_point upstream_started{}, upstream_finished{};
  // Where the rest of the time went (sluice_stage_seconds_total): when authentication (only when
  // keys are on), admission and the cache lookup ended, unset when the request never got there;
  // and how long it waited in its model's admission queue, inside the routing stage's span.
  std::chrono::steady_clock::time_point authenticated_at{}, admitted_at{}, looked_up_at{};
  std::chrono::steady_clock::duration queued{};
  std::optional<api::Usage> usage;  // as the answer (or the cached or joined one) reported it
  bool count_usage = false;  // someone reads `usage`: the ledger, a token limit, the access log
  double cost_usd = 0, saved_usd = 0;  // stage 12: what the call cost, or what a hit saved
  std::string upstream_model;
  int attempts = 0;        // upstream attempts made, retries and hedges included
  bool fell_back = false;  // the last attempt went to a fallback model, not the one asked for
  bool stream = false;
  // x-sluice-cache: "hit", "miss", "bypass" or "coalesced"; empty when the cache took no part.
  std::string_view cache_result;

  int status = 0;     // as sent to the client
  std::string error;  // our message, for the log, when the request failed
  bool stream_failed = false;
  std::chrono::steady_clock::time_point upstream_first_byte{};
};

}  // namespace sluice::gateway
