#include "gateway/messages_front.h"

#include "api/errors.h"
#include "gateway/request_context.h"
#include "gateway/respond.h"

namespace sluice::gateway {

MessagesFront::MessagesFront(RequestContext& ctx) : ctx_(ctx) { ctx_.session.rewrite_with(this); }

MessagesFront::~MessagesFront() { ctx_.session.rewrite_with(nullptr); }

asio::awaitable<bool> MessagesFront::translate_request() {
  auto translated = api::messages::to_chat_request(ctx_.session.request().body());
  if (!translated) {
    co_await respond_error(ctx_, translated.error());
    co_return false;
  }
  ctx_.translated_body = std::move(translated->body);
  ctx_.body = ctx_.translated_body;
  co_return true;
}

void MessagesFront::rewrite_reply(int& status, std::string& body) {
  if (status >= 200 && status < 300) {
    auto message = api::messages::to_message(body, ctx_.model);
    if (message) {
      body = std::move(*message);
      return;
    }
    // An answer that does not translate is the gateway's failure, said in the client's shape.
    status = api::http_status(message.error());
    body = api::messages::to_error(status, api::error_body(message.error()));
    return;
  }
  body = api::messages::to_error(status, body);
}

std::string_view MessagesFront::rewrite_stream(std::string_view data, bool last) {
  out_.clear();
  if (failed_) return out_;
  if (!stream_) stream_.emplace(ctx_.model);
  auto fed = stream_->feed(data, out_);
  if (fed && last) fed = stream_->finish(out_);
  if (!fed) {
    failed_ = true;
    out_ += api::messages::error_event(api::http_status(fed.error()), fed.error().message);
  }
  return out_;
}

}  // namespace sluice::gateway
