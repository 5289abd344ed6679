#include "api/json_scan.h"

namespace sluice::api {

namespace {

bool space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// One past the closing quote of the string whose opening quote is text[at].
std::size_t string_end(std::string_view text, std::size_t at) {
  for (std::size_t i = at + 1; i < text.size(); ++i) {
    if (text[i] == '\\') {
      ++i;
    } else if (text[i] == '"') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

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

}  // namespace sluice::api
