#include "provider/openai_provider.h"

#include <boost/json/serialize.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

namespace sluice::provider {

namespace {

asio::const_buffer cbuf(std::string_view s) { return asio::const_buffer(s.data(), s.size()); }

std::vector<std::pair<std::string, std::string>> credentials(const config::Provider& config) {
  std::vector<std::pair<std::string, std::string>> out;
  if (config.api_key.empty()) return out;
  if (config.kind == config::ProviderKind::kAzure) {
    out.emplace_back("api-key", config.api_key);
  } else {
    out.emplace_back("authorization", "Bearer " + config.api_key);
  }
  return out;
}

}  // namespace

OpenAIProvider::OpenAIProvider(const config::Provider& config, std::size_t slot,
                               std::uint64_t max_response_bytes)
    : HttpProvider(config, slot, max_response_bytes, credentials(config)),
      azure_(config.kind == config::ProviderKind::kAzure) {
  if (azure_) {
    api_version_query_ =
        "?api-version=" + boost::urls::encode(config.api_version, boost::urls::unreserved_chars);
  }
  for (auto e : {api::Endpoint::kChatCompletions, api::Endpoint::kCompletions,
                 api::Endpoint::kEmbeddings, api::Endpoint::kImageGenerations}) {
    targets_[static_cast<std::size_t>(e)] =
        config.base_url.base_path + std::string(api::endpoint_path(e));
  }
}

asio::awaitable<Exchange> OpenAIProvider::exchange(const Call& call, StreamSink& sink) const {
  const api::InferenceRequest& r = call.request;

  // The body: the client's bytes, with the model value spliced when the alias differs.
  std::array<asio::const_buffer, 3> pieces;
  std::size_t piece_count = 1;
  std::string spliced_model;
  std::string rebuilt;
  if (call.upstream_model == r.model()) {
    pieces[0] = cbuf(r.body);
  } else if (r.model_end > r.model_begin) {
    // Three buffers, one write: no copy of the body.
    spliced_model = json::serialize(json::string_view(call.upstream_model));
    pieces[0] = cbuf(r.body.substr(0, r.model_begin));
    pieces[1] = cbuf(spliced_model);
    pieces[2] = cbuf(r.body.substr(r.model_end));
    piece_count = 3;
  } else {
    rebuilt = api::body_with_model(r, call.upstream_model);  // escaped or duplicated key: rare
    pieces[0] = cbuf(rebuilt);
  }

  std::string azure_target;
  std::string_view target = targets_[static_cast<std::size_t>(r.endpoint)];
  if (azure_) {
    // {base}/openai/deployments/{deployment}/chat/completions?api-version=...
    azure_target = base_path() + "/openai/deployments/" +
                   boost::urls::encode(call.upstream_model, boost::urls::unreserved_chars) +
                   std::string(api::endpoint_path(r.endpoint)) + api_version_query_;
    target = azure_target;
  }
  co_return co_await send(call, target, std::span(pieces.data(), piece_count), r.stream, nullptr,
                          sink);
}

}  // namespace sluice::provider
