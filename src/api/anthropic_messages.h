// Anthropic's Messages API in front of any model (issue 8, item 4): a `POST /v1/messages` body
// becomes an OpenAI chat.completions body, which then takes the normal pipeline to whatever model
// serves it, and the OpenAI answer, stream or error comes back in the shape an Anthropic client
// (the official @anthropic-ai/sdk) reads. The opposite direction, an Anthropic upstream behind
// the OpenAI API, is provider/anthropic_translate.h.
//
// Requests are checked as Anthropic checks them: a field of the wrong type, a missing
// max_tokens, an unknown role or content block is a 400 whose message starts with the path in
// Anthropic's style ("messages.2.content.0.type: ..."), which is also the error's `param`. What
// an OpenAI chat request cannot express (server tools, documents, file sources, images inside
// tool results) is refused the same way rather than dropped; what changes nothing an OpenAI
// model could honour (top_k, thinking, cache_control, citations) is dropped. docs/providers.md,
// "Anthropic's API in front", has the field table both ways.
//
// Streams: every OpenAI chunk is parsed once, into an arena the next chunk reuses, and the
// Anthropic events are written straight into the output. The official SDK's accumulation of the
// translated events gives the message to_message() gives for the same answer unstreamed.
//
// The types come from provider/translation.h (plain structs and an interface; the translators of
// both directions share them). Thread safety: the functions are pure; a StreamTranslator belongs
// to one stream.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "provider/translation.h"

namespace boost::json {
class object;
class value;
}  // namespace boost::json

namespace sluice::api {
class JsonArenaParser;
}  // namespace sluice::api

namespace sluice::api::messages {

// Anthropic Messages request body -> OpenAI chat.completions body. When streaming, the OpenAI
// body asks for stream_options.include_usage (the Anthropic stream reports usage).
core::Result<provider::TranslatedRequest> to_chat_request(std::string_view messages_body);

// OpenAI chat.completion (2xx) -> Anthropic `message` JSON. `model` = the model the client asked
// for. kUpstreamProtocol for a body that is not a chat completion, or a tool call whose
// arguments are not a JSON object (an Anthropic tool_use input always is one); kUpstreamError
// for a body that carries an "error".
core::Result<std::string> to_message(std::string_view chat_completion, std::string_view model);

// Anthropic's error `type` for an HTTP status: 400 invalid_request_error, 401
// authentication_error, 402 billing_error, 403 permission_error, 404 not_found_error, 409
// conflict_error, 413 request_too_large, 429 rate_limit_error, 500 api_error, 503 and 529
// overloaded_error, 504 timeout_error; any other 4xx invalid_request_error, any other 5xx
// api_error.
std::string_view anthropic_error_type(int status);

// An OpenAI-shaped error body (what the gateway sends for any failure, see api/errors.h) and its
// status -> Anthropic's error body {"type":"error","error":{"type":"...","message":"..."}}. A
// body without an OpenAI error message keeps what normalize_upstream_error makes of it.
std::string to_error(int status, std::string_view openai_error_body);

// The same for a mid-stream failure: an Anthropic `event: error` SSE event.
std::string error_event(int status, std::string_view message);

// OpenAI chat.completion.chunk events -> Anthropic stream events: message_start on the first
// chunk; a content block per run of reasoning (thinking), text (and refusal text) or one tool
// call, each opened, fed and closed with consecutive indexes; message_delta once the usage chunk
// that follows the finish_reason arrives (or at [DONE] without one); message_stop at [DONE].
// Only choice 0 is read: the translated request never asks for more.
class StreamTranslator final : public provider::StreamTranslator {
 public:
  explicit StreamTranslator(std::string_view model);
  ~StreamTranslator() override;

  core::Result<void> feed(std::string_view events, std::string& out) override;
  core::Result<void> finish(std::string& out) override;

 private:
  enum class Block { kNone, kText, kThinking, kTool };

  core::Result<void> chunk(std::string_view data, std::string& out);
  core::Result<void> apply_delta(const boost::json::object& delta, std::string& out);
  core::Result<void> tool_call(const boost::json::value& call, std::string& out);
  core::Result<void> done(std::string& out);
  void start_message(std::string_view completion_id, std::string& out);
  void open(Block kind, std::string& out);
  void close(std::string& out);
  void message_delta(std::string& out);

  std::string model_;
  std::unique_ptr<JsonArenaParser> parser_;  // one arena for the whole stream
  Block open_ = Block::kNone;
  std::uint32_t index_ = 0;  // the open block's index, else the next block's
  std::int64_t tool_ = -1;   // the OpenAI index of the last tool call opened
  bool started_ = false;     // message_start was written
  bool finished_ = false;    // a finish_reason arrived
  bool delta_sent_ = false;  // message_delta was written
  bool done_ = false;        // [DONE] arrived and message_stop was written
  bool saw_tool_ = false;
  bool saw_refusal_ = false;
  std::string finish_reason_;
  std::uint64_t prompt_tokens_ = 0;
  std::uint64_t completion_tokens_ = 0;
  std::uint64_t cached_tokens_ = 0;
};

}  // namespace sluice::api::messages
