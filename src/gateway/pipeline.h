// The life of an inference request, stage by stage, in the order DESIGN.md gives ("Life of a
// request"). Parsing and routing (stages 1 and 2) happened in the session and the Gateway; this
// file runs the rest. Stages that later issues add are marked where they go.
//
// Thread safety: runs on the request's worker.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "core/asio.h"
#include "gateway/request_context.h"

namespace sluice::gateway {

asio::awaitable<void> run_inference(RequestContext& ctx);

}  // namespace sluice::gateway
