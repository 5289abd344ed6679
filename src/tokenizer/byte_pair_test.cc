#include "tokenizer/byte_pair.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tokenizer/vocabulary.h"

namespace sluice::tokenizer {
namespace {

// The scan (tiktoken's algorithm) and the heap must make the same merges: compare them on
// pieces long enough to take many merges, from alphabets that make long tokens likely.
TEST(BytePairTest, ScanAndHeapAgree) {
  const RankTable o200k(o200k_base_vocabulary());
  const RankTable cl100k(cl100k_base_vocabulary());
  std::mt19937 rng(7);
  const std::vector<std::string> alphabets = {
      " ",          " \t\n", "ab",           "the quick brown fox ",
      "0123456789", "=-",    "你好世界中文", "\xff\x80\xe4"};
  for (int round = 0; round < 600; ++round) {
    const std::string& alphabet = alphabets[round % alphabets.size()];
    std::string piece;
    const std::size_t length = 2 + rng() % 700;
    while (piece.size() < length) {
      // Whole UTF-8 characters or single bytes, depending on the alphabet.
      if (alphabet == "你好世界中文") {
        piece += alphabet.substr(3 * (rng() % 6), 3);
      } else {
        piece += alphabet[rng() % alphabet.size()];
      }
    }
    for (const RankTable* ranks : {&o200k, &cl100k}) {
      const auto by_scan = encode_piece_by_scan(*ranks, piece);
      ASSERT_EQ(encode_piece_by_heap(*ranks, piece), by_scan) << "round " << round;
      std::vector<std::uint32_t> encoded;
      encode_piece(*ranks, piece, encoded);
      ASSERT_EQ(encoded, by_scan) << "round " << round;
      ASSERT_EQ(count_piece(*ranks, piece), by_scan.size()) << "round " << round;
    }
  }
}

TEST(BytePairTest, SingleBytesAndWholeTokens) {
  const RankTable ranks(cl100k_base_vocabulary());
  for (int b = 0; b < 256; ++b) {
    const std::string piece(1, static_cast<char>(b));
    EXPECT_EQ(count_piece(ranks, piece), 1u);
    EXPECT_EQ(ranks.token(ranks.find(piece)), piece);
  }
  EXPECT_EQ(ranks.find(" world"), 1917u);
  EXPECT_EQ(ranks.find("not one token at all"), RankTable::kNone);
  EXPECT_EQ(count_piece(ranks, ""), 0u);
}

}  // namespace
}  // namespace sluice::tokenizer
