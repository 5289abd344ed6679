#include "gateway/respond.h"

#include "http/server_session.h"

namespace sluice::gateway {

core::Error wrong_method(const http::ServerSession& session) {
  return core::Error(core::Errc::kMethodNotAllowed,
                     "Invalid method for URL (" + std::string(session.request().method_string()) +
                         " " + std::string(session.path()) + ").");
}

asio::awaitable<void> respond_error(RequestContext& ctx, const core::Error& error,
                                    std::span<const http::Header> extra) {
  ctx.error = error.message;
  co_await ctx.session.respond_error(error, extra);
}

}  // namespace sluice::gateway
