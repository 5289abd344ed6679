// Finding where a JSON value ends without parsing it: a byte scan that skips strings (with their
// escapes) and counts brackets. For text that was already validated (stage 4 parsed the body),
// where only the bounds of one member are wanted: the usage object of an answer, the prompt of a
// request.
//
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace sluice::api {

// One past the end of the value that starts at text[at] (after any whitespace): a string, an
// object or an array, or a scalar (up to the next ',', '}' or ']'). npos when it does not end
// inside `text`.
std::size_t json_value_end(std::string_view text, std::size_t at);

// Where `part`, a key or string a SAX parser handed over, starts in `text`: an unescaped one in a
// document parsed in one piece points into it, with its closing quote after it. npos when `part`
// is elsewhere (a copy the parser made to decode an escape).
std::size_t offset_in(std::string_view text, std::string_view part);

}  // namespace sluice::api
