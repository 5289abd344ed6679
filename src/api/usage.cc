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

// The last `member` (which starts with a quote) in text[0, end): memrchr finds each quote from
// the end, so only quotes are compared, not every position as string_view::rfind does.
std::size_t last_member(std::string_view text, std::size_t end, std::string_view member) {
  while (end != 0) {
    const void* q = ::memrchr(text.data(), '"', end);
    if (q == nullptr) return std::string_view::npos;
    std::size_t at = static_cast<std::size_t>(static_cast<const char*>(q) - text.data());
    if (text.substr(at, member.size()) == member) return at;
    end = at;
  }
  return std::string_view::npos;
}

}  // namespace

std::optional<Usage> find_usage(std::string_view text) {
  // Scanned, not parsed: this runs on every answer, and a usage object is a few flat numbers
  // (and one nested `*_tokens_details`), which a scan reads for a tenth of a parse's cost.
  constexpr std::string_view kMember = "\"usage\"";
  std::size_t end = text.size();
  while (end != 0) {
    std::size_t at = last_member(text, end, kMember);
    if (at == std::string_view::npos) return std::nullopt;
    end = at;
    std::size_t i = at + kMember.size();
    while (i < text.size() && space(text[i])) ++i;
    if (i >= text.size() || text[i] != ':') continue;  // a string "usage", not a member
    ++i;
    while (i < text.size() && space(text[i])) ++i;
    if (i >= text.size() || text[i] != '{') continue;  // "usage": null
    std::size_t close = json_value_end(text, i);
    if (close == std::string_view::npos) continue;
    std::string_view object = text.substr(i, close - i);
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
  return std::nullopt;
}

}  // namespace sluice::api
