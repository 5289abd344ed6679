#include "api/usage.h"

#include <string.h>

#include <algorithm>
#include <charconv>

#include "api/json_scan.h"

namespace sluice::api {

namespace {

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view text, std::size_t i) {
  while (i < text.size() && space(text[i])) ++i;
  return i;
}

// The counts a usage object names, each the first of its name at any depth (cached_tokens sits in
// prompt_tokens_details), read in one pass over the object whose '{' is text[at]; npos for `end`
// when the object does not close.
struct Scanned {
  std::optional<std::uint64_t> prompt, completion, input, output, cached;
  std::size_t end = std::string_view::npos;
};

Scanned scan_usage_object(std::string_view text, std::size_t at) {
  Scanned s;
  int depth = 0;
  for (std::size_t i = at; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) {
        s.end = i + 1;
        return s;
      }
    } else if (c == '"') {
      std::size_t close = json_value_end(text, i);
      if (close == std::string_view::npos) return s;
      // Escapes are left as they are: the names wanted have none.
      std::string_view name = text.substr(i + 1, close - i - 2);
      i = close - 1;
      std::size_t v = skip_space(text, close);
      if (v >= text.size() || text[v] != ':') continue;  // a string value, not a member name
      std::optional<std::uint64_t>* slot = nullptr;
      if (name == "prompt_tokens") {
        slot = &s.prompt;
      } else if (name == "completion_tokens") {
        slot = &s.completion;
      } else if (name == "cached_tokens") {
        slot = &s.cached;
      } else if (name == "input_tokens") {
        slot = &s.input;
      } else if (name == "output_tokens") {
        slot = &s.output;
      }
      if (slot == nullptr || slot->has_value()) continue;
      v = skip_space(text, v + 1);
      std::uint64_t n = 0;
      auto [ptr, ec] = std::from_chars(text.data() + v, text.data() + text.size(), n);
      *slot = ec == std::errc() ? n : 0;
      i = static_cast<std::size_t>(ptr - text.data()) - 1;
    }
  }
  return s;
}

// Where the last `"usage"` in `text` that starts before `before` starts, or npos. memrchr jumps
// back from 'u' to 'u', a letter rare in the member names that follow usage in an answer, so an
// answer whose usage comes last (OpenAI's) is found after a few jumps, whatever its length.
std::size_t last_usage_name(std::string_view text, std::size_t before) {
  constexpr std::string_view kMember = "\"usage\"";
  if (text.size() < kMember.size()) return std::string_view::npos;
  // The 'u' of a candidate starting in [0, limit) lies in [1, limit + 1).
  std::size_t limit = std::min(before, text.size() - kMember.size() + 1);
  while (limit > 0) {
    const void* u = ::memrchr(text.data() + 1, 'u', limit);
    if (u == nullptr) break;
    std::size_t at = static_cast<std::size_t>(static_cast<const char*>(u) - text.data()) - 1;
    if (text.compare(at, kMember.size(), kMember) == 0) return at;
    limit = at;
  }
  return std::string_view::npos;
}

}  // namespace

std::optional<Usage> find_usage(std::string_view text) {
  // Scanned, not parsed: this runs on every answer and every batch of stream events, and a usage
  // object is a few flat numbers (and one nested `*_tokens_details`). The last "usage" member
  // whose value is an object wins (a stream's other chunks may carry "usage": null); a member
  // name cannot occur inside a string value, where its quotes would be escaped.
  for (std::size_t before = text.size();;) {
    std::size_t at = last_usage_name(text, before);
    if (at == std::string_view::npos) return std::nullopt;
    before = at;
    std::size_t i = skip_space(text, at + 7);
    if (i >= text.size() || text[i] != ':') continue;  // a string "usage", not a member
    i = skip_space(text, i + 1);
    if (i >= text.size() || text[i] != '{') continue;  // "usage": null
    Scanned s = scan_usage_object(text, i);
    if (s.end == std::string_view::npos) continue;
    Usage u;
    u.prompt_tokens = s.prompt.value_or(0);
    u.completion_tokens = s.completion.value_or(0);
    if (u.prompt_tokens == 0 && u.completion_tokens == 0) {
      u.prompt_tokens = s.input.value_or(0);
      u.completion_tokens = s.output.value_or(0);
    }
    u.cached_tokens = s.cached.value_or(0);
    return u;
  }
}

}  // namespace sluice::api
