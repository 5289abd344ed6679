// Reading and writing JSON text where it is done per request or per stream event (the
// translators of api/anthropic_messages.h and provider/, the access log): a parser whose arena
// the next document reuses, and writers that append straight to an output string instead of
// building a document to serialize.
//
// Thread safety: the writers are pure; a JsonArenaParser belongs to one user at a time.
#pragma once

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/asio.h"

namespace sluice::api {

// What JsonArenaParser reads, for a document parsed otherwise (json::parse into an arena of the
// caller's): nesting up to 128 deep.
json::parse_options json_parse_options();

// Parses one document at a time into an arena that the next parse reuses: a stream's chunks are
// small and dropped as soon as they are read, so a chunk that fits the first block (most do)
// costs no heap allocation at all. Documents nest at most 128 deep (a tool's JSON schema may be
// deep; the default of 32 is not enough for every one).
//
// The arena is made anew for each document rather than release()d: Boost 1.81's
// monotonic_resource keeps doubling the size of its next block across release(), so a parser
// that met a few dozen documents larger than the first block would ask for terabytes.
class JsonArenaParser {
 public:
  JsonArenaParser();
  JsonArenaParser(const JsonArenaParser&) = delete;
  JsonArenaParser& operator=(const JsonArenaParser&) = delete;

  // The value stays valid until the next parse(); nullptr when `text` is not one JSON document,
  // with the byte where it broke in `error_at` and the reason in `ec`.
  const json::value* parse(std::string_view text);
  const json::value* parse(std::string_view text, boost::system::error_code& ec,
                           std::size_t& error_at);

 private:
  unsigned char temp_[2048];
  unsigned char first_block_[4096];
  std::optional<json::monotonic_resource> arena_;
  json::parser parser_;
  std::optional<json::value> value_;
};

// `s` as a JSON string, quotes included: '"', '\\' and the control characters are escaped, as
// Boost.JSON does (\b \f \n \r \t, a six-character escape for the others), and nothing more. Every
// other byte is copied as it is: UTF-8 passes through (CJK and emoji come out as they came in), and
// so would bytes that are not UTF-8, which is why text must be valid UTF-8 to make valid JSON (the
// parser guarantees it of what it read).
void append_json_string(std::string& out, std::string_view s);

// The same without the quotes, for a string written in pieces ("data:" + type + ";base64," ...).
void append_json_chars(std::string& out, std::string_view s);

// `v` serialized (compact), straight into `out`: members in their order, strings escaped as
// above, doubles as append_double writes them. `v` nests no deeper than the parser allows.
void append_json(std::string& out, const json::value& v);

void append_uint(std::string& out, std::uint64_t n);
void append_int(std::string& out, std::int64_t n);

// `d` in its shortest form that reads back as the same double ("0.7", "1", "1e+300"); 0 for an
// infinity or NaN, which JSON cannot write (a parsed number is always finite: this only keeps a
// computed one from making the output invalid).
void append_double(std::string& out, double d);

// A JSON number as a count: a non-negative integer (or a non-negative double, truncated);
// nullopt for anything else.
std::optional<std::uint64_t> json_count(const json::value* v);

}  // namespace sluice::api
