#include "provider/anthropic_provider.h"

#include <ctime>
#include <optional>

#include "provider/anthropic_translate.h"

namespace sluice::provider {

namespace {

std::vector<std::pair<std::string, std::string>> own_headers(const config::Provider& config) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!config.api_key.empty()) out.emplace_back("x-api-key", config.api_key);
  out.emplace_back("anthropic-version", config.api_version);
  return out;
}

}  // namespace

AnthropicProvider::AnthropicProvider(const config::Provider& config, std::size_t slot,
                                     std::uint64_t max_response_bytes)
    : HttpProvider(config, slot, max_response_bytes, own_headers(config)),
      target_(config.base_url.base_path + "/v1/messages"),
      default_max_tokens_(config.default_max_tokens) {}

asio::awaitable<Exchange> AnthropicProvider::exchange(const Call& call, StreamSink& sink) const {
  const api::InferenceRequest& r = call.request;
  if (r.endpoint != api::Endpoint::kChatCompletions) {
    co_return refused(
        core::Error(core::Errc::kInvalidRequest,
                    "The provider `" + std::string(name()) +
                        "` is of kind anthropic, which serves chat completions only, not " +
                        std::string(api::endpoint_name(r.endpoint)) + "."));
  }
  auto translated = anthropic::translate_request(
      r.body, anthropic::RequestOptions{call.upstream_model, default_max_tokens_});
  if (!translated) co_return refused(translated.error());

  const auto created = static_cast<std::int64_t>(std::time(nullptr));
  std::optional<anthropic::StreamTranslator> translator;
  if (translated->stream) translator.emplace(translated->include_usage, created);
  const asio::const_buffer body(translated->body.data(), translated->body.size());
  Exchange e = co_await send(call, target_, std::span(&body, 1), translated->stream,
                             translator ? &*translator : nullptr, sink);
  translate_reply(
      e, [&](std::string_view answer) { return anthropic::translate_response(answer, created); },
      anthropic::translate_error);
  co_return e;
}

}  // namespace sluice::provider
