#include "gateway/auth_stage.h"

#include <openssl/crypto.h>

#include "core/strings.h"
#include "gateway/respond.h"
#include "gateway/runtime.h"
#include "gateway/worker_state.h"
#include "http/server_session.h"
#include "store/keys.h"

namespace sluice::gateway {

namespace bhttp = beast::http;
using core::Errc;

std::string_view presented_key(const RequestContext& ctx) {
  const http::Fields& fields = ctx.session.request().fields();
  if (std::string_view value = fields.get(bhttp::field::authorization); !value.empty()) {
    constexpr std::string_view kBearer = "Bearer ";
    if (value.size() > kBearer.size() && core::iequals(value.substr(0, 7), kBearer)) {
      value.remove_prefix(kBearer.size());
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
      return value;
    }
    return {};
  }
  return fields.get("x-api-key");
}

namespace {

// A request the server's batch executor sent for a batch's owner: the process's batch secret and
// the owner's key id. Anything less is refused, so the headers give nothing to anyone else.
asio::awaitable<bool> authenticate_batch(RequestContext& ctx, std::string_view owner,
                                         std::string_view secret) {
  WorkerState& worker = ctx.worker;
  if (owner.empty() || !admin_key_matches(secret, worker.services.batch_secret)) {
    co_await respond_error(
        ctx, core::Error(Errc::kUnauthorized,
                         "The x-sluice-batch-owner and x-sluice-batch-secret headers are reserved "
                         "for the gateway's own batch jobs."));
    co_return false;
  }
  ctx.tenants = worker.tenants->current();
  auto found = worker.tenants->find_id(owner, worker.services.clock->unix_ms());
  switch (found.status) {
    case TenantDirectory::Found::Status::kOk:
      ctx.tenant = found.tenant;
      co_return true;
    case TenantDirectory::Found::Status::kExpired:
      co_await respond_error(
          ctx, core::Error(Errc::kUnauthorized, "The API key that owns this batch has expired."));
      co_return false;
    case TenantDirectory::Found::Status::kUnknown:
      break;
  }
  co_await respond_error(
      ctx, core::Error(Errc::kUnauthorized, "The API key that owns this batch was revoked."));
  co_return false;
}

}  // namespace

asio::awaitable<bool> authenticate(RequestContext& ctx) {
  WorkerState& worker = ctx.worker;
  const http::Fields& fields = ctx.session.request().fields();
  // One lookup on every request; a secret alone claims nothing, so it is read only after.
  std::string_view batch_owner = fields.get("x-sluice-batch-owner");
  if (!batch_owner.empty()) [[unlikely]] {
    co_return co_await authenticate_batch(ctx, batch_owner, fields.get("x-sluice-batch-secret"));
  }
  std::string_view key = presented_key(ctx);
  if (key.empty()) {
    co_await respond_error(
        ctx, core::Error(Errc::kUnauthorized,
                         "You didn't provide an API key. You need to provide your API key in an "
                         "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                         "YOUR_KEY)."));
    co_return false;
  }
  ctx.tenants = worker.tenants->current();
  auto found = worker.tenants->find(key, worker.services.clock->unix_ms());
  switch (found.status) {
    case TenantDirectory::Found::Status::kOk:
      ctx.tenant = found.tenant;
      co_return true;
    case TenantDirectory::Found::Status::kExpired:
      co_await respond_error(ctx, core::Error(Errc::kUnauthorized, "This API key has expired."));
      co_return false;
    case TenantDirectory::Found::Status::kUnknown:
      break;
  }
  co_await respond_error(
      ctx, core::Error(Errc::kUnauthorized,
                       store::well_formed_secret(key)
                           ? "Incorrect API key provided. The key is unknown or was revoked."
                           : "Incorrect API key provided. Sluice keys look like sk-sluice-...."));
  co_return false;
}

bool admin_key_matches(std::string_view presented, std::string_view configured) {
  if (configured.empty() || presented.empty()) return false;
  std::string a = store::secret_hash(presented);
  std::string b = store::secret_hash(configured);
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace sluice::gateway
