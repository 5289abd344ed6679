#include "gateway/admit_stage.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "core/utc.h"
#include "gateway/respond.h"
#include "gateway/runtime.h"
#include "gateway/tenants.h"
#include "gateway/token_estimate.h"
#include "gateway/worker_state.h"
#include "http/server_session.h"
#include "limit/rate_headers.h"
#include "store/keys.h"

namespace sluice::gateway {

using core::Errc;
using namespace std::chrono_literals;

namespace {

// Who a charge belongs to, for messages.
std::string scope_of(const limit::Charge& charge, const RequestContext& ctx) {
  if (charge.key.starts_with("k:")) return "key `" + ctx.tenant->key.name + "`";
  if (charge.key.starts_with("m:")) return "model `" + std::string(ctx.model) + "`";
  return "this gateway";
}

}  // namespace

Admission::~Admission() {
  settle(std::nullopt, false);
  if (in_flight_ != nullptr) in_flight_->fetch_sub(1, std::memory_order_relaxed);
}

void Admission::settle(std::optional<std::uint64_t> used, bool upstream_answered) {
  if (settled_) return;
  settled_ = true;
  if (limiter_ == nullptr || token_charges_.empty()) return;
  if (!used) {
    // Nothing known: an answer that came keeps its reservation; a request that never reached
    // a provider used nothing.
    if (upstream_answered) return;
    used = 0;
  }
  if (*used < reserved_) {
    for (auto& c : token_charges_) c.cost = reserved_ - *used;
    limiter_->release({token_charges_.data(), token_charges_.size()});
  } else if (*used > reserved_) {
    for (auto& c : token_charges_) c.cost = *used - reserved_;
    limiter_->consume({token_charges_.data(), token_charges_.size()});
  }
}

std::uint64_t AdmitStage::estimate_tokens() const {
  const api::InferenceRequest& r = ctx_.request;
  std::uint64_t prompt = prompt_tokens(ctx_);
  if (*ctx_.endpoint == api::Endpoint::kEmbeddings) return prompt;
  std::uint64_t output =
      r.max_tokens != 0 ? r.max_tokens : ctx_.runtime->config().rate_limits.reserve_output_tokens;
  return prompt + output * std::max<std::uint64_t>(1, r.n);
}

asio::awaitable<void> AdmitStage::refuse(const core::Error& error,
                                         std::chrono::milliseconds retry_after) {
  boost::container::small_vector<http::Header, 8> extra(headers_.begin(), headers_.end());
  if (retry_after > 0ms) {
    std::string seconds = std::to_string(
        std::max<std::int64_t>(1, (retry_after.count() + 999) / 1000));  // whole seconds, up
    extra.push_back({"retry-after", keep(seconds)});
  }
  co_await respond_error(ctx_, error, extra);
}

bool AdmitStage::needed() const {
  const config::RateLimit& model = route_.config->limits;
  const config::RateLimit& global = ctx_.runtime->config().rate_limits.global;
  return ctx_.tenant != nullptr || model.rpm != 0 || model.tpm != 0 || global.rpm != 0 ||
         global.tpm != 0;
}

asio::awaitable<bool> AdmitStage::run() {
  const config::Config& config = ctx_.runtime->config();
  Services& services = ctx_.worker.services;
  const Tenant* tenant = ctx_.tenant;
  std::int64_t now_ms = services.clock->unix_ms();

  if (tenant != nullptr) {
    if (!store::model_allowed(tenant->key, ctx_.model)) {
      co_await respond_error(
          ctx_, core::Error(Errc::kPermissionDenied,
                            "The key `" + tenant->key.name + "` may not use the model `" +
                                std::string(ctx_.model) + "`.",
                            "model"));
      co_return false;
    }
    if (auto over = services.budgets->check(tenant->key.id, tenant->budget, now_ms)) {
      std::string message = fmt::format(
          "You exceeded your current quota: the key `{}` has spent its {} budget of "
          "${:g}.",
          tenant->key.name, over->period, over->limit);
      std::chrono::milliseconds wait{0};
      if (over->resets_at_ms != 0) {
        message += " It renews at " + core::utc_time(over->resets_at_ms) + " UTC.";
        wait = std::chrono::milliseconds(over->resets_at_ms - now_ms);
      }
      co_await refuse(core::Error(Errc::kInsufficientQuota, message), wait);
      co_return false;
    }
    if (tenant->key.max_concurrency > 0) {
      std::atomic<int>& in_flight = tenant->live->in_flight;
      if (in_flight.fetch_add(1, std::memory_order_relaxed) >= tenant->key.max_concurrency) {
        in_flight.fetch_sub(1, std::memory_order_relaxed);
        co_await refuse(core::Error(Errc::kRateLimited,
                                    "Too many concurrent requests for key `" + tenant->key.name +
                                        "`: at most " +
                                        std::to_string(tenant->key.max_concurrency) + " at once."),
                        1s);
        co_return false;
      }
      ctx_.admission.in_flight_ = &in_flight;
    }
  }

  // The request charges, then the token charges, each only where a limit is set.
  boost::container::small_vector<limit::Charge, 6> charges;
  const config::RateLimit& model = route_.config->limits;
  const config::RateLimit& global = config.rate_limits.global;
  // The buckets' names and local states live in the tenant and the runtime (the route is the
  // runtime's), which the request keeps alive (ctx_.tenants, ctx_.routes) until it is settled.
  // A bucket that was not resolved (a runtime built without a limiter) goes by its name.
  const RouteBuckets* model_buckets = ctx_.runtime->buckets(route_.index);
  const RouteBuckets& global_buckets = ctx_.runtime->global_buckets();
  auto add = [&](std::uint64_t per_minute, std::string_view key, std::uint64_t cost,
                 limit::GcraBucket* bucket) {
    if (per_minute != 0) {
      charges.push_back(limit::Charge{key, limit::Rate{per_minute, 0}, cost, bucket});
    }
  };
  if (tenant != nullptr) add(tenant->key.rpm, tenant->rpm_key, 1, tenant->rpm_bucket.get());
  add(model.rpm, route_.rpm_bucket, 1, model_buckets ? model_buckets->rpm.get() : nullptr);
  add(global.rpm, kGlobalRpmBucket, 1, global_buckets.rpm.get());
  std::size_t request_charges = charges.size();
  bool tokens_limited =
      (tenant != nullptr && tenant->key.tpm != 0) || model.tpm != 0 || global.tpm != 0;
  std::uint64_t estimate = tokens_limited ? estimate_tokens() : 0;
  if (tenant != nullptr) add(tenant->key.tpm, tenant->tpm_key, estimate, tenant->tpm_bucket.get());
  add(model.tpm, route_.tpm_bucket, estimate, model_buckets ? model_buckets->tpm.get() : nullptr);
  add(global.tpm, kGlobalTpmBucket, estimate, global_buckets.tpm.get());
  if (charges.empty()) co_return true;

  limit::Limiter& limiter = *ctx_.worker.limiter;
  std::span<const limit::Charge> all(charges.data(), charges.size());
  // The local limiter decides without suspending: no coroutine frame on the common path.
  limit::Verdict verdict;
  if (limiter.distributed()) {
    verdict = co_await limiter.acquire(all);
  } else {
    verdict = limiter.acquire_local(all);
  }
  if (verdict.outcome == limit::Verdict::Outcome::kUnavailable) {
    co_await respond_error(
        ctx_, core::Error(Errc::kServiceUnavailable,
                          "Rate limits cannot be checked right now (the limits backend is "
                          "unreachable and limits.failure_mode is closed). Try again shortly."));
    co_return false;
  }
  request_charges_ = request_charges;
  add_headers(all, verdict.decisions);
  if (verdict.outcome == limit::Verdict::Outcome::kRefused) {
    // The refusal that lasts longest says when to come back.
    std::size_t worst = 0;
    for (std::size_t i = 0; i < charges.size(); ++i) {
      if (!verdict.decisions[i].allowed &&
          (verdict.decisions[worst].allowed ||
           verdict.decisions[i].retry_after > verdict.decisions[worst].retry_after)) {
        worst = i;
      }
    }
    const limit::Charge& c = charges[worst];
    const limit::Decision& d = verdict.decisions[worst];
    bool tokens = worst >= request_charges;
    std::string what = tokens ? "tokens per min (TPM)" : "requests per min (RPM)";
    std::string message = "Rate limit reached for " + scope_of(c, ctx_) + " on " + what +
                          ": Limit " + std::to_string(c.rate.per_minute) + ", Requested " +
                          std::to_string(c.cost) + ".";
    if (d.retry_after == std::chrono::milliseconds::max()) {
      message += " The request is larger than the limit allows at once; make it smaller.";
      co_await refuse(core::Error(Errc::kRateLimited, message), 0ms);
    } else {
      message += " Please try again in " + limit::format_reset(d.retry_after) + ".";
      co_await refuse(core::Error(Errc::kRateLimited, message), d.retry_after);
    }
    co_return false;
  }
  if (estimate != 0) {
    ctx_.admission.limiter_ = &limiter;
    ctx_.admission.reserved_ = estimate;
    // With their buckets: settle() reconciles the same local state without a lookup.
    for (std::size_t i = request_charges; i < charges.size(); ++i) {
      ctx_.admission.token_charges_.push_back(charges[i]);
    }
  }
  co_return true;
}

std::string_view AdmitStage::keep(std::string_view value) {
  std::size_t n = std::min(value.size(), text_.size() - text_used_);  // never short: see text_
  char* at = text_.data() + text_used_;
  std::copy_n(value.data(), n, at);
  text_used_ += n;
  return {at, n};
}

void AdmitStage::add_headers(std::span<const limit::Charge> charges,
                             std::span<const limit::Decision> decisions) {
  limit::RateHeaders h = limit::rate_headers(charges, decisions, request_charges_);
  // Written straight into text_, which has room for all six (admit_stage.h).
  auto number = [&](std::string_view name, std::int64_t v) {
    char* at = text_.data() + text_used_;
    char* end = std::to_chars(at, text_.data() + text_.size(), v).ptr;
    text_used_ = static_cast<std::size_t>(end - text_.data());
    headers_.push_back({name, {at, end}});
  };
  auto reset = [&](std::string_view name, std::chrono::milliseconds d) {
    char* at = text_.data() + text_used_;
    char* end = limit::format_reset(d, at);
    text_used_ = static_cast<std::size_t>(end - text_.data());
    headers_.push_back({name, {at, end}});
  };
  if (h.requests) {
    number("x-ratelimit-limit-requests", static_cast<std::int64_t>(h.requests->limit));
    number("x-ratelimit-remaining-requests", h.requests->remaining);
    reset("x-ratelimit-reset-requests", h.requests->reset);
  }
  if (h.tokens) {
    number("x-ratelimit-limit-tokens", static_cast<std::int64_t>(h.tokens->limit));
    number("x-ratelimit-remaining-tokens", h.tokens->remaining);
    reset("x-ratelimit-reset-tokens", h.tokens->reset);
  }
}

}  // namespace sluice::gateway
