// A cached answer and its key: the values every cache tier stores and the pipeline serves.
//
// An Entry holds one complete, successful answer exactly as it was delivered: the JSON body of a
// non-stream answer, or the SSE event stream of a streamed one (every event, ending with
// `data: [DONE]`). Serving it in the other form (a stream request hitting a JSON entry, or the
// reverse) is stream_assembly.h's job; the tiers never look inside.
//
// Thread safety: an Entry is immutable once built and shared as shared_ptr<const Entry>, so any
// number of workers may read it at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/endpoint.h"

namespace sluice::cache {

// XXH3-128 of the tenant namespace and the request's canonical form (cache_key.h).
struct Key {
  std::uint64_t high = 0;
  std::uint64_t low = 0;

  bool operator==(const Key&) const = default;
  // 32 lower-case hex digits, high half first: the key's name in Redis and in logs.
  std::string hex() const;
};

struct KeyHash {
  // The key is already a uniform hash; its low half is as good as any mix of it.
  std::size_t operator()(const Key& k) const noexcept { return static_cast<std::size_t>(k.low); }
};

enum class Format : std::uint8_t {
  kJson = 1,  // `body` is the JSON answer
  kSse = 2,   // `body` is the event stream as sent, ending with "data: [DONE]"
};

struct Entry {
  Format format = Format::kJson;
  api::Endpoint endpoint = api::Endpoint::kChatCompletions;
  std::string ns;    // the namespace it was stored under (for DELETE /admin/cache?namespace=)
  std::string body;  // see Format
  std::int64_t created_ms = 0;  // Unix time when the answer was stored, in ms (for `age`)
  std::int64_t expires_ms = 0;  // Unix time after which it must not be served, in ms
  // The answer's usage, for what a hit saved; 0 when the upstream did not report it.
  std::uint32_t prompt_tokens = 0;
  std::uint32_t completion_tokens = 0;

  bool expired(std::int64_t now_ms) const { return now_ms >= expires_ms; }
  // Bytes this entry holds in memory, counted against cache.memory.max_bytes.
  std::size_t charge() const { return sizeof(Entry) + ns.capacity() + body.capacity(); }
};

using EntryPtr = std::shared_ptr<const Entry>;

}  // namespace sluice::cache
