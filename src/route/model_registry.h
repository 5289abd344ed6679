// The model names clients may send, and the deployments behind each (DESIGN.md, "Life of a
// request", step 8). Exact names are found by hash; patterns ("gpt-*", "*") are tried longest
// first.
//
// Thread safety: immutable after construction; shared by all workers.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "provider/provider.h"

namespace sluice::route {

struct Deployment {
  const provider::Provider* provider = nullptr;
  std::string model;  // the name sent upstream; empty means the name the client sent
};

struct ModelRoute {
  std::string name;
  bool pattern = false;
  std::vector<Deployment> deployments;
};

class ModelRegistry {
 public:
  // `providers` must be in configuration order and outlive the registry.
  ModelRegistry(const config::Config& config,
                const std::vector<std::unique_ptr<provider::Provider>>& providers);

  const ModelRoute* find(std::string_view name) const;
  // Every route, in configuration order.
  const std::vector<ModelRoute>& routes() const { return routes_; }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  std::vector<ModelRoute> routes_;
  std::unordered_map<std::string, std::size_t, StringHash, std::equal_to<>> exact_;
  std::vector<std::size_t> patterns_;  // longest prefix first
};

}  // namespace sluice::route
