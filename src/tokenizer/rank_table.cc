#include "tokenizer/rank_table.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <bit>
#include <cstring>
#include <stdexcept>
#include <string>

namespace sluice::tokenizer {

RankTable::RankTable(const Vocabulary& vocabulary) : bytes_(vocabulary.bytes) {
  const std::size_t n = vocabulary.lengths.size();
  offsets_.reserve(n + 1);
  std::uint32_t offset = 0;
  for (char c : vocabulary.lengths) {
    offsets_.push_back(offset);
    const auto length = static_cast<unsigned char>(c);
    offset += length;
    if (length > longest_) longest_ = length;
  }
  offsets_.push_back(offset);
  if (offset != bytes_.size()) {
    throw std::runtime_error(std::string(vocabulary.name) + ": token lengths add up to " +
                             std::to_string(offset) + " bytes, the vocabulary has " +
                             std::to_string(bytes_.size()));
  }
  // At most 40% full: BPE asks about many pairs that are not tokens, and with linear probing a
  // miss stops at the first empty slot, which at this load is usually the first or second.
  slots_.resize(std::bit_ceil(n * 5 / 2 + 1));
  mask_ = slots_.size() - 1;
  for (std::uint32_t rank = 0; rank < n; ++rank) {
    const std::string_view key = token(rank);
    const std::uint64_t h = XXH3_64bits(key.data(), key.size());
    std::size_t i = h & mask_;
    while (slots_[i].rank != kNone) {
      if (token(slots_[i].rank) == key) {
        throw std::runtime_error(std::string(vocabulary.name) + ": token " + std::to_string(rank) +
                                 " repeats an earlier one");
      }
      i = (i + 1) & mask_;
    }
    slots_[i] = Slot{static_cast<std::uint32_t>(h >> 32), rank};
  }
  pair_ranks_.assign(1 << 16, kNone);
  for (std::uint32_t rank = 0; rank < n; ++rank) {
    const std::string_view key = token(rank);
    if (key.size() == 2) {
      pair_ranks_[static_cast<unsigned char>(key[0]) << 8 | static_cast<unsigned char>(key[1])] =
          rank;
    }
  }
}

namespace {

std::uint32_t load32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::uint64_t load64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// a and b, both n bytes long, are equal. Short keys (nearly all of them) are compared with two
// overlapping loads instead of a call to memcmp, as XXH3 reads short inputs.
bool same_bytes(const char* a, const char* b, std::size_t n) {
  if (n >= 8) {
    if (n > 16) return std::memcmp(a, b, n) == 0;
    return load64(a) == load64(b) && load64(a + n - 8) == load64(b + n - 8);
  }
  if (n >= 4) return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
  return a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1];
}

}  // namespace

std::uint32_t RankTable::find_hashed(std::string_view bytes) const {
  if (bytes.size() > longest_) return kNone;
  const std::uint64_t h = XXH3_64bits(bytes.data(), bytes.size());
  const auto tag = static_cast<std::uint32_t>(h >> 32);
  for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.rank == kNone) return kNone;
    if (s.tag == tag) {
      const std::uint32_t begin = offsets_[s.rank];
      if (offsets_[s.rank + 1] - begin == bytes.size() &&
          same_bytes(bytes_.data() + begin, bytes.data(), bytes.size())) {
        return s.rank;
      }
    }
  }
}

std::size_t RankTable::memory_bytes() const {
  return (offsets_.capacity() + pair_ranks_.capacity()) * sizeof(std::uint32_t) +
         slots_.capacity() * sizeof(Slot);
}

}  // namespace sluice::tokenizer
