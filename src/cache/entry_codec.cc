#include "cache/entry_codec.h"

#include <xxhash.h>
#include <zstd.h>

#include <cstdint>
#include <cstring>

namespace sluice::cache {

namespace {

constexpr char kMagic[4] = {'S', 'L', 'C', '1'};
constexpr std::uint8_t kVersion = 1;
constexpr std::uint8_t kCompressed = 1;
// Fast: entries are written off the worker threads, but every one is compressed.
constexpr int kZstdLevel = 1;
constexpr std::size_t kHeaderBytes = 4 + 4 + 8 + 8 + 4 + 4 + 2 + 4 + 4;

template <class T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

template <class T>
T get(const char*& p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  p += sizeof(T);
  return v;
}

core::Error corrupt(std::string_view why) {
  return core::Error(core::Errc::kInternal, "corrupt cache entry: " + std::string(why));
}

}  // namespace

std::string encode_entry(const Entry& entry) {
  std::string stored;
  bool compressed = false;
  if (entry.body.size() >= kCompressFrom) {
    stored.resize(ZSTD_compressBound(entry.body.size()));
    std::size_t n = ZSTD_compress(stored.data(), stored.size(), entry.body.data(),
                                  entry.body.size(), kZstdLevel);
    if (!ZSTD_isError(n) && n < entry.body.size()) {
      stored.resize(n);
      compressed = true;
    }
  }
  std::string_view body = compressed ? std::string_view(stored) : std::string_view(entry.body);
  std::string_view ns = std::string_view(entry.ns).substr(0, UINT16_MAX);

  std::string out;
  out.reserve(kHeaderBytes + ns.size() + body.size() + 8);
  out.append(kMagic, sizeof kMagic);
  put<std::uint8_t>(out, kVersion);
  put<std::uint8_t>(out, static_cast<std::uint8_t>(entry.format));
  put<std::uint8_t>(out, static_cast<std::uint8_t>(entry.endpoint));
  put<std::uint8_t>(out, compressed ? kCompressed : 0);
  put<std::int64_t>(out, entry.created_ms);
  put<std::int64_t>(out, entry.expires_ms);
  put<std::uint32_t>(out, entry.prompt_tokens);
  put<std::uint32_t>(out, entry.completion_tokens);
  put<std::uint16_t>(out, static_cast<std::uint16_t>(ns.size()));
  put<std::uint32_t>(out, static_cast<std::uint32_t>(entry.body.size()));
  put<std::uint32_t>(out, static_cast<std::uint32_t>(body.size()));
  out.append(ns);
  out.append(body);
  put<std::uint64_t>(out, XXH64(out.data(), out.size(), 0));
  return out;
}

core::Result<Entry> decode_entry(std::string_view bytes, std::size_t max_body_bytes) {
  if (bytes.size() < kHeaderBytes + 8) return corrupt("truncated header");
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return corrupt("bad magic");
  std::uint64_t sum;
  std::memcpy(&sum, bytes.data() + bytes.size() - 8, 8);
  if (XXH64(bytes.data(), bytes.size() - 8, 0) != sum) return corrupt("checksum mismatch");

  const char* p = bytes.data() + sizeof kMagic;
  if (get<std::uint8_t>(p) != kVersion) return corrupt("unknown version");
  auto format = get<std::uint8_t>(p);
  auto endpoint = get<std::uint8_t>(p);
  auto flags = get<std::uint8_t>(p);
  if (format != static_cast<std::uint8_t>(Format::kJson) &&
      format != static_cast<std::uint8_t>(Format::kSse)) {
    return corrupt("unknown format");
  }
  if (endpoint > static_cast<std::uint8_t>(api::Endpoint::kImageGenerations)) {
    return corrupt("unknown endpoint");
  }
  Entry e;
  e.format = static_cast<Format>(format);
  e.endpoint = static_cast<api::Endpoint>(endpoint);
  e.created_ms = get<std::int64_t>(p);
  e.expires_ms = get<std::int64_t>(p);
  e.prompt_tokens = get<std::uint32_t>(p);
  e.completion_tokens = get<std::uint32_t>(p);
  auto ns_size = get<std::uint16_t>(p);
  auto body_size = get<std::uint32_t>(p);
  auto stored_size = get<std::uint32_t>(p);
  if (kHeaderBytes + ns_size + stored_size + 8 != bytes.size()) return corrupt("bad lengths");
  if (body_size > max_body_bytes) return corrupt("body larger than allowed");
  e.ns.assign(p, ns_size);
  p += ns_size;
  if ((flags & kCompressed) != 0) {
    e.body.resize(body_size);
    std::size_t n = ZSTD_decompress(e.body.data(), e.body.size(), p, stored_size);
    if (ZSTD_isError(n) || n != body_size) return corrupt("decompression failed");
  } else {
    if (stored_size != body_size) return corrupt("bad lengths");
    e.body.assign(p, body_size);
  }
  return e;
}

}  // namespace sluice::cache
