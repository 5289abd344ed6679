// The Gemini translator: what a `kind: gemini` provider sends and what it hands back. OpenAI's
// chat.completions and embeddings are on the client's side; Gemini's generateContent,
// streamGenerateContent?alt=sse and batchEmbedContents on the upstream's. The provider does
// the HTTP; everything here is text in, text out (provider/translation.h).
//
// The field mapping, what is refused and why, is in docs/providers.md ("Gemini"). In short:
// - A request field that would change the answer and that Gemini cannot express is a 400 naming
//   the field (logit_bias, audio output, parallel_tool_calls false, an image URL whose type is
//   unknown, ...), never silently dropped; fields that only concern OpenAI's service (user,
//   metadata, store, service_tier, prompt_cache_key, safety_identifier) are ignored. An unknown
//   top-level field is a 400, as OpenAI answers it.
// - Answers keep the completion id the provider passes (Gemini's responseId is not an OpenAI
//   id), take `model` from Gemini's modelVersion when present, and name a tool call by Gemini's
//   functionCall.id when it gives one, else "call_<completion id without chatcmpl->_<n>", n
//   counting the choice's calls from 0: the same in a stream as in the whole answer, and
//   distinct across the turns of a conversation. A call's thoughtSignature (which Gemini 3
//   requires back with the call) rides in tool_calls[].extra_content.google.thought_signature,
//   where Google's own OpenAI-compatible endpoint puts it, and is sent back from there.
// - A stream's finish_reason chunks are written when the upstream's stream ends (finish()):
//   some Gemini models repeat finishReason "STOP" on every event, so the reason is only known
//   at the end, and nothing may follow a choice's finish in OpenAI's stream.
//
// Thread safety: the functions are pure; a StreamTranslator belongs to one stream.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "provider/translation.h"

namespace sluice::provider::gemini {

// An OpenAI chat.completions body as a Gemini GenerateContentRequest body. The model goes in
// the URL, not the body; `stream` says which method to call (streamGenerateContent?alt=sse or
// generateContent). 400 (kInvalidRequest with `param`) for a body that is not a JSON object,
// has no messages, or asks for what Gemini cannot do.
core::Result<TranslatedRequest> translate_request(std::string_view openai_body);

// A 2xx GenerateContentResponse as an OpenAI chat.completion. `model` is the upstream model
// name, used when the answer has no modelVersion; `id` is the completion id (the provider
// passes "chatcmpl-" + the request id). A prompt blocked before any candidate
// (promptFeedback.blockReason) is one choice with content "" and finish_reason
// "content_filter", as OpenAI answers a filtered prompt. kUpstreamProtocol for an answer that
// is not what Gemini documents.
core::Result<std::string> translate_response(std::string_view body, std::string_view model,
                                             std::string_view id, std::int64_t created);

// A Gemini error answer (any body: JSON, an array of one error as some Google front ends send,
// HTML, empty) as the client's status and an OpenAI-shaped error body (api/errors.h).
TranslatedReply translate_error(int status, std::string_view body);

// The Retry-After value (whole seconds, rounded up) from the RetryInfo detail Gemini puts in a
// 429 answer ({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "32s"}), for
// the provider to pass on as the Retry-After header; nullopt when there is none.
std::optional<std::string> retry_after(std::string_view error_body);

// What the translation of an embeddings answer needs from its request.
struct EmbeddingsRequest {
  bool base64 = false;     // encoding_format "base64" (the OpenAI Node client's default)
  std::size_t inputs = 0;  // the answer must carry this many embeddings (0: not checked)
  // Gemini's batchEmbedContents counts no tokens, so usage.prompt_tokens is estimated as the
  // gateway estimates any model without a known tokenizer: ceil(bytes / 4) per input
  // (tokenizer/prompt_tokens.h). A usageMetadata.promptTokenCount in the answer wins.
  std::uint64_t estimated_tokens = 0;
};

// An OpenAI embeddings body as a batchEmbedContents body, one request per input, each naming
// `model` as "models/<model>". `info`, when given, receives what translate_embeddings_response
// needs. 400 for token-array inputs (Gemini embeds text), an empty input, a wrong type.
core::Result<std::string> translate_embeddings_request(std::string_view openai_body,
                                                       std::string_view model,
                                                       EmbeddingsRequest* info = nullptr);

// A batchEmbedContents answer as an OpenAI embeddings list: object "list", data[{object
// "embedding", index, embedding}], model, usage {prompt_tokens, total_tokens}.
core::Result<std::string> translate_embeddings_response(std::string_view body,
                                                        std::string_view model,
                                                        const EmbeddingsRequest& info = {});

// streamGenerateContent?alt=sse events (each `data: {GenerateContentResponse}`, no end marker)
// as OpenAI chat.completion.chunk events (`data: {json}\n\n`): each choice opens with a delta
// carrying role "assistant" and content, text parts become content deltas, thought parts
// reasoning_content deltas, functionCall parts whole tool_calls deltas. finish() writes each
// choice's finish_reason chunk, the usage chunk ("choices": [], after every other chunk carried
// "usage": null) when include_usage and Gemini reported usage, then `data: [DONE]`; it fails
// with kUpstreamProtocol when a choice never got a finishReason. An event carrying `error`
// fails feed() with kUpstreamError and Gemini's message and status; `out` then holds the
// translation of the events before it.
class StreamTranslator final : public provider::StreamTranslator {
 public:
  StreamTranslator(bool include_usage, std::string_view model, std::string_view id,
                   std::int64_t created);
  ~StreamTranslator() override;

  core::Result<void> feed(std::string_view events, std::string& out) override;
  core::Result<void> finish(std::string& out) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace sluice::provider::gemini
