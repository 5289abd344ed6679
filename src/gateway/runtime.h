// Everything built from one configuration snapshot that the workers share: the providers, the
// model registry, pre-rendered answers (the model list), and the local limiter's buckets for the
// models' and the global rate limits, resolved once so the admit stage charges them without a
// lookup. Immutable; a reload builds a new Runtime and in-flight requests keep the one they
// started with (DESIGN.md, "Process model"). The buckets are found by name, so a new snapshot
// holds the same ones as the old: a reload resets no limit.
//
// Thread safety: immutable after build(); shared by all workers through shared_ptr<const>. The
// buckets it points to change with every charge; their operations are lock-free and safe from any
// worker (limit/gcra.h).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "limit/gcra.h"
#include "provider/provider.h"
#include "route/model_registry.h"

namespace sluice::http {
struct UpstreamOrigin;
}

namespace sluice::gateway {

// The limiter's names for rate_limits.global's buckets (a model's are on its route).
inline constexpr std::string_view kGlobalRpmBucket = "g:r";
inline constexpr std::string_view kGlobalTpmBucket = "g:t";

// The local buckets of one set of rate limits (a model's, or the global ones): null where that
// limit is not set.
struct RouteBuckets {
  std::shared_ptr<limit::GcraBucket> rpm;
  std::shared_ptr<limit::GcraBucket> tpm;
};

class Runtime {
 public:
  // Throws std::runtime_error when a provider cannot be set up (e.g. an unreadable CA file).
  // `limiter`, when given, is the local limiter whose buckets this snapshot holds (without it,
  // buckets() is null and the limits go by name).
  // `previous`, on a reload, is the snapshot being replaced: the models it shares unchanged keep
  // their routing state (route::ModelRegistry).
  static std::shared_ptr<const Runtime> build(std::shared_ptr<const config::Config> config,
                                              limit::GcraLimiter* limiter = nullptr,
                                              const Runtime* previous = nullptr);

  const config::Config& config() const { return *config_; }
  const std::shared_ptr<const config::Config>& config_ptr() const { return config_; }
  const route::ModelRegistry& models() const { return *models_; }
  const std::vector<std::unique_ptr<provider::Provider>>& providers() const { return providers_; }
  // Per provider slot: the upstream origin of HTTP providers, null for in-process ones.
  const std::vector<std::shared_ptr<const http::UpstreamOrigin>>& origins() const {
    return origins_;
  }

  // The buckets of models()'s route at `route_index` (route::ModelRoute::index), under its
  // rpm_bucket and tpm_bucket names; null when built without a limiter.
  const RouteBuckets* buckets(std::size_t route_index) const {
    return route_index < route_buckets_.size() ? &route_buckets_[route_index] : nullptr;
  }
  // The buckets of rate_limits.global (kGlobalRpmBucket, kGlobalTpmBucket); both null when built
  // without a limiter.
  const RouteBuckets& global_buckets() const { return global_buckets_; }

  // GET /v1/models
  const std::string& models_body() const { return models_body_; }
  // GET /v1/models/{id}: the body, or empty when no model has that exact name.
  std::string model_body(std::string_view id) const;

 private:
  Runtime() = default;

  std::shared_ptr<const config::Config> config_;
  std::vector<std::unique_ptr<provider::Provider>> providers_;
  std::vector<std::shared_ptr<const http::UpstreamOrigin>> origins_;
  std::unique_ptr<route::ModelRegistry> models_;
  std::vector<RouteBuckets> route_buckets_;  // by route index; empty without a limiter
  RouteBuckets global_buckets_;
  std::string models_body_;
  std::int64_t created_ = 0;
};

}  // namespace sluice::gateway
