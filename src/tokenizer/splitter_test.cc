#include "tokenizer/splitter.h"

#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "tokenizer/vocabulary.h"

namespace sluice::tokenizer {
namespace {

std::vector<std::string> pieces(const Splitter& splitter, std::string_view text) {
  std::vector<std::string> out;
  Splitter::Cursor cursor = splitter.split(text);
  for (std::string_view piece; cursor.next(piece);) out.emplace_back(piece);
  return out;
}

TEST(SplitterTest, TranslatesWhiteSpace) {
  const std::string ws =
      "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"
      "\\x{205F}\\x{3000}";
  EXPECT_EQ(Splitter::translate(R"(\s+(?!\S))"), "[" + ws + "]+(?![^" + ws + "])");
  EXPECT_EQ(Splitter::translate(R"([^\s\p{L}]\\s)"), "[^" + ws + "\\p{L}]\\\\s");
  EXPECT_THROW(Splitter::translate(R"([\S])"), std::runtime_error);
}

TEST(SplitterTest, Cl100kPieces) {
  const Splitter s(cl100k_base_vocabulary().pattern);
  EXPECT_TRUE(s.jit());
  EXPECT_EQ(pieces(s, "Hello, world! I'm 12345 ok  \n\n  x"),
            (std::vector<std::string>{"Hello", ",", " world", "!", " I", "'m", " ", "123", "45",
                                      " ok", "  \n\n", " ", " x"}));
  EXPECT_TRUE(pieces(s, "").empty());
}

TEST(SplitterTest, InvalidBytesArePiecesOfTheirOwn) {
  const Splitter s(o200k_base_vocabulary().pattern);
  EXPECT_EQ(pieces(s, "ab\xff\xfe cd\x80"),
            (std::vector<std::string>{"ab", "\xff\xfe", " cd", "\x80"}));
  EXPECT_EQ(pieces(s, "\xc3"), (std::vector<std::string>{"\xc3"}));
  // A truncated character ends the valid text before it.
  EXPECT_EQ(pieces(s, "\xe4\xbd\xa0\xe4\xbd"), (std::vector<std::string>{"你", "\xe4\xbd"}));
}

TEST(SplitterTest, AsciiFastPathKnowsBothPatterns) {
  EXPECT_TRUE(Splitter(o200k_base_vocabulary().pattern).ascii_fast_path());
  EXPECT_TRUE(Splitter(cl100k_base_vocabulary().pattern).ascii_fast_path());
  EXPECT_FALSE(Splitter(o200k_base_vocabulary().pattern, false).ascii_fast_path());
  EXPECT_FALSE(Splitter("\\s+|\\S+").ascii_fast_path());
}

// The hand-written ASCII matchers against PCRE2 alone, on random text that is mostly ASCII
// from the bytes the patterns care about, with some non-ASCII and invalid bytes mixed in.
TEST(SplitterTest, AsciiFastPathSplitsAsPcre2Does) {
  const std::vector<std::string> alphabet = {"a",
                                             "b",
                                             "z",
                                             "A",
                                             "B",
                                             "Z",
                                             "s",
                                             "S",
                                             "t",
                                             "T",
                                             "r",
                                             "R",
                                             "e",
                                             "E",
                                             "v",
                                             "V",
                                             "m",
                                             "M",
                                             "l",
                                             "L",
                                             "d",
                                             "D",
                                             "'",
                                             "0",
                                             "1",
                                             "9",
                                             " ",
                                             " ",
                                             " ",
                                             "\t",
                                             "\n",
                                             "\r",
                                             "\v",
                                             "\f",
                                             "/",
                                             "!",
                                             ".",
                                             ",",
                                             "-",
                                             "_",
                                             "\\",
                                             "\"",
                                             "#",
                                             "\x01",
                                             "\x1f",
                                             "\x7f",
                                             "\xc3\xa9",
                                             "\xc2\xa0",
                                             "\xe3\x80\x80",
                                             "\xe2\x82\xac",
                                             "\xd9\xa3",
                                             "\xe4\xbd\xa0",
                                             "\xff",
                                             "\x80"};
  std::mt19937 rng(99);
  for (const Vocabulary* v : {&o200k_base_vocabulary(), &cl100k_base_vocabulary()}) {
    const Splitter fast(v->pattern);
    const Splitter pcre2_only(v->pattern, false);
    for (int round = 0; round < 20000; ++round) {
      std::string text;
      const std::size_t length = rng() % 24;
      // Most rounds pure ASCII, the rest with the other fragments too.
      const std::size_t choices = round % 4 == 0 ? alphabet.size() : alphabet.size() - 8;
      for (std::size_t i = 0; i < length; ++i) text += alphabet[rng() % choices];
      ASSERT_EQ(pieces(fast, text), pieces(pcre2_only, text)) << v->name << ": \"" << text << "\"";
    }
  }
}

TEST(SplitterTest, BadPatternThrows) { EXPECT_THROW(Splitter("(unclosed"), std::runtime_error); }

}  // namespace
}  // namespace sluice::tokenizer
