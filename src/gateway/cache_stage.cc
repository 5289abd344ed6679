#include "gateway/cache_stage.h"

#include <boost/container/small_vector.hpp>

#include <spdlog/spdlog.h>

#include "cache/stream_assembly.h"
#include "cache/tiered_cache.h"
#include "gateway/runtime.h"
#include "gateway/server_timing.h"
#include "gateway/tenants.h"
#include "gateway/worker_state.h"
#include "http/server_session.h"

namespace sluice::gateway {

namespace {

constexpr http::Header kMiss{"x-sluice-cache", "miss"};
constexpr http::Header kBypass{"x-sluice-cache", "bypass"};

}  // namespace

bool CacheStage::needs_canonical() {
  const Services& s = ctx_.worker.services;
  const config::Cache& config = ctx_.runtime->config().cache;
  cached_ = s.cache != nullptr && cache::endpoint_cached(config, *ctx_.endpoint);
  if (!cached_ && s.coalescer == nullptr) return false;
  raw_ = cache::raw_key(cache_namespace(), *ctx_.endpoint, ctx_.body);
  if (!cached_) {
    // Coalescing alone: byte-identical requests get byte-identical answers, usage chunk and all.
    key_ = cache::KeyInfo{raw_, false, true};
    has_key_ = true;
    return false;
  }
  if (const cache::KeyInfo* known = ctx_.worker.key_memo.find(raw_)) {
    key_ = *known;
    has_key_ = true;
    return false;
  }
  return true;
}

core::Result<void> CacheStage::prepare() {
  const config::Cache& config = ctx_.runtime->config().cache;
  if (ctx_.request.has_canonical) {
    key_ = cache::make_key(cache_namespace(), ctx_.request);
    ctx_.worker.key_memo.insert(raw_, key_);
    has_key_ = true;
  }
  // A stream the gateway asked for usage has a usage chunk the client did not ask for: those who
  // join it strip the chunk as the leader does.
  if (ctx_.strip_usage) key_.include_usage = false;
  if (!cached_ || !has_key_) return core::ok();
  auto policy = cache::request_policy(config, ctx_.session.request().fields(), key_.deterministic);
  if (!policy) return policy.error();
  active_ = true;
  policy_ = *policy;
  ctx_.cache_result = policy_.lookup ? "miss" : "bypass";
  headers_.push_back(policy_.lookup ? kMiss : kBypass);
  return core::ok();
}

std::string_view CacheStage::cache_namespace() const {
  // Each key has its own namespace unless it names a shared one (DESIGN.md, "Security defaults").
  if (ctx_.tenant != nullptr) return ctx_.tenant->cache_namespace;
  return ctx_.runtime->config().cache.default_namespace;
}

asio::awaitable<bool> CacheStage::serve_hit(std::span<const http::Header> extra) {
  if (!active_ || !policy_.lookup) co_return false;
  cache::TieredCache& cache = *ctx_.worker.services.cache;
  auto hit = co_await cache.lookup(cache_namespace(), key_.key, policy_.max_age_ms);
  if (!hit) co_return false;
  const cache::Entry& entry = *hit->entry;
  ctx_.usage = api::Usage{entry.prompt_tokens, entry.completion_tokens, 0};

  // The form the client asked for, converted when the entry holds the other one.
  std::string converted;
  std::string_view body = entry.body;
  if (ctx_.stream && entry.format == cache::Format::kSse) {
    converted = cache::replay_stream(entry.body, key_.include_usage);
    body = converted;
  } else if (ctx_.stream || entry.format == cache::Format::kSse) {
    auto made = ctx_.stream
                    ? cache::synthesize_stream(entry.endpoint, entry.body, key_.include_usage)
                    : cache::assemble(entry.endpoint, entry.body);
    if (!made) {
      // Entries are checked before they are stored, so only a bug gets here: answer from
      // upstream instead.
      spdlog::warn("cache entry {} could not be served: {}", key_.key.hex(), made.error().message);
      co_return false;
    }
    converted = std::move(*made);
    body = converted;
  }

  std::int64_t age_ms = std::max<std::int64_t>(0, cache.clock().unix_ms() - entry.created_ms);
  std::string age = std::to_string(age_ms / 1000);
  boost::container::small_vector<http::Header, 12> headers(extra.begin(), extra.end());
  headers.push_back({"x-sluice-cache", "hit"});
  headers.push_back({"x-sluice-cache-tier", cache::tier_name(hit->tier)});
  headers.push_back({"age", age});
  std::string timing = server_timing(ctx_, std::chrono::steady_clock::now(), true);
  headers.push_back({"server-timing", timing});
  ctx_.cache_result = "hit";
  if (ctx_.stream) {
    headers.push_back({"cache-control", "no-cache"});
    co_await ctx_.session.begin_stream(200, "text/event-stream", headers, body, true);
  } else {
    co_await ctx_.session.respond(200, "application/json", body, headers);
  }
  co_return true;
}

void CacheStage::capture(std::string_view events) {
  if (!active_ || !policy_.store || oversized_) return;
  if (captured_.size() + events.size() > ctx_.runtime->config().cache.max_entry_bytes) {
    oversized_ = true;
    captured_ = std::string();
    return;
  }
  captured_ += events;
}

void CacheStage::store_reply(const provider::Exchange& exchange) {
  if (!active_ || !policy_.store || exchange.status != 200) return;
  cache::TieredCache& cache = *ctx_.worker.services.cache;
  if (exchange.body.size() > ctx_.runtime->config().cache.max_entry_bytes) {
    cache.count_not_stored(cache::NotStored::kOversized);
    return;
  }
  if (!cache::complete_json_answer(*ctx_.endpoint, exchange.body)) {
    cache.count_not_stored(cache::NotStored::kIncomplete);
    return;
  }
  store(cache::Format::kJson, exchange.body);
}

void CacheStage::store_stream(bool complete) {
  if (!active_ || !policy_.store || stream_done_) return;
  stream_done_ = true;
  cache::TieredCache& cache = *ctx_.worker.services.cache;
  if (oversized_) {
    cache.count_not_stored(cache::NotStored::kOversized);
    return;
  }
  if (!complete || !cache::complete_stream(*ctx_.endpoint, captured_)) {
    cache.count_not_stored(cache::NotStored::kIncomplete);
    return;
  }
  store(cache::Format::kSse, std::move(captured_));
}

void CacheStage::store(cache::Format format, std::string body) {
  cache::TieredCache& cache = *ctx_.worker.services.cache;
  auto entry = std::make_shared<cache::Entry>();
  entry->format = format;
  entry->endpoint = *ctx_.endpoint;
  entry->ns = std::string(cache_namespace());
  cache::Usage usage = cache::usage_of(format, body);
  entry->prompt_tokens = usage.prompt_tokens;
  entry->completion_tokens = usage.completion_tokens;
  entry->body = std::move(body);
  entry->created_ms = cache.clock().unix_ms();
  entry->expires_ms = entry->created_ms + policy_.ttl_ms;
  cache.store(key_.key, std::move(entry));
}

}  // namespace sluice::gateway
