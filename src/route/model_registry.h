// The model names clients may send, the deployments behind each, and the routing state kept
// per model and per deployment (DESIGN.md, "Life of a request", step 8). Exact names are found
// by hash; patterns ("gpt-*", "*") are tried longest first.
//
// The registry's shape is fixed by the configuration; the state it points to (each
// deployment's load, each model's health, retry budget, queue and latencies) changes with
// traffic and is shared by every worker (docs/routing.md), and by the next snapshot's registry
// for the models a reload left as they were.
//
// Thread safety: the registry is immutable after construction and shared by all workers; the
// state objects it owns are each safe to use from any worker.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "http/upstream.h"
#include "provider/provider.h"
#include "route/adaptive_limit.h"
#include "route/admission_queue.h"
#include "route/balancer.h"
#include "route/health.h"
#include "route/latency_window.h"
#include "route/load_stats.h"
#include "route/retry_policy.h"

namespace sluice::route {

// A number for `name` that stays the same for the process's life, from 1 up: per-worker tables
// keyed by small numbers (the metrics' series) name models and deployments by it, so a reload
// that reorders or renumbers them cannot make a number mean another name. Takes a mutex: call it
// when building a registry, not per request.
std::uint32_t name_id(std::string_view name);

struct Deployment {
  const provider::Provider* provider = nullptr;
  std::string model;  // the name sent upstream; empty means the name the client sent
  // "provider/model", with "#2", "#3"... for repeats: stable across restarts and reorderings,
  // shown in x-sluice-deployment and /admin/deployments.
  std::string id;
  std::uint32_t name_id = 0;  // route::name_id(id)
  const config::Deployment* config = nullptr;
  http::UpstreamTimeouts timeouts;  // the provider's, with the model's overrides
  std::shared_ptr<DeploymentLoad> load;
  std::shared_ptr<AdaptiveLimit> adaptive;  // null unless adaptive_concurrency is on

  // The concurrency cap now: max_concurrency and the adaptive limit, whichever is lower; 0
  // means none.
  std::int64_t concurrency_limit() const;
};

struct ModelRoute {
  std::string name;
  bool pattern = false;
  std::size_t index = 0;      // position in ModelRegistry::routes(), for per-worker state
  std::uint32_t name_id = 0;  // route::name_id(name)
  const config::Model* config = nullptr;
  std::vector<Deployment> deployments;
  std::vector<Member> members;  // what balancers see, parallel to `deployments`
  std::vector<int> tiers;       // the distinct priorities, best (lowest) first
  bool limited = false;         // some deployment has a concurrency cap: requests may queue
  std::shared_ptr<HealthGroup> health;
  std::shared_ptr<RetryBudget> budget;
  std::shared_ptr<AdmissionQueue> queue;
  std::shared_ptr<LatencyWindow> latency;
  std::vector<const ModelRoute*> fallbacks;
  std::vector<const ModelRoute*> context_fallbacks;
  // The limiter's buckets for models[].limits ("m:<name>:r" and ":t"), named once here.
  std::string rpm_bucket, tpm_bucket;

  // Attempts in flight on this model's deployments, over all workers (the retry budget's base).
  std::int64_t in_flight() const;
};

class ModelRegistry {
 public:
  // `config` and `providers` (in configuration order) must outlive the registry. With
  // `previous` (the registry of the snapshot a reload replaces), a model whose configuration and
  // providers did not change shares its routing state with the old one (load, health, breakers,
  // retry budget, queue, latencies), so a reload neither forgets an ejection nor loses count of
  // the requests in flight.
  ModelRegistry(const config::Config& config,
                const std::vector<std::unique_ptr<provider::Provider>>& providers,
                const ModelRegistry* previous = nullptr);

  const ModelRoute* find(std::string_view name) const;
  // Every route, in configuration order.
  const std::vector<ModelRoute>& routes() const { return routes_; }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  // The old route whose state a route of `config` may share, or null.
  const ModelRoute* same_route(const config::Model& model, const config::Config& config) const;

  const config::Config* config_;
  std::vector<ModelRoute> routes_;
  std::unordered_map<std::string, std::size_t, StringHash, std::equal_to<>> exact_;
  std::vector<std::size_t> patterns_;  // longest prefix first
};

}  // namespace sluice::route
