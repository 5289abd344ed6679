// The translation between OpenAI's chat completions and Anthropic's Messages API that a
// `kind: anthropic` provider applies: the client's request body becomes a Messages request.
// docs/providers.md ("Anthropic") has the field mapping, what is refused and why.
//
// Everything here is pure (translation.h): JSON text in, JSON text out, no I/O, no clock.
// A request that cannot be expressed without changing its answer (n > 1, logprobs, a JSON
// response format, audio, ...) is refused with kInvalidRequest naming the field, rather than
// sent without it; fields that only tune OpenAI's own service (seed, store, service_tier, ...)
// are dropped.
//
// The request is anthropic_request.cc.
//
// Thread safety: the functions are pure and thread-safe.
#pragma once

#include <cstdint>
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

}  // namespace sluice::provider::anthropic
