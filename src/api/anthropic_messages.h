// Anthropic's Messages API in front of any model (issue 8, item 4): a `POST
// /v1/messages` body becomes an OpenAI chat.completions body, which then takes
// the normal pipeline to whatever model serves it. The opposite direction, an
// Anthropic upstream behind the OpenAI API, is provider/anthropic_translate.h.
//
// Requests are checked as Anthropic checks them: a field of the wrong type, a
// missing max_tokens, an unknown role or content block is a 400 whose message
// starts with the path in Anthropic's style ("messages.2.content.0.type: ..."),
// which is also the error's `param`. What an OpenAI chat request cannot express
// (server tools, documents, file sources, images inside tool results) is
// refused the same way rather than dropped; what changes nothing an OpenAI
// model could honour (top_k, thinking, cache_control, citations) is dropped.
// docs/providers.md, "Anthropic's API in front", has the field table both ways.
//
// The types come from provider/translation.h (plain structs; the translators of
// both directions share them). Thread safety: the functions are pure.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "provider/translation.h"

namespace sluice::api::messages {

// Anthropic Messages request body -> OpenAI chat.completions body. When
// streaming, the OpenAI body asks for stream_options.include_usage (the
// Anthropic stream reports usage).
core::Result<provider::TranslatedRequest>
to_chat_request(std::string_view messages_body);

} // namespace sluice::api::messages
