// Decoding an inference request body once (DESIGN.md, "Life of a request", step 4): the JSON is
// parsed into the request's arena, the fields the gateway acts on are checked and exposed as
// views, and the byte span of the `model` value is located so that an alias can be rewritten by
// splicing the original bytes instead of re-serializing the whole body.
//
// Thread safety: pure functions; an InferenceRequest borrows the body and the arena.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <string>
#include <string_view>

#include "api/endpoint.h"
#include "core/asio.h"
#include "core/error.h"

namespace sluice::api {

struct InferenceRequest {
  Endpoint endpoint = Endpoint::kChatCompletions;
  std::string_view body;                 // the raw bytes, as the client sent them
  const json::object* fields = nullptr;  // the decoded body
  std::string_view model;
  bool stream = false;
  // The `model` value in `body`, quotes included; begin == end when it could not be located
  // literally (then a rewrite re-serializes the body).
  std::size_t model_begin = 0;
  std::size_t model_end = 0;
};

// Parses and checks `body`. `storage` receives the decoded value, allocated from the memory
// resource `storage` was made with (the request's arena), and must outlive the result. Errors:
// invalid JSON (with line and column), a body that is not an object, a missing or non-string model
// (404 model_not_found as the issue asks; a non-string is 400), a non-boolean `stream`.
core::Result<InferenceRequest> decode_inference(Endpoint endpoint, std::string_view body,
                                                json::value& storage);

// The request body with `model` as its model: the original bytes with the value spliced in, or
// re-serialized when the value could not be located literally.
std::string body_with_model(const InferenceRequest& request, std::string_view model);

// The byte span [begin, end) of the value of top-level member `key` in the JSON object `text`,
// which must be valid JSON. Returns false when the object has no such member spelled without
// escapes, or has it more than once.
bool find_top_level_member(std::string_view text, std::string_view key, std::size_t& begin,
                           std::size_t& end);

// Line and column (1-based) of byte `offset` in `text`, for error messages.
void line_and_column(std::string_view text, std::size_t offset, std::size_t& line,
                     std::size_t& column);

}  // namespace sluice::api
