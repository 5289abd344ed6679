// Any OpenAI-compatible HTTP API (OpenAI, vLLM, llama.cpp, Ollama, Groq, Together, ...): the
// request is passed through, with at most the `model` value replaced by splicing the original
// bytes (DESIGN.md, "Performance habits"), the provider's key in place of the client's, and the
// configured and forwarded headers. Streams are forwarded event by event as they arrive.
//
// Thread safety: immutable; exchange() runs on any worker with that worker's pools.
#pragma once

#include <array>
#include <memory>
#include <string>

#include "config/config.h"
#include "http/upstream.h"
#include "provider/provider.h"

namespace sluice::provider {

class OpenAIProvider final : public Provider {
 public:
  // `slot` indexes this provider's pool in WorkerResources::pools.
  OpenAIProvider(const config::Provider& config, std::size_t slot,
                 std::uint64_t max_response_bytes);

  std::string_view name() const override { return name_; }
  std::string_view kind() const override { return "openai"; }
  asio::awaitable<Exchange> exchange(const Call& call, StreamSink& sink) const override;
  asio::awaitable<bool> probe(WorkerResources resources, std::string_view path,
                              std::chrono::milliseconds timeout) const override;

  const std::shared_ptr<const http::UpstreamOrigin>& origin() const { return origin_; }
  std::size_t slot() const { return slot_; }

 private:
  std::string name_;
  std::size_t slot_;
  std::shared_ptr<const http::UpstreamOrigin> origin_;
  std::string base_path_;
  std::array<std::string, 4> targets_;  // base path + endpoint path, by api::Endpoint
  std::string authorization_;           // "Bearer <key>", or empty
  std::vector<std::pair<std::string, std::string>> static_headers_;
  std::vector<std::string> forward_headers_;
  http::UpstreamTimeouts timeouts_;
  std::uint64_t max_response_bytes_;
};

}  // namespace sluice::provider
