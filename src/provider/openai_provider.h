// Any OpenAI-compatible HTTP API (OpenAI, vLLM, llama.cpp, Ollama, Groq, Together, ...), and
// Azure OpenAI, which speaks the same bodies at other URLs: the request is passed through, with
// at most the `model` value replaced by splicing the original bytes (DESIGN.md, "Performance
// habits"), the provider's key in place of the client's, and the configured and forwarded
// headers. Streams are forwarded event by event as they arrive.
//
// Azure (`kind: azure`): the deployment's `model` names the Azure deployment, which is in the
// URL (`{base_url}/openai/deployments/{model}/chat/completions?api-version=...`), and the key
// goes in an `api-key` header (docs/providers.md, "Azure OpenAI").
//
// Thread safety: immutable; exchange() runs on any worker with that worker's pools.
#pragma once

#include <array>
#include <string>

#include "provider/http_provider.h"

namespace sluice::provider {

class OpenAIProvider final : public HttpProvider {
 public:
  // `slot` indexes this provider's pool in WorkerResources::pools.
  OpenAIProvider(const config::Provider& config, std::size_t slot,
                 std::uint64_t max_response_bytes);

  asio::awaitable<Exchange> exchange(const Call& call, StreamSink& sink) const override;

 private:
  bool azure_;
  std::string api_version_query_;       // azure: "?api-version=..."
  std::array<std::string, 4> targets_;  // openai: base path + endpoint path, by api::Endpoint
};

}  // namespace sluice::provider
