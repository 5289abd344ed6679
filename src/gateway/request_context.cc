#include "gateway/request_context.h"

#include "gateway/worker_state.h"
#include "http/server_session.h"

namespace sluice::gateway {

RequestContext::RequestContext(http::ServerSession& s, std::shared_ptr<WorkerRoutes> r,
                               WorkerState& w)
    : session(s),
      routes(std::move(r)),
      runtime(routes->runtime.get()),
      worker(w),
      body(s.request().body()) {}

}  // namespace sluice::gateway
