#include "route/model_registry.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <stdexcept>
#include <unordered_map>

#include "core/strings.h"

namespace sluice::route {

namespace {

std::chrono::milliseconds override_or(std::chrono::milliseconds model,
                                      std::chrono::milliseconds provider) {
  return model.count() > 0 ? model : provider;
}

}  // namespace

std::uint32_t name_id(std::string_view name) {
  static std::mutex mutex;
  static std::unordered_map<std::string, std::uint32_t> ids;
  std::lock_guard lock(mutex);
  auto [it, added] = ids.try_emplace(std::string(name), static_cast<std::uint32_t>(ids.size() + 1));
  return it->second;
}

std::int64_t Deployment::concurrency_limit() const {
  std::int64_t limit = config->max_concurrency;
  if (adaptive) {
    const std::int64_t a = adaptive->limit();
    limit = limit > 0 ? std::min(limit, a) : a;
  }
  return limit;
}

std::int64_t ModelRoute::in_flight() const {
  std::int64_t n = 0;
  for (const Deployment& d : deployments) n += d.load->in_flight();
  return n;
}

const ModelRoute* ModelRegistry::same_route(const config::Model& model,
                                            const config::Config& config) const {
  auto it = exact_.find(model.name);
  const ModelRoute* old = nullptr;
  if (it != exact_.end()) {
    old = &routes_[it->second];
  } else {
    for (std::size_t i : patterns_) {
      if (routes_[i].name == model.name) old = &routes_[i];
    }
  }
  if (old == nullptr || !(*old->config == model)) return nullptr;
  for (const config::Deployment& d : model.deployments) {
    const config::Provider* now = config.find_provider(d.provider);
    const config::Provider* before = config_->find_provider(d.provider);
    if (now == nullptr || before == nullptr || !(*now == *before)) return nullptr;
  }
  return old;
}

ModelRegistry::ModelRegistry(const config::Config& config,
                             const std::vector<std::unique_ptr<provider::Provider>>& providers,
                             const ModelRegistry* previous)
    : config_(&config) {
  routes_.reserve(config.models.size());
  for (const config::Model& m : config.models) {
    const ModelRoute* old = previous != nullptr ? previous->same_route(m, config) : nullptr;
    ModelRoute route;
    route.name = m.name;
    route.name_id = name_id(m.name);
    route.rpm_bucket = "m:" + m.name + ":r";
    route.tpm_bucket = "m:" + m.name + ":t";
    route.pattern = !m.name.empty() && m.name.back() == '*';
    route.index = routes_.size();
    route.config = &m;
    std::map<std::string, int> repeats;
    for (const config::Deployment& d : m.deployments) {
      auto it = std::find_if(providers.begin(), providers.end(),
                             [&](const auto& p) { return p->name() == d.provider; });
      const config::Provider* pc = config.find_provider(d.provider);
      if (it == providers.end() || pc == nullptr) {
        throw std::invalid_argument("model " + m.name + ": unknown provider " + d.provider);
      }
      Deployment dep;
      dep.provider = it->get();
      dep.model = d.model;
      dep.id = d.provider + "/" + (d.model.empty() ? m.name : d.model);
      if (int n = ++repeats[dep.id]; n > 1) dep.id += "#" + std::to_string(n);
      dep.name_id = name_id(dep.id);
      dep.config = &d;
      dep.timeouts.connect = override_or(m.timeouts.connect, pc->timeouts.connect);
      dep.timeouts.first_byte = override_or(m.timeouts.first_byte, pc->timeouts.first_byte);
      dep.timeouts.idle = override_or(m.timeouts.idle, pc->timeouts.idle);
      dep.timeouts.total = override_or(m.timeouts.total, pc->timeouts.total);
      if (old != nullptr) {
        const Deployment& same = old->deployments[route.deployments.size()];
        dep.load = same.load;
        dep.adaptive = same.adaptive;
      } else {
        dep.load = std::make_shared<DeploymentLoad>();
        if (d.adaptive.enabled) dep.adaptive = std::make_shared<AdaptiveLimit>(d.adaptive);
      }
      route.limited = route.limited || d.max_concurrency > 0 || d.adaptive.enabled;
      route.deployments.push_back(std::move(dep));
      if (std::find(route.tiers.begin(), route.tiers.end(), d.priority) == route.tiers.end()) {
        route.tiers.push_back(d.priority);
      }
    }
    std::sort(route.tiers.begin(), route.tiers.end());
    for (const Deployment& dep : route.deployments) {
      route.members.push_back(Member{.id = dep.id,
                                     .weight = static_cast<std::uint32_t>(dep.config->weight),
                                     .rpm = dep.config->rpm,
                                     .tpm = dep.config->tpm,
                                     .input_cost_per_mtok = dep.config->input_cost_per_mtok,
                                     .output_cost_per_mtok = dep.config->output_cost_per_mtok,
                                     .load = dep.load.get()});
    }
    if (old != nullptr) {
      route.health = old->health;
      route.budget = old->budget;
      route.queue = old->queue;
      route.latency = old->latency;
    } else {
      route.health = std::make_shared<HealthGroup>(m.health, route.deployments.size());
      route.budget = std::make_shared<RetryBudget>(m.retries.budget, m.retries.min_concurrency);
      route.queue = std::make_shared<AdmissionQueue>(static_cast<std::size_t>(m.queue.max_size));
      route.latency = std::make_shared<LatencyWindow>();
    }
    std::size_t index = routes_.size();
    if (route.pattern) {
      patterns_.push_back(index);
    } else {
      exact_.emplace(route.name, index);
    }
    routes_.push_back(std::move(route));
  }
  std::stable_sort(patterns_.begin(), patterns_.end(), [&](std::size_t a, std::size_t b) {
    return routes_[a].name.size() > routes_[b].name.size();
  });
  // Fallbacks point into routes_, which no longer moves.
  for (ModelRoute& route : routes_) {
    for (const std::string& name : route.config->fallbacks) {
      if (const ModelRoute* f = find(name)) route.fallbacks.push_back(f);
    }
    for (const std::string& name : route.config->context_fallbacks) {
      if (const ModelRoute* f = find(name)) route.context_fallbacks.push_back(f);
    }
  }
}

const ModelRoute* ModelRegistry::find(std::string_view name) const {
  if (auto it = exact_.find(name); it != exact_.end()) return &routes_[it->second];
  for (std::size_t i : patterns_) {
    if (core::glob_match(routes_[i].name, name)) return &routes_[i];
  }
  return nullptr;
}

}  // namespace sluice::route
