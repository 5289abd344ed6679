// Deterministic content for the mock engine: seeds hashed from request fields, a small PRNG, the
// answer vocabulary, the token approximation used for `usage`, and hex/base64 encoders.
//
// Internal to src/mock/. Everything here is a pure function of its arguments (Rng and Hasher
// are plain values), so it is thread-safe and the same request always yields the same bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace sluice::mock {

// splitmix64's output function: a good 64-bit mixer, also the step of Rng.
std::uint64_t splitmix64(std::uint64_t x);

// A tiny deterministic generator (splitmix64). Not for anything that needs secrecy.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  // Uniform in [0, bound); bound must be > 0. The modulo bias is irrelevant at these sizes.
  std::uint64_t below(std::uint64_t bound) { return next() % bound; }
  // Uniform in [0, 1) with 53 bits of precision.
  double unit();

 private:
  std::uint64_t state_;
};

// Hashes a sequence of fields with XXH3-64. Each field is length-prefixed so that ("ab", "c")
// and ("a", "bc") give different seeds.
// The fields are buffered and hashed in one call: XXH3's streaming state would need a heap
// allocation that can fail, and mock requests are small enough that the copy does not matter.
class Hasher {
 public:
  Hasher& add(std::string_view field);
  Hasher& add(std::uint64_t field);
  std::uint64_t digest() const;

 private:
  std::string bytes_;
};

// The seed of choice `index` of an answer whose request hashed to `base`.
std::uint64_t choice_seed(std::uint64_t base, std::uint64_t index);

// The vocabulary answers are drawn from: a few hundred plain lower-case English words.
const std::vector<std::string_view>& vocabulary();

// `count` words drawn from the vocabulary by Rng(seed). Each word is one token; every word
// after the first carries a leading space, so the tokens concatenate to the answer text.
std::vector<std::string> answer_words(std::uint64_t seed, int count);

// How many completion tokens to produce and why the answer ends.
struct AnswerLength {
  int tokens = 0;
  std::string_view finish_reason = "stop";  // "stop" or "length"
};

// The answer's natural length is 8 + seed % settings.max_tokens. `forced` (x-mock-tokens) wins
// over everything and finishes with "stop"; otherwise a request limit below the natural length
// cuts the answer and finishes with "length".
AnswerLength answer_length(std::uint64_t seed, std::optional<int> forced,
                           std::optional<std::int64_t> limit, const config::MockSettings& settings);

// The token approximation behind every `usage` number. A token is a maximal run of word
// characters (ASCII letters and digits, and every byte of a multi-byte UTF-8 sequence) or a
// single other non-space character, together with the whitespace before it. This is roughly
// what BPE tokenizers do for English text and cheap to compute.
std::size_t count_tokens(std::string_view text);

// `text` split into those tokens; the pieces concatenate back to `text` (trailing whitespace
// joins the last piece) and there are exactly count_tokens(text) of them, except that text
// made only of whitespace gives one piece and zero tokens.
std::vector<std::string> split_tokens(std::string_view text);

// 16 lower-case hex digits.
std::string hex64(std::uint64_t v);

// Standard base64 (RFC 4648, with padding).
std::string base64_encode(std::string_view bytes);

}  // namespace sluice::mock
