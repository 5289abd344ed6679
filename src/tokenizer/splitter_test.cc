#include "tokenizer/splitter.h"

#include <gtest/gtest.h>

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

TEST(SplitterTest, BadPatternThrows) { EXPECT_THROW(Splitter("(unclosed"), std::runtime_error); }

}  // namespace
}  // namespace sluice::tokenizer
