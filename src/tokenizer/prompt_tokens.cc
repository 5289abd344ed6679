#include "tokenizer/prompt_tokens.h"

#include <boost/json.hpp>

#include "tokenizer/tokenizer.h"

namespace sluice::tokenizer {
namespace {

namespace json = boost::json;

template <class CountText>
std::size_t count_part(const json::value& part, const CountText& count_text) {
  const json::object* p = part.if_object();
  if (p == nullptr) return 0;
  const json::value* type = p->if_contains("type");
  const json::string* t = type != nullptr ? type->if_string() : nullptr;
  if (t == nullptr) return 0;
  if (*t == "text") {
    const json::value* text = p->if_contains("text");
    return text != nullptr && text->is_string() ? count_text(text->get_string()) : 0;
  }
  if (*t == "image_url") {
    const json::value* image = p->if_contains("image_url");
    const json::value* detail = image != nullptr && image->is_object()
                                    ? image->get_object().if_contains("detail")
                                    : nullptr;
    const bool low = detail != nullptr && detail->is_string() && detail->get_string() == "low";
    return low ? kLowDetailImageTokens : kImageTokens;
  }
  return 0;
}

// A function call ({"name": ..., "arguments": ...}): both strings count as text.
template <class CountText>
std::size_t count_function(const json::value& function, const CountText& count_text) {
  const json::object* f = function.if_object();
  if (f == nullptr) return 0;
  std::size_t tokens = 0;
  for (std::string_view key : {"name", "arguments"}) {
    const json::value* v = f->if_contains(key);
    if (v != nullptr && v->is_string()) tokens += count_text(v->get_string());
  }
  return tokens;
}

template <class CountText>
std::size_t count_messages(const json::array& messages, const CountText& count_text) {
  std::size_t tokens = kReplyPrimingTokens;
  for (const json::value& m : messages) {
    const json::object* message = m.if_object();
    if (message == nullptr) continue;
    tokens += kTokensPerMessage;
    for (const json::key_value_pair& member : *message) {
      const json::value& value = member.value();
      if (const json::string* s = value.if_string()) {
        tokens += count_text(*s);
      } else if (member.key() == "content" && value.is_array()) {
        for (const json::value& part : value.get_array()) tokens += count_part(part, count_text);
      } else if (member.key() == "tool_calls" && value.is_array()) {
        for (const json::value& call : value.get_array()) {
          if (const json::object* c = call.if_object(); c != nullptr) {
            if (const json::value* f = c->if_contains("function")) {
              tokens += count_function(*f, count_text);
            }
          }
        }
      } else if (member.key() == "function_call") {
        tokens += count_function(value, count_text);
      }
      if (member.key() == "name") tokens += kTokensPerName;
    }
  }
  return tokens;
}

}  // namespace

std::size_t count_chat(const json::array& messages, Encoding encoding) {
  const Tokenizer& tokenizer = Tokenizer::get(encoding);
  return count_messages(messages,
                        [&tokenizer](std::string_view text) { return tokenizer.count(text); });
}

std::size_t estimate(std::string_view text) { return estimate_bytes(text.size()); }

PromptTokens count_prompt_tokens(std::string_view model, std::string_view text) {
  if (const auto encoding = encoding_for_model(model)) {
    return PromptTokens{Tokenizer::get(*encoding).count(text), true};
  }
  return PromptTokens{estimate(text), false};
}

PromptTokens count_prompt_tokens(std::string_view model, const json::array& messages) {
  if (const auto encoding = encoding_for_model(model)) {
    return PromptTokens{count_chat(messages, *encoding), true};
  }
  return PromptTokens{
      count_messages(messages, [](std::string_view text) { return estimate(text); }), false};
}

}  // namespace sluice::tokenizer
