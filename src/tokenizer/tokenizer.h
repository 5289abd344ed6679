// Exact token counts for OpenAI's o200k_base and cl100k_base encodings, as tiktoken's
// `encode_ordinary` computes them: the text is split with the encoding's pattern (splitter.h),
// and each piece is byte-pair merged by rank (byte_pair.h). Special tokens such as
// "<|endoftext|>" are not recognised in text: they count as the ordinary text they are, so a
// user cannot smuggle one in.
//
// Any bytes are accepted, including invalid UTF-8, which is never part of a regex match: each
// run of invalid bytes is merged as a piece of its own (see splitter.h), so every byte counts.
//
// The vocabularies are compiled into the binary (vocabulary.h); the first get() of an encoding
// builds its tables (offsets, hash table, two-byte table, compiled pattern) once, thread-safely:
// 5.3 MB of heap for o200k_base, 2.8 MB for cl100k_base. The first get() in a process took
// 13 to 17 ms for o200k_base and 4 to 6 ms for cl100k_base here, most of it page faults on
// the fresh heap; rebuilding into reused memory (BM_TokenizerBuild in
// bench/micro/tokenizer_bench.cc) takes 3.7 ms and 1.8 ms.
//
// Thread safety: a Tokenizer is immutable after construction; every member is safe to call from
// any thread at once. count() allocates nothing for pieces of up to 4 KiB once its thread has
// seen one that long.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "tokenizer/encoding.h"
#include "tokenizer/rank_table.h"
#include "tokenizer/splitter.h"

namespace sluice::tokenizer {

class Tokenizer {
 public:
  // The process-wide tokenizer for an encoding, built on first use.
  static const Tokenizer& get(Encoding encoding);

  // Builds a tokenizer from a vocabulary (get() is the usual way; this is for tests).
  explicit Tokenizer(Encoding encoding);
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  std::size_t count(std::string_view text) const;
  std::vector<std::uint32_t> encode(std::string_view text) const;
  // The bytes of token `id`; empty if there is no such token. Concatenating the bytes of
  // encode(text) gives back text, byte for byte.
  std::string_view token_bytes(std::uint32_t id) const;

  Encoding encoding() const { return encoding_; }
  // The tokens in the vocabulary (not counting special tokens).
  std::size_t size() const { return ranks_.size(); }
  // Heap bytes held by the tables.
  std::size_t memory_bytes() const { return ranks_.memory_bytes(); }

 private:
  Encoding encoding_;
  RankTable ranks_;
  Splitter splitter_;
};

}  // namespace sluice::tokenizer
