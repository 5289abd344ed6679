// Small helpers the gateway's handlers share for answering.
//
// Thread safety: run on the request's worker.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <span>

#include "core/asio.h"
#include "core/error.h"
#include "gateway/request_context.h"
#include "http/response_head.h"

namespace sluice::http {
class ServerSession;
}

namespace sluice::gateway {

// 405 for the request's method on its path (the caller adds the `allow` header).
core::Error wrong_method(const http::ServerSession& session);

// Answers with `error` in OpenAI's shape and notes it for the access log.
asio::awaitable<void> respond_error(RequestContext& ctx, const core::Error& error,
                                    std::span<const http::Header> extra = {});

}  // namespace sluice::gateway
