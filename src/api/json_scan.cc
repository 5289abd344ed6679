#include "api/json_scan.h"

#include <functional>

#include <array>
#include <cstring>

namespace sluice::api {

namespace {

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// One past the closing quote of the string whose opening quote is text[at]. memchr jumps from
// quote to quote; a quote counts as closing when an even number of backslashes precede it.
std::size_t string_end(std::string_view text, std::size_t at) {
  const char* begin = text.data();
  const char* end = begin + text.size();
  for (const char* p = begin + at + 1; p < end;) {
    const char* q =
        static_cast<const char*>(std::memchr(p, '"', static_cast<std::size_t>(end - p)));
    if (q == nullptr) break;
    const char* b = q;
    while (b > p && b[-1] == '\\') --b;
    if ((q - b) % 2 == 0) return static_cast<std::size_t>(q - begin) + 1;
    p = q + 1;
  }
  return std::string_view::npos;
}

// The characters that matter between an object's or an array's members.
constexpr std::array<bool, 256> kStructural = [] {
  std::array<bool, 256> t{};
  for (unsigned char c : {'"', '{', '}', '[', ']'}) t[c] = true;
  return t;
}();

}  // namespace

std::size_t json_value_end(std::string_view text, std::size_t at) {
  while (at < text.size() && space(text[at])) ++at;
  if (at >= text.size()) return std::string_view::npos;
  char first = text[at];
  if (first == '"') return string_end(text, at);
  if (first != '{' && first != '[') {
    std::size_t i = at;
    while (i < text.size() && text[i] != ',' && text[i] != '}' && text[i] != ']' &&
           !space(text[i])) {
      ++i;
    }
    return i;
  }
  int depth = 0;
  for (std::size_t i = at; i < text.size(); ++i) {
    char c = text[i];
    if (!kStructural[static_cast<unsigned char>(c)]) continue;
    if (c == '"') {
      i = string_end(text, i);
      if (i == std::string_view::npos) return i;
      --i;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

std::size_t offset_in(std::string_view text, std::string_view part) {
  // Compared as addresses: std::less gives a total order even for pointers into other arrays.
  std::less<const char*> before;
  if (before(part.data(), text.data()) ||
      !before(part.data() + part.size(), text.data() + text.size())) {
    return std::string_view::npos;
  }
  return static_cast<std::size_t>(part.data() - text.data());
}

}  // namespace sluice::api
