// Stage 6 of the pipeline (cache lookup) and the cache's half of stage 11 (storing the fresh
// answer), for one request. The pipeline calls them in order:
//
//   needs_canonical()  before decoding: whether the body's canonical form must be built
//   prepare()    decides the key (also needed to coalesce) and the policy (a 400 for malformed
//                cache headers)
//   serve_hit()  answers from the cache when it can, in the form the client asked for
//   headers()    what the upstream answer carries: x-sluice-cache: miss | bypass
//   capture()    sees every stream batch as it goes to the client
//   store_*()    stores a complete, checked answer before the client sees its end, so an
//                identical request that follows is a hit
//
// Nothing is stored that is not whole and successful: errors, cut streams, and answers over
// cache.max_entry_bytes (served, not stored) are left out.
//
// Thread safety: one per request, on its worker.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/container/static_vector.hpp>

#include <span>
#include <string>

#include "cache/cache_key.h"
#include "cache/policy.h"
#include "core/asio.h"
#include "core/error.h"
#include "gateway/request_context.h"
#include "http/response_head.h"
#include "provider/provider.h"

namespace sluice::gateway {

class CacheStage {
 public:
  explicit CacheStage(RequestContext& ctx) : ctx_(ctx) {}

  // Before stage 4: whether the cache or coalescing takes part, and so whether decoding must
  // build the body's canonical form (not when the worker saw the same bytes recently, nor when
  // only coalescing takes part: it then joins byte-identical requests only).
  bool needs_canonical();

  // Whether the cache takes part in this request at all (cache on, endpoint cached).
  bool active() const { return active_; }
  // The request's key, when the cache or coalescing needs one (else null).
  const cache::KeyInfo* key() const { return has_key_ ? &key_ : nullptr; }

  core::Result<void> prepare();
  // True when the request was answered from the cache; `extra` goes on the answer (x-ratelimit-*).
  asio::awaitable<bool> serve_hit(std::span<const http::Header> extra = {});

  // The x-sluice-cache header of an answer that came from upstream (empty when inactive).
  std::span<const http::Header> headers() const { return headers_; }

  void capture(std::string_view events);
  // A whole answer, once it arrived.
  void store_reply(const provider::Exchange& exchange);
  // A stream, once it ended; `complete` says it ended cleanly. Only the first call counts.
  void store_stream(bool complete);

 private:
  void store(cache::Format format, std::string body);
  // The tenant's namespace (its key's own, or a shared one), or the default without keys.
  std::string_view cache_namespace() const;

  RequestContext& ctx_;
  bool active_ = false;
  bool cached_ = false;  // the cache covers this request's endpoint
  bool has_key_ = false;
  cache::Key raw_;
  cache::KeyInfo key_;
  cache::Policy policy_;
  std::string captured_;
  bool oversized_ = false;
  bool stream_done_ = false;  // store_stream() ran
  boost::container::static_vector<http::Header, 1> headers_;
};

}  // namespace sluice::gateway
