// The prompt tokens of a request, for token reservations (stage 5): counted exactly with the
// model's tokenizer when it (or its first deployment's upstream name) is an OpenAI model, else
// estimated at four bytes a token (src/tokenizer/). Only requests under a tpm limit pay for it.
//
// Prompts repeat: the same system prompt and conversation so far come back with every turn, and
// a batch sends one template many times. Each worker keeps a small memo from a hash of the
// prompt's bytes (as the client wrote them) to its count, so a repeated prompt costs a scan and a
// hash, not a parse and a tokenization.
//
// Thread safety: runs on the request's worker; the memo is the worker's own, the tokenizer tables
// are shared and immutable.
#pragma once

#include <array>
#include <cstdint>

#include "gateway/request_context.h"

namespace sluice::gateway {

// Direct-mapped: a slot holds the last prompt that hashed to it.
class PromptTokenMemo {
 public:
  static constexpr std::size_t kSlots = 1024;
  // The count for `hash`, or -1.
  std::int64_t find(std::uint64_t hash) const {
    const Slot& s = slots_[hash % kSlots];
    return s.hash == hash && s.used ? static_cast<std::int64_t>(s.tokens) : -1;
  }
  void insert(std::uint64_t hash, std::uint64_t tokens) {
    slots_[hash % kSlots] = Slot{hash, tokens, true};
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint64_t tokens = 0;
    bool used = false;
  };
  std::array<Slot, kSlots> slots_{};
};

std::uint64_t prompt_tokens(const RequestContext& ctx);

}  // namespace sluice::gateway
