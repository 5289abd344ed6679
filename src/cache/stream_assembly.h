// Converts cached answers between their two wire forms, and decides whether an answer is whole
// enough to cache at all.
//
// The cache stores an answer in the form it arrived (entry.h): a JSON body, or the SSE bytes of a
// stream. A later request may want the other form, so a stream is assembled into the non-stream
// answer OpenAI would have sent (assemble), and a JSON answer is cut into the chunks OpenAI would
// have streamed (synthesize_stream). A stored stream served as a stream is replayed byte for
// byte, minus the usage chunk when the client did not ask for it (replay_stream). Only chat and
// legacy completions stream; embeddings and images exist only as JSON.
//
// Completeness is checked before anything is stored (complete_json_answer, complete_stream), so
// a cached answer is never an error or a fragment (DESIGN.md, "Nothing is lost, nothing is
// faked"); assemble applies the same checks and fails on what they reject.
//
// Streams are read as the SSE specification says: lines end in "\r\n", "\n" or "\r", comments
// (": keep-alive") and fields other than `data` are skipped, data lines of one event join with
// "\n". Chunk fields this file does not know are carried into the assembled answer (strings of a
// delta concatenate like `content`; see stream_assembly.cc), so a provider's extensions
// (reasoning_content, service_tier, ...) survive the conversion.
//
// Pure functions; thread-safe. Nothing throws on malformed input: the bool functions say false,
// the Result functions return an Error (kUpstreamProtocol for bytes that are not a valid, whole
// answer; kInvalidRequest for an endpoint that does not stream).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "api/endpoint.h"
#include "cache/entry.h"
#include "core/error.h"

namespace sluice::cache {

struct Usage {
  std::uint32_t prompt_tokens = 0;
  std::uint32_t completion_tokens = 0;
};

// Whether a non-stream 200 answer is complete and worth storing: a JSON object of the endpoint's
// kind without an "error" member. Chat: object "chat.completion" and a non-empty "choices" array
// whose every element has a "message" object and a non-empty string finish_reason (any value:
// a "length"-limited answer is complete). Completions: object "text_completion", every choice
// with a string "text" and a finish_reason. Embeddings and images: "data" a non-empty array.
bool complete_json_answer(api::Endpoint endpoint, std::string_view body);

// Whether a streamed answer arrived whole: every data event is a JSON object (or [DONE]), none
// carries an "error" member or is an `event: error`, chunks are of the endpoint's kind, the
// stream ends with a whole `data: [DONE]` event (only blank lines and comments may follow), at
// least one choice appeared and every choice index that appeared got a finish_reason.
bool complete_stream(api::Endpoint endpoint, std::string_view sse);

// The non-stream answer a client would have received for this stream. Chat gives a
// "chat.completion": id, object, created, model, choices sorted by index (each with message
// {role, content, refusal when streamed, tool_calls assembled by index}, logprobs, finish_reason),
// usage when the stream had a usage chunk, then the other top-level fields (system_fingerprint,
// service_tier, ...). Content is the concatenated deltas; it is null when no content was streamed
// (or only "") and there are tool calls or a refusal, as OpenAI's non-stream answer has it.
// Completions give a "text_completion" with text concatenated per choice and logprobs merged.
// Fails on a stream that complete_stream() rejects.
core::Result<std::string> assemble(api::Endpoint endpoint, std::string_view sse);

// The stream OpenAI would have sent for a stored non-stream answer. Chat, per choice: a chunk
// with delta {role, content: "" (null when the message's content is null), refusal: null when
// the message has one}, then the whole content in one delta, the message's other fields (e.g.
// reasoning_content) in one delta, one chunk per tool call (index, id, type, function {name,
// arguments}), the refusal, and a chunk with an empty delta and the finish_reason; choices are
// interleaved as OpenAI interleaves them. Each chunk carries id, object "chat.completion.chunk",
// created, model and, when the answer has them, service_tier and system_fingerprint. Completions:
// a text chunk and a finish chunk per choice. With include_usage and a usage object in the
// answer, every chunk has "usage": null and a last chunk has "choices": [] and the usage. Then
// "data: [DONE]". Events are separated by "\n\n". Fails on an answer complete_json_answer()
// rejects.
core::Result<std::string> synthesize_stream(api::Endpoint endpoint, std::string_view json,
                                            bool include_usage);

// A stored stream as a client should see it: byte for byte the stored events, except that
// without include_usage the usage-only chunk ("choices": [] and a usage object) is dropped. A
// stream without such a chunk is returned as is, whatever include_usage says.
std::string replay_stream(std::string_view sse, bool include_usage);

// The usage an answer reports: the "usage" object of a JSON answer, or the last usage object of
// a stream's chunks. Zeros when absent. Embeddings report prompt_tokens only; image answers that
// count input_tokens/output_tokens are read as prompt/completion tokens.
Usage usage_of(Format format, std::string_view body);

}  // namespace sluice::cache
