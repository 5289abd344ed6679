// Anthropic's Messages API in front (`POST /v1/messages`): the request is translated to an
// OpenAI chat completion (api/anthropic_messages.h) and served by the same pipeline as any other
// (auth, limits, cache, coalescing, routing to any kind of provider, usage accounting); what the
// pipeline writes back, whole answers, errors and streams alike, is rewritten into Anthropic's
// shape on its way out of the session (http::ResponseRewriter), so no stage knows the client
// speaks another API.
//
// Thread safety: one per request, on its worker.
#pragma once

#include <optional>
#include <string>

#include "api/anthropic_messages.h"
#include "http/server_session.h"

namespace sluice::gateway {

struct RequestContext;

class MessagesFront final : public http::ResponseRewriter {
 public:
  explicit MessagesFront(RequestContext& ctx);
  ~MessagesFront() override;

  // Translates the client's body into ctx.body, or answers the error (in Anthropic's shape) and
  // returns false.
  asio::awaitable<bool> translate_request();

  void rewrite_reply(int& status, std::string& body) override;
  std::string_view rewrite_stream(std::string_view data, bool last) override;

 private:
  RequestContext& ctx_;
  std::optional<api::messages::StreamTranslator> stream_;
  std::string out_;
  bool failed_ = false;  // the stream broke: nothing more is sent but its end
};

}  // namespace sluice::gateway
