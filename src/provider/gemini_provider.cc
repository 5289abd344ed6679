#include "provider/gemini_provider.h"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <ctime>
#include <optional>

#include "provider/gemini_translate.h"

namespace sluice::provider {

namespace {

std::vector<std::pair<std::string, std::string>> own_headers(const config::Provider& config) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!config.api_key.empty()) out.emplace_back("x-goog-api-key", config.api_key);
  return out;
}

// Gemini says when to come back in its 429's body (a RetryInfo detail), not in a header: the
// client and the router get it as the Retry-After OpenAI would have sent.
void pass_retry_after(Exchange& e) {
  if (e.kind != Exchange::Kind::kReply || e.status != 429) return;
  for (const auto& [name, value] : e.headers) {
    if (name == "retry-after") return;
  }
  if (auto seconds = gemini::retry_after(e.body)) e.headers.emplace_back("retry-after", *seconds);
}

}  // namespace

GeminiProvider::GeminiProvider(const config::Provider& config, std::size_t slot,
                               std::uint64_t max_response_bytes)
    : HttpProvider(config, slot, max_response_bytes, own_headers(config)) {}

asio::awaitable<Exchange> GeminiProvider::exchange(const Call& call, StreamSink& sink) const {
  const api::InferenceRequest& r = call.request;
  // Gemini's own names are "models/gemini-2.0-flash"; a deployment may say either.
  std::string_view model = call.upstream_model;
  if (model.starts_with("models/")) model.remove_prefix(std::string_view("models/").size());
  std::string target =
      base_path() + "/models/" + boost::urls::encode(model, boost::urls::unreserved_chars);
  const std::string id = "chatcmpl-" + std::string(call.request_id);
  const auto created = static_cast<std::int64_t>(std::time(nullptr));

  if (r.endpoint == api::Endpoint::kEmbeddings) {
    gemini::EmbeddingsRequest info;
    auto body = gemini::translate_embeddings_request(r.body, model, &info);
    if (!body) co_return refused(body.error());
    target += ":batchEmbedContents";
    const asio::const_buffer piece(body->data(), body->size());
    Exchange e = co_await send(call, target, std::span(&piece, 1), false, nullptr, sink);
    pass_retry_after(e);
    translate_reply(
        e,
        [&](std::string_view answer) {
          return gemini::translate_embeddings_response(answer, model, info);
        },
        gemini::translate_error);
    co_return e;
  }
  if (r.endpoint != api::Endpoint::kChatCompletions) {
    co_return refused(core::Error(
        core::Errc::kInvalidRequest,
        "The provider `" + std::string(name()) +
            "` is of kind gemini, which serves chat completions and embeddings only, not " +
            std::string(api::endpoint_name(r.endpoint)) + "."));
  }

  auto translated = gemini::translate_request(r.body);
  if (!translated) co_return refused(translated.error());
  target += translated->stream ? ":streamGenerateContent?alt=sse" : ":generateContent";
  std::optional<gemini::StreamTranslator> translator;
  if (translated->stream) translator.emplace(translated->include_usage, model, id, created);
  const asio::const_buffer body(translated->body.data(), translated->body.size());
  Exchange e = co_await send(call, target, std::span(&body, 1), translated->stream,
                             translator ? &*translator : nullptr, sink);
  pass_retry_after(e);
  translate_reply(
      e,
      [&](std::string_view answer) {
        return gemini::translate_response(answer, model, id, created);
      },
      gemini::translate_error);
  co_return e;
}

}  // namespace sluice::provider
