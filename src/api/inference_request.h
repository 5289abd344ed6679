// Decoding an inference request body once (DESIGN.md, "Life of a request", step 4). One pass of
// Boost.JSON's SAX parser validates the whole body (so invalid JSON is a 400 that says where it
// broke) and picks out the fields the gateway acts on, without building a document: a
// pass-through request never needs one. The byte span of the `model` value is recorded so an
// alias can be rewritten by splicing the original bytes instead of re-serializing the body.
//
// Thread safety: pure functions; an InferenceRequest borrows the body.
#pragma once

#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/endpoint.h"
#include "core/asio.h"
#include "core/error.h"

namespace sluice::api {

struct InferenceRequest {
  Endpoint endpoint = Endpoint::kChatCompletions;
  std::string_view body;  // the raw bytes, as the client sent them
  bool stream = false;
  // The `model` value in `body`, quotes included; begin == end when it was written with escapes
  // (then a rewrite re-serializes the body).
  std::size_t model_begin = 0;
  std::size_t model_end = 0;
  std::string escaped_model;  // the model's text, when it was written with escapes
  // For routing affinity: the `user` value, and where the prompt (`messages`, `prompt` or
  // `input`) begins in `body` (just after its key; 0 when absent).
  std::string user;
  std::size_t prompt_begin = 0;
  // One past the end of that prompt's value, when the parse could tell (0: find it by scanning
  // from prompt_begin).
  std::size_t prompt_end = 0;

  // With `canonical`: the body's canonical form (api/canonical_request.h), the base of the
  // cache key, and what it says about the request.
  bool has_canonical = false;
  std::string canonical;
  bool deterministic = false;  // temperature 0 or an integer seed (embeddings always)

  // For token reservations: bytes of the prompt's strings (message contents, roles and names
  // included), max_tokens (or max_completion_tokens) and n when given as integers, 0 otherwise.
  std::size_t prompt_bytes = 0;
  std::uint64_t max_tokens = 0;
  std::uint64_t n = 0;
  bool include_usage = false;       // stream_options.include_usage
  bool has_stream_options = false;  // a top-level stream_options member exists

  std::string_view model() const {
    if (model_end > model_begin) return body.substr(model_begin + 1, model_end - model_begin - 2);
    return escaped_model;
  }
};

// Validates `body` and extracts the model and `stream`; the result borrows `body`. Errors:
// invalid JSON (with line, column and byte), a body that is not an object, a missing or
// non-string model (404 model_not_found as the issue asks; a non-string is 400), a non-boolean
// `stream`, and `model` or `stream` given twice (400: which one counts would be a guess).
// With `canonical`, the same pass also builds the body's canonical form.
core::Result<InferenceRequest> decode_inference(Endpoint endpoint, std::string_view body,
                                                bool canonical = false);

// The body with `model` as its model: the original bytes with the value spliced in, or the body
// re-serialized when the model was written with escapes.
std::string body_with_model(const InferenceRequest& request, std::string_view model);

// The body asking the upstream for a usage chunk at the end of a stream
// (stream_options.include_usage true), so tokens are counted when the client did not ask for it;
// the gateway strips the chunk again before the client sees it. The member is spliced in before
// the closing brace when the body has no stream_options (offsets into the body stay valid),
// else the body is re-serialized.
std::string body_with_stream_usage(const InferenceRequest& request);

// Line and column (1-based) of byte `offset` in `text`, for error messages.
void line_and_column(std::string_view text, std::size_t offset, std::size_t& line,
                     std::size_t& column);

}  // namespace sluice::api
