// The token → rank map of one encoding, built once from its embedded Vocabulary. Ranks are also
// token ids, and a lower rank is merged first. Keys are views into the embedded bytes, so the
// table owns no copy of the vocabulary: an open-addressing array of (hash tag, rank) slots, at
// most 40% full, plus every token's offset; and a direct table for the two-byte tokens, since
// BPE's first pass over a piece asks about every pair of adjacent bytes.
//
// Internal to the tokenizer module. Immutable after construction: every member is safe to call
// from any thread at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocabulary.h"

namespace sluice::tokenizer {

class RankTable {
 public:
  static constexpr std::uint32_t kNone = UINT32_MAX;

  // Throws std::runtime_error if the vocabulary is malformed (lengths and bytes disagree).
  explicit RankTable(const Vocabulary& vocabulary);

  // The rank of the token whose bytes are exactly `bytes`, or kNone.
  std::uint32_t find(std::string_view bytes) const {
    if (bytes.size() == 2) {
      return pair_ranks_[static_cast<unsigned char>(bytes[0]) << 8 |
                         static_cast<unsigned char>(bytes[1])];
    }
    return find_hashed(bytes);
  }
  // The bytes of the token with this rank (which must be below size()).
  std::string_view token(std::uint32_t rank) const {
    return bytes_.substr(offsets_[rank], offsets_[rank + 1] - offsets_[rank]);
  }
  std::size_t size() const { return offsets_.size() - 1; }
  // Heap bytes the table holds (the vocabulary itself is in the binary's read-only data).
  std::size_t memory_bytes() const;

 private:
  struct Slot {
    std::uint32_t tag = 0;  // the hash's upper half: most mismatches never touch the bytes
    std::uint32_t rank = kNone;
  };

  std::uint32_t find_hashed(std::string_view bytes) const;

  std::string_view bytes_;
  std::vector<std::uint32_t> offsets_;  // size() + 1 entries
  std::vector<Slot> slots_;             // a power of two
  std::size_t mask_ = 0;
  std::size_t longest_ = 0;
  std::vector<std::uint32_t> pair_ranks_;  // 65536 entries: first byte << 8 | second byte
};

}  // namespace sluice::tokenizer
