// The OpenAI encodings Sluice counts exactly, and which one a model uses.
//
// encoding_for_model follows tiktoken's tiktoken/model.py (MODEL_TO_ENCODING and
// MODEL_PREFIX_TO_ENCODING): o200k_base for the gpt-4o, gpt-4.1, gpt-4.5 and gpt-5 families,
// chatgpt-4o, the o1, o3 and o4 reasoning models and gpt-oss (whose o200k_harmony adds only
// special tokens to o200k_base); cl100k_base for gpt-4 and gpt-4-turbo, gpt-3.5-turbo (and
// Azure's gpt-35-turbo), text-embedding-ada-002, text-embedding-3-*, davinci-002 and
// babbage-002. A family matches its name alone or followed by '-', '.' or ':' ("gpt-4o-mini",
// "gpt-5.1", "o3-pro"), so "gpt-4" is not taken for "gpt-4o". Fine-tuned models ("ft:gpt-4o-mini:
// org::id") use their base model's encoding. Anything else (other providers, older OpenAI
// models) has no exact encoding here: nullopt, and callers estimate (prompt_tokens.h).
//
// Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string_view>

namespace sluice::tokenizer {

enum class Encoding { kO200kBase, kCl100kBase };

// "o200k_base", "cl100k_base".
std::string_view encoding_name(Encoding encoding);

std::optional<Encoding> encoding_for_model(std::string_view model);

}  // namespace sluice::tokenizer
