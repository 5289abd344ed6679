// Google's Gemini API behind the OpenAI one (`kind: gemini`): chat completions become
// `{base_url}/models/{model}:generateContent` (`:streamGenerateContent?alt=sse` for streams) and
// embeddings `:batchEmbedContents`, with the key in `x-goog-api-key`; bodies, streams and
// errors are translated both ways (provider/gemini_translate.h). Legacy completions and images
// are refused with a 400.
//
// Thread safety: immutable; exchange() runs on any worker with that worker's pools.
#pragma once

#include "provider/http_provider.h"

namespace sluice::provider {

class GeminiProvider final : public HttpProvider {
 public:
  GeminiProvider(const config::Provider& config, std::size_t slot,
                 std::uint64_t max_response_bytes);

  asio::awaitable<Exchange> exchange(const Call& call, StreamSink& sink) const override;
};

}  // namespace sluice::provider
