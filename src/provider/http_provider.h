// What every provider that speaks HTTP to a vendor shares: the connection pool slot and origin,
// the credential and version headers, the gateway's own headers (request id, W3C trace
// context, configured and forwarded client headers), the upstream headers passed back, the
// timeouts, the health probe, and one exchange: a request out, and either a whole answer back
// or a stream forwarded event by event, through a translator when the vendor's events are not
// OpenAI's (provider/translation.h).
//
// Subclasses (OpenAIProvider for openai and azure, AnthropicProvider, GeminiProvider) choose the
// target and body and translate whole answers; the stream loop and the HTTP are here once.
//
// Thread safety: immutable after construction; send() runs on any worker with that worker's
// pools.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "http/upstream.h"
#include "provider/provider.h"
#include "provider/translation.h"

namespace sluice::provider {

class HttpProvider : public Provider {
 public:
  std::string_view name() const override { return name_; }
  std::string_view kind() const override { return config::provider_kind_name(kind_); }
  asio::awaitable<bool> probe(WorkerResources resources, std::string_view path,
                              std::chrono::milliseconds timeout) const override;

  const std::shared_ptr<const http::UpstreamOrigin>& origin() const { return origin_; }
  std::size_t slot() const { return slot_; }

 protected:
  // `own_headers` are the kind's credential and version headers, sent on every request
  // (probes included) before the configured ones.
  HttpProvider(const config::Provider& config, std::size_t slot, std::uint64_t max_response_bytes,
               std::vector<std::pair<std::string, std::string>> own_headers);

  // One exchange with the upstream: POST `body` to `target`. A 2xx event stream (when `stream`)
  // goes to `sink`, through `translator` when given; any other answer comes back whole in a
  // kReply (the caller translates it). A translator's failure before anything reached the
  // client is a kFailed exchange (retryable like any other), after it a broken stream.
  asio::awaitable<Exchange> send(const Call& call, std::string_view target,
                                 std::span<const asio::const_buffer> body, bool stream,
                                 StreamTranslator* translator, StreamSink& sink) const;

  const std::string& base_path() const { return base_path_; }

  // The answer to a request this kind cannot carry (an endpoint it lacks, a field the vendor's
  // API cannot express): the client's error, as if the upstream had refused it, so it is not
  // retried elsewhere or counted against the deployment's health.
  static Exchange refused(const core::Error& error);

  // A whole translated answer in the exchange: a 2xx through `ok`, any other status through
  // `error` (both provider/translation.h); an answer that does not translate is a failure.
  template <class TranslateOk, class TranslateError>
  static void translate_reply(Exchange& e, TranslateOk&& ok, TranslateError&& error) {
    if (e.kind != Exchange::Kind::kReply) return;
    if (e.status >= 200 && e.status < 300) {
      core::Result<std::string> body = ok(std::string_view(e.body));
      if (!body) {
        e.kind = Exchange::Kind::kFailed;
        e.error = std::move(body.error());
        return;
      }
      e.body = std::move(*body);
    } else {
      TranslatedReply reply = error(e.status, std::string_view(e.body));
      e.status = reply.status;
      e.body = std::move(reply.body);
    }
    e.content_type = "application/json";
  }

 private:
  std::string name_;
  config::ProviderKind kind_;
  std::size_t slot_;
  std::shared_ptr<const http::UpstreamOrigin> origin_;
  std::string base_path_;
  std::vector<std::pair<std::string, std::string>> static_headers_;  // own, then configured
  std::vector<std::string> forward_headers_;
  http::UpstreamTimeouts timeouts_;
  std::uint64_t max_response_bytes_;
};

}  // namespace sluice::provider
