// The cache key of an inference request (docs/caching.md, "The key"): XXH3-128 of the tenant
// namespace, the endpoint, and the body's canonical form (api/canonical_request.h), which
// api::decode_inference builds in its one pass over the body. Two requests share a key exactly
// when they would get the same answer: spelling differences (member order, whitespace, escapes,
// number forms) do not count, and neither do the delivery-only fields (api::kIgnoredFields), so a
// streamed and a whole request share an entry; every other value does, including `model` as the
// client wrote it (the alias, not the deployment it was routed to).
//
// Thread safety: pure functions.
#pragma once

#include <string_view>
#include <vector>

#include "api/inference_request.h"
#include "cache/entry.h"

namespace sluice::cache {

struct KeyInfo {
  Key key;
  // The answer is reproducible: temperature 0, or a fixed seed (embeddings always are).
  bool deterministic = false;
  // stream_options.include_usage: the client wants the usage chunk at the end of a stream.
  bool include_usage = false;
};

// The key of `request`, which must have been decoded with its canonical form, under `ns`.
KeyInfo make_key(std::string_view ns, const api::InferenceRequest& request);

// A hash of the body's bytes as sent, under `ns` and `endpoint`: equal for byte-identical
// requests only. It never equals a make_key() key (another seed). Coalescing uses it when the
// cache takes no part (no canonical form is built then), and KeyMemo is indexed by it.
Key raw_key(std::string_view ns, api::Endpoint endpoint, std::string_view body);

// The keys of bodies seen recently, by raw_key: a byte-identical repeat (the common case for a
// cache hit) skips building the canonical form. Direct-mapped and bounded; a collision in the
// slot just replaces the older entry.
//
// Thread safety: one per worker, used only on its thread.
class KeyMemo {
 public:
  static constexpr std::size_t kSlots = 4096;

  const KeyInfo* find(const Key& raw) const;
  void insert(const Key& raw, const KeyInfo& info);

 private:
  struct Slot {
    Key raw;
    KeyInfo info;
    bool used = false;
  };
  std::vector<Slot> slots_;  // allocated on first use
};

}  // namespace sluice::cache
