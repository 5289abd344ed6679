// multipart/form-data (RFC 7578, framed as RFC 2046 says), as `POST /v1/files` receives it: the
// boundary from the Content-Type header, then the parts of a body that is already in memory.
// Parts are views into that body, so a 100 MiB upload is not copied to be parsed.
//
// What is accepted: CRLF line endings (a bare LF too, as some clients write the part headers);
// a preamble before the first delimiter and an epilogue after the last; transport padding (spaces
// and tabs) after a delimiter; header names in any case; Content-Disposition parameters quoted
// (with backslash escapes) or bare. A delimiter is CRLF, "--" and the boundary followed by "--",
// padding or a line end: the same bytes followed by anything else are content.
//
// Bounded: at most kMaxParts parts and kMaxPartHeaderBytes of headers per part; anything over, a
// missing closing delimiter, or a part without a form-data Content-Disposition naming it is an
// error (Errc::kInvalidRequest) that says what is wrong.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace sluice::http {

struct MultipartPart {
  std::string name;                     // Content-Disposition's `name`
  std::optional<std::string> filename;  // its `filename`, when the part is a file
  std::string content_type;             // the part's Content-Type; empty when it has none
  std::string_view body;                // the part's bytes, inside the body that was parsed
};

inline constexpr std::size_t kMaxMultipartParts = 32;
inline constexpr std::size_t kMaxPartHeaderBytes = 8 * 1024;

// The boundary of a `multipart/form-data; boundary=...` Content-Type (quoted or not, 1 to 70
// characters). An error when the type is another one or the boundary is missing or malformed.
core::Result<std::string> multipart_boundary(std::string_view content_type);

// The parts of `body`, in order; their views point into `body`.
core::Result<std::vector<MultipartPart>> parse_multipart(std::string_view body,
                                                         std::string_view boundary);

// The first part named `name`, or null.
const MultipartPart* find_part(const std::vector<MultipartPart>& parts, std::string_view name);

}  // namespace sluice::http
