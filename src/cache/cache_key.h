// The cache key of an inference request (docs/caching.md, "The key").
//
// Two requests share a key exactly when they would get the same answer: same namespace, same
// endpoint, and the same output-affecting fields. The body is read as JSON and hashed in a
// canonical form, so member order, whitespace, string escapes and number spelling (1, 1.0, 1e0)
// do not matter; every value of every other member does, including `model` as the client wrote
// it (the alias, not the deployment it was routed to). Fields that only change how or for whom
// the answer is delivered are left out (kIgnoredFields), so a streamed and a non-streamed request
// share an entry.
//
// The hash is XXH3-128 over a tagged, length-prefixed encoding of the canonical form, so no two
// different forms can encode to the same bytes.
//
// Thread safety: pure functions.
#pragma once

#include <array>
#include <string_view>

#include "api/endpoint.h"
#include "cache/entry.h"
#include "core/error.h"

namespace sluice::cache {

// Top-level members that do not change the answer's content.
inline constexpr std::array<std::string_view, 8> kIgnoredFields = {
    "stream",             // delivery: a stream and a whole answer share an entry
    "stream_options",     // delivery (include_usage is honoured when serving)
    "user",               // end-user id for abuse monitoring
    "metadata",           // tags for the provider's dashboards
    "store",              // whether the provider keeps the completion
    "safety_identifier",  // end-user id, the successor of `user`
    "prompt_cache_key",   // routing hint for the provider's prompt cache
    "prompt_cache_retention",
};

struct KeyInfo {
  Key key;
  // The answer is reproducible: temperature 0, or a fixed seed (embeddings always are).
  bool deterministic = false;
  // stream_options.include_usage: the client wants the usage chunk at the end of a stream.
  bool include_usage = false;
};

// The key of `body` (a JSON object, already validated by api::decode_inference) under namespace
// `ns`. Fails only when the body is not a JSON object.
core::Result<KeyInfo> make_key(std::string_view ns, api::Endpoint endpoint, std::string_view body);

}  // namespace sluice::cache
