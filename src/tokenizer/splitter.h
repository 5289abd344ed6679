// The pre-tokenizer: splits text into the pieces that byte-pair merging then encodes one by one,
// with the encoding's own pattern (tiktoken's pat_str, from the embedded vocabulary) compiled by
// PCRE2 with its JIT.
//
// The pattern is matched on bytes in UTF mode with PCRE2_UCP (so \p{L} and \p{N} are Unicode's,
// as in tiktoken) and PCRE2_MATCH_INVALID_UTF: a byte sequence that is not valid
// UTF-8 can never be part of a match, and such a run of bytes between two matches comes out as a
// piece of its own. So the pieces always add up to the whole input, every byte is counted, and
// no input can make matching fail. (tiktoken itself never sees invalid UTF-8: Python's str and
// JavaScript's strings cannot hold it; there the closest thing is U+FFFD, three bytes.)
//
// \s and \S are rewritten to Unicode's White_Space, which is what \s means to the regex crate
// tiktoken uses: PCRE2's \s also takes U+180E (MONGOLIAN VOWEL SEPARATOR, a format character
// since Unicode 6.3), and with it "\u180e's" splits differently. (JavaScript's \s takes U+FEFF,
// so js-tiktoken differs from tiktoken there; tiktoken is what OpenAI runs, and is followed.)
// \p{L}, \p{N} and the rest come from PCRE2's Unicode tables (Unicode 14 in PCRE2 10.42): a
// letter added to Unicode after that counts as a symbol, a difference only for such letters.
//
// ASCII text, most of what is counted, skips PCRE2: ascii_split.h matches the two known patterns
// by hand there, and hands anything else back to PCRE2.
//
// If matching ever fails for another reason (PCRE2 reports an error, such as its JIT stack
// running out, which the pattern and the 8 MiB limit make unreachable in practice), the rest of
// the text becomes one last piece: still counted byte by byte, no longer exactly as tiktoken.
//
// Thread safety: a Splitter is immutable after construction and may be shared; each Cursor is one
// pass over one text on one thread, and uses that thread's own PCRE2 match data and JIT stack.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tokenizer/ascii_split.h"

namespace sluice::tokenizer {

struct SplitterCode;
struct ThreadMatchState;

class Splitter {
 public:
  // The pattern as PCRE2 is given it: `pattern` with \s and \S spelled out as White_Space.
  // Throws std::runtime_error for a \S inside a character class (tiktoken's patterns have none).
  static std::string translate(std::string_view pattern);

  // Throws std::runtime_error naming the problem if the pattern does not compile. With
  // `ascii_fast_path`, pieces of ASCII text are found by ascii_split.h when it knows the pattern
  // (tests turn it off to compare).
  explicit Splitter(std::string_view pattern, bool ascii_fast_path = true);
  ~Splitter();
  Splitter(const Splitter&) = delete;
  Splitter& operator=(const Splitter&) = delete;

  class Cursor {
   public:
    // The next piece, or false at the end of the text. Pieces are never empty.
    bool next(std::string_view& piece);

   private:
    friend class Splitter;
    Cursor(const Splitter& splitter, std::string_view text);

    const Splitter& splitter_;
    ThreadMatchState& state_;
    std::string_view text_;
    std::size_t pos_ = 0;
    // A match found after a run of invalid bytes, returned on the call after that run.
    std::size_t pending_begin_ = 0;
    std::size_t pending_end_ = 0;
  };

  Cursor split(std::string_view text) const { return Cursor(*this, text); }
  bool jit() const;
  bool ascii_fast_path() const { return ascii_ != nullptr; }

 private:
  SplitterCode* code_;
  AsciiMatcher ascii_ = nullptr;
};

}  // namespace sluice::tokenizer
