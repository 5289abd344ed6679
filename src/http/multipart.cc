#include "http/multipart.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "core/strings.h"

namespace sluice::http {

namespace {

using core::Errc;

core::Error invalid(std::string message) {
  return core::Error(Errc::kInvalidRequest, std::move(message));
}

bool is_space(char c) { return c == ' ' || c == '\t'; }

// The parameters after a header value's first ';': `; key=value` with the value a token or a
// quoted string (backslash escapes a character). Keys come back lower-cased. nullopt when a
// quoted string does not end or a parameter has no '='.
std::optional<std::vector<std::pair<std::string, std::string>>> parameters(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < text.size() && is_space(text[i])) ++i;
  };
  for (;;) {
    skip_space();
    if (i == text.size()) return out;
    if (text[i] != ';') return std::nullopt;
    ++i;
    skip_space();
    if (i == text.size()) return out;  // a trailing ';' is harmless
    std::size_t key_start = i;
    while (i < text.size() && text[i] != '=' && text[i] != ';' && !is_space(text[i])) ++i;
    std::string key = core::to_lower(text.substr(key_start, i - key_start));
    skip_space();
    if (key.empty() || i == text.size() || text[i] != '=') return std::nullopt;
    ++i;
    skip_space();
    std::string value;
    if (i < text.size() && text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        char c = text[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < text.size()) c = text[i++];
        value.push_back(c);
      }
      if (!closed) return std::nullopt;
    } else {
      std::size_t value_start = i;
      while (i < text.size() && text[i] != ';' && !is_space(text[i])) ++i;
      value.assign(text.substr(value_start, i - value_start));
    }
    out.emplace_back(std::move(key), std::move(value));
  }
}

const std::string* parameter(const std::vector<std::pair<std::string, std::string>>& params,
                             std::string_view key) {
  for (const auto& [k, v] : params) {
    if (k == key) return &v;
  }
  return nullptr;
}

// RFC 2046's bchars: what a boundary may be made of (a space, but not at the end).
bool is_boundary_char(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

// After "--boundary" at `at`: where the next part starts (past padding and the line end), npos
// for the closing delimiter ("--"), or nullopt when these bytes are not a delimiter at all.
std::optional<std::size_t> after_delimiter(std::string_view body, std::size_t at) {
  if (body.substr(at, 2) == "--") return std::string_view::npos;
  while (at < body.size() && is_space(body[at])) ++at;
  if (body.substr(at, 2) == "\r\n") return at + 2;
  if (body.substr(at, 1) == "\n") return at + 1;
  return std::nullopt;
}

// One line of a part's head, without its line end; advances `at` past it. nullopt when no line
// end comes before `limit`.
std::optional<std::string_view> head_line(std::string_view body, std::size_t& at,
                                          std::size_t limit) {
  std::size_t end = body.find('\n', at);
  if (end == std::string_view::npos || end >= limit) return std::nullopt;
  std::string_view line = body.substr(at, end - at);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  at = end + 1;
  return line;
}

core::Result<MultipartPart> read_head(std::string_view body, std::size_t& at, std::size_t index) {
  const std::size_t limit = std::min(body.size(), at + kMaxPartHeaderBytes);
  const std::string which = "part " + std::to_string(index + 1);
  MultipartPart part;
  bool disposition = false;
  for (;;) {
    auto line = head_line(body, at, limit);
    if (!line) {
      return invalid("multipart body: the headers of " + which + " do not end within " +
                     core::format_bytes(kMaxPartHeaderBytes) + " (a blank line ends them)");
    }
    if (line->empty()) break;
    std::size_t colon = line->find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return invalid("multipart body: " + which + " has a malformed header line (no name: value)");
    }
    std::string_view name = core::trim(line->substr(0, colon));
    std::string_view value = core::trim(line->substr(colon + 1));
    if (core::iequals(name, "content-type")) {
      part.content_type.assign(value);
    } else if (core::iequals(name, "content-disposition")) {
      std::size_t semi = value.find(';');
      std::string_view type = core::trim(value.substr(0, semi));
      if (!core::iequals(type, "form-data")) {
        return invalid("multipart body: the Content-Disposition of " + which +
                       " must be form-data, got \"" + std::string(type) + "\"");
      }
      auto params = parameters(semi == std::string_view::npos ? "" : value.substr(semi));
      if (!params) {
        return invalid("multipart body: the Content-Disposition of " + which +
                       " has malformed parameters");
      }
      const std::string* field = parameter(*params, "name");
      if (field == nullptr || field->empty()) {
        return invalid("multipart body: the Content-Disposition of " + which + " has no name");
      }
      part.name = *field;
      if (const std::string* file = parameter(*params, "filename")) part.filename = *file;
      disposition = true;
    }
  }
  if (!disposition) {
    return invalid("multipart body: " + which + " has no Content-Disposition header");
  }
  return part;
}

}  // namespace

