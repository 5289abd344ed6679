// Anthropic's Messages API behind the OpenAI one (`kind: anthropic`): a chat completion request
// is translated to a Messages request (provider/anthropic_translate.h), sent to
// `{base_url}/v1/messages` with `x-api-key` and `anthropic-version`, and the answer, its stream
// event by event, or its error is translated back into OpenAI's shape, so the cache, the
// coalescer, the usage accounting and fallbacks see an OpenAI answer like any other. Anthropic
// has no legacy completions, embeddings or images: those are refused with a 400.
//
// Thread safety: immutable; exchange() runs on any worker with that worker's pools.
#pragma once

#include <string>

#include "provider/http_provider.h"

namespace sluice::provider {

class AnthropicProvider final : public HttpProvider {
 public:
  AnthropicProvider(const config::Provider& config, std::size_t slot,
                    std::uint64_t max_response_bytes);

  asio::awaitable<Exchange> exchange(const Call& call, StreamSink& sink) const override;

 private:
  std::string target_;  // base path + "/v1/messages"
  std::uint64_t default_max_tokens_;
};

}  // namespace sluice::provider
