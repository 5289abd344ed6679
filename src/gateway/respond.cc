#include "gateway/respond.h"

#include "http/server_session.h"

namespace sluice::gateway {

asio::awaitable<void> respond_error(RequestContext& ctx, const core::Error& error,
                                    std::span<const http::Header> extra) {
  ctx.error = error.message;
  co_await ctx.session.respond_error(error, extra);
}

}  // namespace sluice::gateway
