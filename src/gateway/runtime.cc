#include "gateway/runtime.h"

#include <boost/json.hpp>

#include <ctime>

#include "http/upstream.h"
#include "provider/anthropic_provider.h"
#include "provider/gemini_provider.h"
#include "provider/mock_provider.h"
#include "provider/openai_provider.h"

namespace sluice::gateway {

namespace {

json::object model_object(const route::ModelRoute& route, std::int64_t created) {
  json::object m;
  m["id"] = route.name;
  m["object"] = "model";
  m["created"] = created;
  m["owned_by"] = route.deployments.empty() ? "sluice" : route.deployments[0].provider->name();
  return m;
}

}  // namespace

std::shared_ptr<const Runtime> Runtime::build(std::shared_ptr<const config::Config> config,
                                              limit::GcraLimiter* limiter,
                                              const Runtime* previous) {
  std::shared_ptr<Runtime> rt(new Runtime());
  rt->config_ = std::move(config);
  rt->created_ = static_cast<std::int64_t>(std::time(nullptr));
  const config::Config& cfg = *rt->config_;
  for (std::size_t slot = 0; slot < cfg.providers.size(); ++slot) {
    const config::Provider& p = cfg.providers[slot];
    std::unique_ptr<provider::HttpProvider> http;
    switch (p.kind) {
      case config::ProviderKind::kOpenAI:
      case config::ProviderKind::kAzure:
        http = std::make_unique<provider::OpenAIProvider>(p, slot, cfg.limits.max_response_bytes);
        break;
      case config::ProviderKind::kAnthropic:
        http =
            std::make_unique<provider::AnthropicProvider>(p, slot, cfg.limits.max_response_bytes);
        break;
      case config::ProviderKind::kGemini:
        http = std::make_unique<provider::GeminiProvider>(p, slot, cfg.limits.max_response_bytes);
        break;
      case config::ProviderKind::kMock:
        rt->origins_.push_back(nullptr);
        rt->providers_.push_back(std::make_unique<provider::MockProvider>(p));
        continue;
    }
    rt->origins_.push_back(http->origin());
    rt->providers_.push_back(std::move(http));
  }
  rt->models_ = std::make_unique<route::ModelRegistry>(
      cfg, rt->providers_, previous != nullptr ? previous->models_.get() : nullptr);
  if (limiter != nullptr) {
    // Only where a limit is set: a held bucket is never swept, and an unlimited one is never
    // charged. The names are the ones the admit stage charges (and Redis knows).
    auto resolve = [&](std::uint64_t per_minute, std::string_view name) {
      return per_minute != 0 ? limiter->bucket(name) : nullptr;
    };
    for (const route::ModelRoute& route : rt->models_->routes()) {
      const config::RateLimit& limits = route.config->limits;
      rt->route_buckets_.push_back(
          {resolve(limits.rpm, route.rpm_bucket), resolve(limits.tpm, route.tpm_bucket)});
    }
    const config::RateLimit& global = cfg.rate_limits.global;
    rt->global_buckets_ = {resolve(global.rpm, kGlobalRpmBucket),
                           resolve(global.tpm, kGlobalTpmBucket)};
  }

  json::array data;
  for (const auto& route : rt->models_->routes()) {
    if (!route.pattern) data.push_back(model_object(route, rt->created_));
  }
  json::object list;
  list["object"] = "list";
  list["data"] = std::move(data);
  rt->models_body_ = json::serialize(list);
  return rt;
}

std::string Runtime::model_body(std::string_view id) const {
  const route::ModelRoute* route = models_->find(id);
  if (!route || route->pattern) return {};
  return json::serialize(model_object(*route, created_));
}

}  // namespace sluice::gateway
