// One line of an OpenAI batch input file (JSONL):
//
//   {"custom_id": "request-1", "method": "POST", "url": "/v1/chat/completions", "body": {...}}
//
// Used by `sluice cache warm` and the batch runner. The parser checks the shape OpenAI checks
// and names the field at fault, so a bad line is reported with its number before anything is
// sent.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "api/endpoint.h"
#include "core/error.h"

namespace sluice::batch {

struct BatchLine {
  std::string custom_id;
  api::Endpoint endpoint = api::Endpoint::kChatCompletions;
  std::string url;              // as written, e.g. "/v1/chat/completions"
  std::string body;             // the `body` object, as the line wrote it
  std::string model;            // body.model
  std::int64_t max_tokens = 0;  // body.max_tokens or max_completion_tokens; 0 when absent
};

// Parses `line` (one JSON object). Errors name the field: "custom_id must be a non-empty
// string", "url /v1/files is not an inference endpoint", ...
core::Result<BatchLine> parse_batch_line(std::string_view line);

}  // namespace sluice::batch
