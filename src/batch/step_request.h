// What one pipeline step sends to the gateway and what it reads from the answer.
//
// The body is built the same way every time from the same step and text (fields in a fixed
// order: model, the prompt's field, then params as written), so a re-run sends identical bytes
// and the gateway's cache answers the steps that did not change.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "batch/pipeline_spec.h"
#include "core/error.h"

namespace sluice::batch {

// The JSON body for `step` with its rendered system message (chat; empty: none) and prompt.
// An image step asks for response_format b64_json, so the image comes back in the answer.
std::string step_body(const StepSpec& step, std::string_view system, std::string_view prompt);

struct StepAnswer {
  std::string output;     // chat, completion: the text; embedding: the JSON array of the vectors
  std::string image;      // image: the decoded bytes
  std::string extension;  // of the file the answer is written to: "txt", "json", "png", ...
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
};

// Reads a successful answer (2xx) of a step of `type`. An answer without what the step needs
// (no choices, no text, an image that is not base64) is an error saying what is missing.
core::Result<StepAnswer> read_answer(StepType type, std::string_view body);

// One line for a failed answer: "HTTP 400: <the error's message>", or the body's start when it
// is not OpenAI's error shape.
std::string answer_error(int status, std::string_view body);

// Standard base64 (RFC 4648) to bytes; nullopt when `text` is not base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace sluice::batch
