// The byte form of a cache Entry for the tiers that keep bytes (disk, Redis): a versioned header,
// the body compressed with zstd when that pays, and an XXH64 checksum over everything, so a torn
// write, a bit flip or an entry from another version is detected and treated as a miss (and
// deleted) rather than served.
//
// Layout (little-endian): "SLC1" · version u8 · format u8 · endpoint u8 · flags u8 (bit 0: body
// is zstd-compressed) · created_ms i64 · expires_ms i64 · prompt_tokens u32 ·
// completion_tokens u32 · namespace length u16 · body length u32 (uncompressed) · stored body
// length u32 · namespace · stored body · XXH64 of all the preceding bytes u64.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "cache/entry.h"
#include "core/error.h"

namespace sluice::cache {

// Bodies shorter than this are stored as they are: zstd would save little and cost a call.
inline constexpr std::size_t kCompressFrom = 256;

std::string encode_entry(const Entry& entry);

// The entry in `bytes`, or an error saying what is wrong with them (bad magic, unknown version,
// truncated, checksum mismatch, failed decompression, body larger than `max_body_bytes`).
core::Result<Entry> decode_entry(std::string_view bytes, std::size_t max_body_bytes);

}  // namespace sluice::cache