core::Result<std::string> multipart_boundary(std::string_view content_type) {
  std::size_t semi = content_type.find(';');
  std::string_view type = core::trim(content_type.substr(0, semi));
  if (!core::iequals(type, "multipart/form-data")) {
    return invalid(
        "The request must be multipart/form-data (got " +
        (type.empty() ? std::string("no Content-Type") : "\"" + std::string(type) + "\"") + ").");
  }
  auto params = parameters(semi == std::string_view::npos ? "" : content_type.substr(semi));
  const std::string* boundary = params ? parameter(*params, "boundary") : nullptr;
  if (boundary == nullptr) {
    return invalid("The multipart/form-data Content-Type has no boundary parameter.");
  }
  if (boundary->empty() || boundary->size() > 70 || boundary->back() == ' ' ||
      !std::all_of(boundary->begin(), boundary->end(), is_boundary_char)) {
    return invalid(
        "The multipart/form-data boundary must be 1 to 70 letters, digits or '()+_,-./:=? "
        "characters.");
  }
  return *boundary;
}

core::Result<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                         std::string_view boundary) {
  if (boundary.empty()) return invalid("multipart body: no boundary");
  // A delimiter starts a line: "\n--boundary", its "\r" (when there) part of the delimiter too.
  const std::string delimiter = "\n--" + std::string(boundary);
  const std::boyer_moore_horspool_searcher search(delimiter.begin(), delimiter.end());
  auto find_delimiter = [&](std::size_t from) -> std::size_t {
    auto it = std::search(body.begin() + static_cast<std::ptrdiff_t>(from), body.end(), search);
    return it == body.end() ? std::string_view::npos : static_cast<std::size_t>(it - body.begin());
  };
  auto missing_close = [&] {
    return invalid("multipart body: it ends before the closing boundary (--" +
                   std::string(boundary) + "--)");
  };

  // The first delimiter may open the body, without a line end before it.
  std::optional<std::size_t> next;
  if (body.substr(0, delimiter.size() - 1) == std::string_view(delimiter).substr(1)) {
    next = after_delimiter(body, delimiter.size() - 1);
  }
  for (std::size_t from = 0; !next;) {
    std::size_t at = find_delimiter(from);
    if (at == std::string_view::npos) {
      return invalid("multipart body: no part starts with the boundary (--" +
                     std::string(boundary) + ") that the Content-Type names");
    }
    next = after_delimiter(body, at + delimiter.size());
    from = at + 1;
  }
  if (*next == std::string_view::npos) return invalid("multipart body: it has no parts");

  std::vector<MultipartPart> parts;
  std::size_t at = *next;
  for (;;) {
    if (parts.size() == kMaxMultipartParts) {
      return invalid("multipart body: more than " + std::to_string(kMaxMultipartParts) + " parts");
    }
    auto part = read_head(body, at, parts.size());
    if (!part) return part.error();
    // The content runs to the next delimiter; the line end before it belongs to the delimiter.
    std::optional<std::size_t> after;
    std::size_t end = 0;
    for (std::size_t from = at; !after;) {
      end = find_delimiter(from);
      if (end == std::string_view::npos) return missing_close();
      after = after_delimiter(body, end + delimiter.size());
      from = end + 1;
    }
    std::size_t content_end = end > at && body[end - 1] == '\r' ? end - 1 : end;
    part->body = body.substr(at, content_end - at);
    parts.push_back(std::move(*part));
    if (*after == std::string_view::npos) return parts;
    at = *after;
  }
}

const MultipartPart* find_part(const std::vector<MultipartPart>& parts, std::string_view name) {
  for (const MultipartPart& p : parts) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace sluice::http
