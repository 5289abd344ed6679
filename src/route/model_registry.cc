#include "route/model_registry.h"

#include <algorithm>
#include <stdexcept>

#include "core/strings.h"

namespace sluice::route {

ModelRegistry::ModelRegistry(const config::Config& config,
                             const std::vector<std::unique_ptr<provider::Provider>>& providers) {
  for (const config::Model& m : config.models) {
    ModelRoute route;
    route.name = m.name;
    route.pattern = !m.name.empty() && m.name.back() == '*';
    for (const config::Deployment& d : m.deployments) {
      auto it = std::find_if(providers.begin(), providers.end(),
                             [&](const auto& p) { return p->name() == d.provider; });
      if (it == providers.end()) {
        throw std::invalid_argument("model " + m.name + ": unknown provider " + d.provider);
      }
      route.deployments.push_back({it->get(), d.model});
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
}

const ModelRoute* ModelRegistry::find(std::string_view name) const {
  if (auto it = exact_.find(name); it != exact_.end()) return &routes_[it->second];
  for (std::size_t i : patterns_) {
    if (core::glob_match(routes_[i].name, name)) return &routes_[i];
  }
  return nullptr;
}

}  // namespace sluice::route
