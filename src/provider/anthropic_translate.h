// The translation between OpenAI's chat completions and Anthropic's Messages API that a
// `kind: anthropic` provider applies: the client's request body becomes a Messages request, and
// Anthropic's answer (a `message`, an error, or a stream of events) becomes what OpenAI would
// have sent. docs/providers.md ("Anthropic") has the field mapping, what is refused and why.
//
// Everything here is pure (translation.h): JSON text in, JSON or SSE text out, no I/O, no clock.
// A request that cannot be expressed without changing its answer (n > 1, logprobs, a JSON
// response format, audio, ...) is refused with kInvalidRequest naming the field, rather than
// sent without it; fields that only tune OpenAI's own service (seed, store, service_tier, ...)
// are dropped.
//
// The request is anthropic_request.cc, the answer and errors anthropic_response.cc, the stream
// anthropic_stream.cc.
//
// Thread safety: the functions are pure and thread-safe; a StreamTranslator belongs to one stream.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "provider/translation.h"

namespace sluice::provider::anthropic {

struct RequestOptions {
  std::string_view model;                   // the upstream model name to put in the body
  std::uint64_t default_max_tokens = 4096;  // Anthropic requires max_tokens
};

// OpenAI chat.completions request body -> Anthropic Messages request body. Fails with
// kInvalidRequest (and the field in `param`) for a body that is not a chat request or asks for
// what the Messages API cannot do.
core::Result<TranslatedRequest> translate_request(std::string_view openai_body,
                                                  const RequestOptions& options);

// A 2xx Anthropic `message` JSON -> OpenAI `chat.completion` JSON, with `created` as its time.
// Fails with kUpstreamProtocol for a body that is not a message.
core::Result<std::string> translate_response(std::string_view body, std::int64_t created);

// An Anthropic error answer (any non-2xx status and its body, which may not even be JSON) -> the
// status the client gets and an OpenAI-shaped error body {"error":{"message","type","param",
// "code"}}. Anthropic's status says whose fault it is: the client's request (4xx, kept), the
// gateway's own credentials or account (401, 402, 403: 502, since the client's key is fine and
// another deployment may work), or Anthropic (500 becomes 502, 529 overloaded becomes 503).
TranslatedReply translate_error(int status, std::string_view body);

// The HTTP status an Anthropic error `type` stands for, as translate_error() would give it: the
// status of a mid-stream `error` event, which has none of its own (overloaded_error: 503).
int error_type_status(std::string_view type);

// Anthropic SSE events -> OpenAI chat.completion.chunk SSE events ("data: {json}\n\n" each), as
// OpenAI streams them: a first chunk with the role, one chunk per text, tool-input or thinking
// delta (thinking as `reasoning_content`), a chunk with the finish_reason, then at finish() the
// usage chunk (include_usage) and `data: [DONE]`. Every chunk carries the message's id and model
// and `created`; with include_usage each also says "usage": null, as OpenAI's do.
class StreamTranslator final : public provider::StreamTranslator {
 public:
  StreamTranslator(bool include_usage, std::int64_t created);
  ~StreamTranslator() override;

  core::Result<void> feed(std::string_view events, std::string& out) override;
  core::Result<void> finish(std::string& out) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sluice::provider::anthropic
