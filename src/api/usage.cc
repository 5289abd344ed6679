#include "api/usage.h"

#include <string.h>

#include <charconv>

#include "api/json_scan.h"

namespace sluice::api {

namespace {

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The non-negative integer value of member `name` (quotes included) anywhere in `object`, or 0.
// Member names cannot occur inside string values: their quotes would be escaped there.
std::uint64_t count(std::string_view object, std::string_view name) {
  std::size_t at = object.find(name);
  if (at == std::string_view::npos) return 0;
  std::size_t i = at + name.size();
  while (i < object.size() && (space(object[i]) || object[i] == ':')) ++i;
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(object.data() + i, object.data() + object.size(), v);
  return ec == std::errc() ? v : 0;
}

}  // namespace

std::optional<Usage> find_usage(std::string_view text) {
  // Scanned, not parsed: this runs on every answer and every batch of stream events, and a usage
  // object is a few flat numbers (and one nested `*_tokens_details`). memmem goes forward over
  // the text at memory speed; the last "usage" member whose value is an object wins (a stream's
  // other chunks may carry "usage": null).
  constexpr std::string_view kMember = "\"usage\"";
  std::string_view object;
  std::size_t from = 0;
  while (from < text.size()) {
    const void* hit =
        ::memmem(text.data() + from, text.size() - from, kMember.data(), kMember.size());
    if (hit == nullptr) break;
    std::size_t i =
        static_cast<std::size_t>(static_cast<const char*>(hit) - text.data()) + kMember.size();
    from = i;
    while (i < text.size() && space(text[i])) ++i;
    if (i >= text.size() || text[i] != ':') continue;  // a string "usage", not a member
    ++i;
    while (i < text.size() && space(text[i])) ++i;
    if (i >= text.size() || text[i] != '{') continue;  // "usage": null
    std::size_t close = json_value_end(text, i);
    if (close == std::string_view::npos) continue;
    object = text.substr(i, close - i);
    from = close;
  }
  if (object.empty()) return std::nullopt;
  Usage u;
  u.prompt_tokens = count(object, "\"prompt_tokens\"");
  u.completion_tokens = count(object, "\"completion_tokens\"");
  if (u.prompt_tokens == 0 && u.completion_tokens == 0) {
    u.prompt_tokens = count(object, "\"input_tokens\"");
    u.completion_tokens = count(object, "\"output_tokens\"");
  }
  u.cached_tokens = count(object, "\"cached_tokens\"");
  return u;
}

}  // namespace sluice::api
