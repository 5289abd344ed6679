// default_config(): what `sluice serve` runs with no configuration file (declared in loader.h).
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/loader.h"
#include "config/prices.h"

namespace sluice::config {

namespace {

// OpenAI's current model names, listed so /v1/models shows them; any other name still reaches
// OpenAI through the "*" catch-all.
constexpr std::string_view kOpenAIModels[] = {
    "gpt-4o",   "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini",           "gpt-4.1-nano",
    "o3",       "o3-mini",     "o4-mini", "text-embedding-3-small", "text-embedding-3-large",
    "dall-e-3", "gpt-image-1",
};

Model single_deployment_model(std::string_view name, std::string_view provider) {
  Model m;
  m.name = std::string(name);
  Deployment d;
  d.provider = std::string(provider);  // model stays empty: send the name the client used
  // As the loader prices a deployment that sets no prices, so that costs are recorded and the
  // default configuration loads back equal from its JSON form (config_json.h).
  if (auto price = list_price(name); price && !name.ends_with('*')) {
    d.input_cost_per_mtok = price->input;
    d.cached_input_cost_per_mtok = price->cached_input;
    d.output_cost_per_mtok = price->output;
  }
  m.deployments.push_back(std::move(d));
  return m;
}

}  // namespace

Config default_config() {
  Config config;
  config.source = kDefaultSource;

  Provider sim;
  sim.name = "sim";
  sim.kind = ProviderKind::kMock;
  config.providers.push_back(std::move(sim));
  config.models.push_back(single_deployment_model("mock", "sim"));

  const char* key = std::getenv("OPENAI_API_KEY");
  if (key != nullptr && *key != '\0') {
    Provider openai;
    openai.name = "openai";
    openai.kind = ProviderKind::kOpenAI;
    openai.base_url.tls = true;
    openai.base_url.host = "api.openai.com";
    openai.base_url.port = 443;
    openai.base_url.base_path = "/v1";
    openai.base_url.text = "https://api.openai.com/v1";
    openai.api_key = key;
    config.providers.push_back(std::move(openai));
    for (std::string_view name : kOpenAIModels) {
      config.models.push_back(single_deployment_model(name, "openai"));
    }
    config.models.push_back(single_deployment_model("*", "openai"));
  }
  return config;
}

}  // namespace sluice::config
