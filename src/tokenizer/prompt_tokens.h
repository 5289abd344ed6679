// Prompt token counts for reserving tokens per minute before a call: exact for models on
// o200k_base or cl100k_base, a documented estimate for every other model.
//
// Chat framing (count_chat) follows OpenAI's cookbook "How to count tokens with tiktoken"
// (num_tokens_from_messages, for gpt-4o, gpt-4o-mini and gpt-4): each message costs 3 tokens
// of framing (<|start|>, the role's end, <|end|>) plus the tokens of every string member's value
// (role and content alike), 1 more when it has a `name`, and the reply is primed with 3 more
// (<|start|>assistant<|message|>). The cookbook checks this function against the prompt_tokens
// the API reports, which are the tokens OpenAI bills, for those models. Beyond the cookbook:
// - content given as an array of parts counts the `text` of its text parts; an image part counts
//   kImageTokens (kLowDetailImageTokens with "detail": "low"); other parts (audio, files) count
//   nothing, since their size is not in the request;
// - `tool_calls` count each call's function name and arguments as text, and a legacy
//   `function_call` its name and arguments;
// - the request's `tools` (function definitions) are not part of messages and are not counted.
// The real usage, reported by the provider afterwards, is what the limiter settles against.
//
// The estimate is ceil(bytes / 4): OpenAI's rule of thumb of four characters a token for
// English. It is not exact for any model (for CJK text it is low: a CJK character is three
// bytes and often a token or more).
//
// Pure functions, thread-safe (they use the shared tokenizers, built on first use).
#pragma once

#include <boost/json/fwd.hpp>

#include <cstddef>
#include <string_view>

#include "tokenizer/encoding.h"

namespace sluice::tokenizer {

inline constexpr std::size_t kTokensPerMessage = 3;
inline constexpr std::size_t kTokensPerName = 1;
inline constexpr std::size_t kReplyPrimingTokens = 3;
// What OpenAI bills gpt-4o for a 1024 x 1024 image at detail "high" or "auto": 85 base tokens
// plus 170 for each of four 512-pixel tiles. The image's real size is not in the request.
inline constexpr std::size_t kImageTokens = 765;
inline constexpr std::size_t kLowDetailImageTokens = 85;

// Tokens of `messages` (a chat request's "messages" array) with the cookbook's framing.
// Elements that are not objects, and members of unexpected types, add nothing.
std::size_t count_chat(const boost::json::array& messages, Encoding encoding);

// ceil(text.size() / 4), and the same for a size in bytes.
inline std::size_t estimate_bytes(std::size_t bytes) { return (bytes + 3) / 4; }
std::size_t estimate(std::string_view text);

struct PromptTokens {
  std::size_t tokens = 0;
  bool exact = false;  // false: an estimate (the model has no known encoding)
};

// Exact when encoding_for_model(model) knows the model, else the estimate (for messages: the
// same framing, with each text estimated).
PromptTokens count_prompt_tokens(std::string_view model, std::string_view text);
PromptTokens count_prompt_tokens(std::string_view model, const boost::json::array& messages);

}  // namespace sluice::tokenizer
