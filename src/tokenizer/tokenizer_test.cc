#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace sluice::tokenizer {
namespace {

const Tokenizer& o200k() { return Tokenizer::get(Encoding::kO200kBase); }
const Tokenizer& cl100k() { return Tokenizer::get(Encoding::kCl100kBase); }

std::string decode(const Tokenizer& t, const std::vector<std::uint32_t>& ids) {
  std::string out;
  for (std::uint32_t id : ids) out += t.token_bytes(id);
  return out;
}

struct Known {
  Encoding encoding;
  std::string text;
  std::vector<std::uint32_t> ids;
};

// Every id below was printed by tiktoken 1.0.22's encode_ordinary (OpenAI's Rust core built to
// WebAssembly) and, but for the last one, is the same in js-tiktoken 1.0.21 (encode with no
// special tokens allowed or disallowed, i.e. encode_ordinary).
const std::vector<Known> kKnown = {
    {Encoding::kCl100kBase, "hello world", {15339, 1917}},
    {Encoding::kO200kBase, "hello world", {24912, 2375}},
    {Encoding::kCl100kBase, "Hello, world!", {9906, 11, 1917, 0}},
    {Encoding::kO200kBase, "Hello, world!", {13225, 11, 2375, 0}},
    {Encoding::kCl100kBase, "I'm here; they'LL see", {40, 2846, 1618, 26, 814, 6, 4178, 1518}},
    {Encoding::kO200kBase, "I'm here; they'LL see", {15390, 2105, 26, 1023, 6, 7454, 1921}},
    {Encoding::kCl100kBase, "  \n\n  x", {19124, 220, 865}},
    {Encoding::kO200kBase, "  \n\n  x", {11691, 220, 1215}},
    {Encoding::kCl100kBase, "你好，世界", {57668, 53901, 3922, 3574, 244, 98220}},
    {Encoding::kO200kBase, "你好，世界", {177519, 979, 28428}},
    {Encoding::kCl100kBase,
     "👋🏽 👨‍👩‍👧 🇯🇵",
     {9468, 239, 233, 9468, 237, 121, 62904, 101, 378, 235,  9468, 239,
      102,  378, 235, 9468, 239, 100, 11410, 229, 107, 9468, 229,  113}},
    {Encoding::kO200kBase,
     "👋🏽 👨‍👩‍👧 🇯🇵",
     {28823, 233, 52622, 121, 61138, 101, 2524, 28823, 102, 2524, 28823, 100, 173468, 107, 55506,
      113}},
    {Encoding::kCl100kBase, "12345678", {4513, 10961, 2495}},
    {Encoding::kO200kBase, "12345678", {7633, 19354, 4388}},
    {Encoding::kCl100kBase, "    ", {257}},
    {Encoding::kO200kBase, "    ", {257}},
    // Special tokens are ordinary text.
    {Encoding::kCl100kBase, "<|endoftext|>", {27, 91, 8862, 728, 428, 91, 29}},
    {Encoding::kO200kBase, "<|endoftext|>", {27, 91, 419, 1440, 919, 91, 29}},
    {Encoding::kCl100kBase, "You are a helpful assistant.", {2675, 527, 264, 11190, 18328, 13}},
    {Encoding::kO200kBase, "You are a helpful assistant.", {3575, 553, 261, 10297, 29186, 13}},
    {Encoding::kCl100kBase, "\xef\xbf\xbd\xef\xbf\xbd", {10178}},  // two U+FFFD
    {Encoding::kO200kBase, "\xef\xbf\xbd\xef\xbf\xbd", {10123}},
    // U+180E is not white space to tiktoken (nor to JavaScript), though PCRE2's \s takes it.
    {Encoding::kO200kBase, "\u180e'S", {157, 254, 236, 6, 50}},
    // U+FEFF is not white space to tiktoken; here js-tiktoken gives [64, 5574, 5574, 65].
    {Encoding::kO200kBase, "a\ufeff\ufeffb", {64, 135153, 65}},
};

TEST(TokenizerTest, KnownIds) {
  for (const Known& k : kKnown) {
    const Tokenizer& t = Tokenizer::get(k.encoding);
    EXPECT_EQ(t.encode(k.text), k.ids) << encoding_name(k.encoding) << ": " << k.text;
    EXPECT_EQ(t.count(k.text), k.ids.size()) << encoding_name(k.encoding) << ": " << k.text;
  }
}

TEST(TokenizerTest, VocabularySizes) {
  EXPECT_EQ(o200k().size(), 199998u);
  EXPECT_EQ(cl100k().size(), 100256u);
  EXPECT_EQ(o200k().token_bytes(24912), "hello");
  EXPECT_EQ(cl100k().token_bytes(1917), " world");
  EXPECT_EQ(o200k().token_bytes(199998), "");  // a special token's id: not in the vocabulary
}

TEST(TokenizerTest, EmptyInput) {
  EXPECT_EQ(o200k().count(""), 0u);
  EXPECT_TRUE(cl100k().encode("").empty());
}

TEST(TokenizerTest, GetReturnsOneInstancePerEncoding) {
  EXPECT_EQ(&o200k(), &Tokenizer::get(Encoding::kO200kBase));
  EXPECT_NE(static_cast<const void*>(&o200k()), static_cast<const void*>(&cl100k()));
  EXPECT_EQ(o200k().encoding(), Encoding::kO200kBase);
}

// Long runs are one piece each; tiktoken merges them with a quadratic scan. The counts are
// tiktoken 1.0.22's (WebAssembly), which took a minute for them.
TEST(TokenizerTest, LongWhitespaceRuns) {
  const std::string spaces = std::string(100000, ' ') + "x";
  const std::string newlines(100000, '\n');
  std::string mixed;
  for (int i = 0; i < 20000; ++i) mixed += " \t\n";
  EXPECT_EQ(cl100k().count(spaces), 783u);
  EXPECT_EQ(o200k().count(spaces), 783u);
  EXPECT_EQ(cl100k().count(newlines), 3125u);
  EXPECT_EQ(o200k().count(newlines), 6250u);
  EXPECT_EQ(cl100k().count(mixed), 20000u);
  EXPECT_EQ(o200k().count(mixed), 20000u);
  EXPECT_EQ(decode(o200k(), o200k().encode(spaces)), spaces);
}

TEST(TokenizerTest, LongRunsOfOneClassFinish) {
  // 256 KiB of one character class, with nothing to split it: one match, one piece (digits
  // are split in threes). The heap merge keeps this to milliseconds.
  for (const char c : {' ', '\n', 'a', '7', '!'}) {
    const std::string run(256 * 1024, c);
    const std::vector<std::uint32_t> ids = o200k().encode(run);
    EXPECT_EQ(decode(o200k(), ids), run) << c;
    EXPECT_EQ(o200k().count(run), ids.size()) << c;
    EXPECT_EQ(cl100k().count(run), cl100k().encode(run).size()) << c;
  }
}

// Bytes that are not valid UTF-8 are never part of a match: each run of them is a piece of its
// own, between the pieces of the valid text around it.
TEST(TokenizerTest, InvalidUtf8IsABarrierAndEveryByteCounts) {
  for (const Tokenizer* t : {&o200k(), &cl100k()}) {
    std::vector<std::uint32_t> expected = t->encode("hello");
    for (std::uint32_t id : t->encode("\xff\xfe")) expected.push_back(id);
    for (std::uint32_t id : t->encode(" world")) expected.push_back(id);
    EXPECT_EQ(t->encode("hello\xff\xfe world"), expected);

    for (const std::string& s :
         {std::string("\x80"), std::string("abc\xc3"), std::string("\xe4\xbd\xa0\xe4\xbd"),
          std::string("a\0b", 3), std::string("\xed\xa0\x80 surrogate"), std::string("\xc0\xaf"),
          std::string("\xf4\x90\x80\x80 beyond U+10FFFF")}) {
      const std::vector<std::uint32_t> ids = t->encode(s);
      EXPECT_EQ(decode(*t, ids), s);
      EXPECT_EQ(t->count(s), ids.size());
    }
  }
  // The valid prefix of a truncated character still tokenizes as text: "你" then two bytes.
  EXPECT_EQ(o200k().encode("\xe4\xbd\xa0\xe4\xbd").front(), o200k().encode("你").front());
}

// Random bytes, and random mixes of valid characters and stray bytes: no crash, every byte
// comes back, and count() agrees with encode().
TEST(TokenizerTest, RandomBytesRoundTrip) {
  std::mt19937 rng(20240601);
  const std::vector<std::string> fragments = {
      "a",        "Z",    " ",        "\n", "\t",   "'s", "'LL",    "7",        "123",
      "é",        "你",   "한",       "ال", "👍",    "🇫🇷", "\u200d", "\xff",     "\x80",
      "\xe4\xbd", "\xc3", "\xf0\x9f", "  ", "\r\n", ".",  "!?",     "\xc2\xa0", "\u3000"};
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    const int length = static_cast<int>(rng() % 200);
    if (round % 2 == 0) {
      for (int i = 0; i < length; ++i) s.push_back(static_cast<char>(rng() & 0xff));
    } else {
      for (int i = 0; i < length; ++i) s += fragments[rng() % fragments.size()];
    }
    for (const Tokenizer* t : {&o200k(), &cl100k()}) {
      const std::vector<std::uint32_t> ids = t->encode(s);
      ASSERT_EQ(decode(*t, ids), s) << "round " << round;
      ASSERT_EQ(t->count(s), ids.size()) << "round " << round;
    }
  }
}

TEST(TokenizerTest, ConcurrentCountsAgree) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "The quick brown fox, 速い茶色の狐, jumps 123 times! ";
  const std::size_t expected = o200k().count(text);
  std::vector<std::size_t> seen(4);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] {
      std::size_t last = 0;
      for (int j = 0; j < 50; ++j) last = Tokenizer::get(Encoding::kO200kBase).count(text);
      seen[i] = last;
    });
  }
  for (std::thread& t : threads) t.join();
  for (std::size_t n : seen) EXPECT_EQ(n, expected);
}

}  // namespace
}  // namespace sluice::tokenizer
