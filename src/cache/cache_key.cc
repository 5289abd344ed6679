#include "cache/cache_key.h"

#include <xxhash.h>

#include <cstdint>

namespace sluice::cache {

std::string Key::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[15 - i] = kDigits[(high >> (4 * i)) & 0xf];
    out[31 - i] = kDigits[(low >> (4 * i)) & 0xf];
  }
  return out;
}

KeyInfo make_key(std::string_view ns, const api::InferenceRequest& request) {
  // The namespace and endpoint seed the hash of the canonical form: one pass over the form, and
  // two requests in different namespaces share a key only if their 64-bit seeds collide.
  std::uint64_t seed =
      XXH3_64bits_withSeed(ns.data(), ns.size(), static_cast<std::uint64_t>(request.endpoint) + 1);
  XXH128_hash_t h = XXH3_128bits_withSeed(request.canonical.data(), request.canonical.size(), seed);
  return KeyInfo{Key{h.high64, h.low64}, request.deterministic, request.include_usage};
}

Key raw_key(std::string_view ns, api::Endpoint endpoint, std::string_view body) {
  // 0x100 apart from make_key's seeds: the two kinds of key never meet in the coalescer.
  std::uint64_t seed =
      XXH3_64bits_withSeed(ns.data(), ns.size(), static_cast<std::uint64_t>(endpoint) + 0x101);
  XXH128_hash_t h = XXH3_128bits_withSeed(body.data(), body.size(), seed);
  return Key{h.high64, h.low64};
}

const KeyInfo* KeyMemo::find(const Key& raw) const {
  if (slots_.empty()) return nullptr;
  const Slot& s = slots_[raw.low % kSlots];
  return s.used && s.raw == raw ? &s.info : nullptr;
}

void KeyMemo::insert(const Key& raw, const KeyInfo& info) {
  if (slots_.empty()) slots_.resize(kSlots);
  slots_[raw.low % kSlots] = Slot{raw, info, true};
}

}  // namespace sluice::cache
