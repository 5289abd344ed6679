// Byte-pair merging of one piece (a regex match, or a run of bytes that are not valid UTF-8)
// into tokens, exactly as tiktoken's `_byte_pair_merge` does: start from single bytes and, while
// some adjacent pair of parts is a token, merge the pair with the lowest rank (the leftmost of
// equal ranks). A piece that is itself a token is one lookup. Every single byte is a token in
// o200k_base and cl100k_base, so every piece encodes and every byte is counted.
//
// Pieces up to kShortPiece bytes use tiktoken's own algorithm on a stack array: a scan for the
// lowest rank after each merge, quadratic but fastest for the short pieces text is made of.
// Longer pieces (a CJK sentence without punctuation, a long run of spaces) use a heap of
// (rank, position) with lazy deletion, which makes the same merges in the same order in
// O(n log n): already faster from 16 bytes on (bench/micro/tokenizer_bench.cc, CJK), and
// tiktoken's own scan takes a minute on 100,000 spaces. Neither allocates for pieces of up to
// 4 KiB once the thread has seen one that long.
//
// Internal to the tokenizer module; pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/rank_table.h"

namespace sluice::tokenizer {

inline constexpr std::size_t kShortPiece = 16;

// How many tokens `piece` is.
std::size_t count_piece(const RankTable& ranks, std::string_view piece);
// Appends the tokens of `piece` to `out`.
void encode_piece(const RankTable& ranks, std::string_view piece, std::vector<std::uint32_t>& out);

// The two merge strategies on their own, whatever the piece's length, so tests can check that
// they agree. Both return the tokens of a non-empty piece.
std::vector<std::uint32_t> encode_piece_by_scan(const RankTable& ranks, std::string_view piece);
std::vector<std::uint32_t> encode_piece_by_heap(const RankTable& ranks, std::string_view piece);

}  // namespace sluice::tokenizer
