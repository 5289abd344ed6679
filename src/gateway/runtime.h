// Everything built from one configuration snapshot that the workers share: the providers, the
// model registry, and pre-rendered answers (the model list). Immutable; a reload builds a new
// Runtime and in-flight requests keep the one they started with (DESIGN.md, "Process model").
//
// Thread safety: immutable after build(); shared by all workers through shared_ptr<const>.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "provider/provider.h"
#include "route/model_registry.h"

namespace sluice::http {
struct UpstreamOrigin;
}

namespace sluice::gateway {

class Runtime {
 public:
  // Throws std::runtime_error when a provider cannot be set up (e.g. an unreadable CA file).
  static std::shared_ptr<const Runtime> build(std::shared_ptr<const config::Config> config);

  const config::Config& config() const { return *config_; }
  const route::ModelRegistry& models() const { return *models_; }
  const std::vector<std::unique_ptr<provider::Provider>>& providers() const { return providers_; }
  // Per provider slot: the upstream origin of HTTP providers, null for in-process ones.
  const std::vector<std::shared_ptr<const http::UpstreamOrigin>>& origins() const {
    return origins_;
  }

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
  std::string models_body_;
  std::int64_t created_ = 0;
};

}  // namespace sluice::gateway
