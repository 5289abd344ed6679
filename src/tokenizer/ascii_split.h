// A fast path for the pre-tokenizer: tiktoken's o200k_base and cl100k_base patterns, matched by
// hand on ASCII text, where PCRE2's JIT spends about 50 ns a piece (70% of a count of English
// text). Each function gives the end of the match that the pattern finds at `pos`, with the
// pattern's own backtracking order, or kUndecided as soon as the answer would depend on a byte
// of 0x80 or above (whether a character is a letter, a digit or a space): the caller then asks
// PCRE2 at the same position. So the fast path never has to know Unicode, and text that is not
// ASCII is matched exactly as before.
//
// matcher_for(pattern) returns the matcher for a pattern it knows byte for byte (the pat_str of
// js-tiktoken 1.0.21), nullptr for any other: a vocabulary with a changed pattern is then split
// by PCRE2 alone, still exactly. Unit tests compare both paths on random text.
//
// Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string_view>

namespace sluice::tokenizer {

inline constexpr std::size_t kUndecided = std::string_view::npos;

using AsciiMatcher = std::size_t (*)(std::string_view text, std::size_t pos);

std::size_t match_o200k_ascii(std::string_view text, std::size_t pos);
std::size_t match_cl100k_ascii(std::string_view text, std::size_t pos);

AsciiMatcher matcher_for(std::string_view pattern);

}  // namespace sluice::tokenizer
