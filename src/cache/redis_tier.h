// The Redis tier of the response cache (docs/caching.md, "Tiers"): answers shared by every
// gateway that uses the same Redis, so a miss on one instance is a hit on the next.
//
// Each worker has its own connection (net/redis_connection.h), created by attach_worker and driven
// by that worker's event loop, so a lookup never leaves its thread. Entries are the entry
// codec's bytes (zstd, checksum) under `{key_prefix}cache:v1:{namespace}:{key hex}`, stored with
// `SET ... PX {ttl}` so Redis expires them itself.
//
// Redis never fails or slows a request beyond cache.redis.timeout: a lookup without a reply in
// time is a miss (the late reply is dropped); down, stalled, erroring or corrupt (deleted) is a
// miss; stores are fire-and-forget and dropped when the connection is down or has too many
// commands in flight. Every such case is counted in stats().
//
// Namespaces: stores use the entry's namespace, lookups the request's.
//
// A lookup from an executor that was never attached (a test's own io_context, a thread pool) is a
// miss counted as `bypassed`: a connection created there could not be closed on that loop's
// thread before it is destroyed, which is what detach_worker guarantees for the workers.
//
// Thread safety: one instance shared by every worker; all members may be called concurrently,
// except that attach_worker is called before the worker serves and detach_worker on the worker's
// thread after it has stopped. The tier must outlive the running of every attached loop; its
// destructor closes connections that were not detached (only safe when their loops are not
// running, as in tests).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "cache/lower_tier.h"
#include "config/config.h"
#include "core/clock.h"
#include "net/redis_connection.h"

namespace sluice::cache {

class RedisTier final : public LowerTier {
 public:
  // `tuning` adjusts the connections' limits (tests); its endpoint is taken from the URL.
  RedisTier(const config::Cache& config, const core::Clock& clock,
            net::RedisConnection::Options tuning = {});
  ~RedisTier() override;

  Tier tier() const override { return Tier::kRedis; }
  void attach_worker(asio::any_io_executor worker) override;
  void detach_worker(asio::any_io_executor worker) override;
  asio::awaitable<EntryPtr> lookup(std::string_view ns, const Key& key) override;
  void store(const Key& key, EntryPtr entry) override;
  asio::awaitable<void> clear(std::string_view ns) override;
  json::object stats() const override;

  // The Redis key of an entry.
  static std::string key_name(std::string_view prefix, std::string_view ns, const Key& key);

  // Most workers a tier serves; beyond it a worker's lookups are misses (logged once).
  static constexpr std::size_t kMaxWorkers = 1024;

 private:
  struct Slot;

  Slot* find(const asio::any_io_executor& executor) const;
  Slot* on_this_thread() const;
  void write(Slot& slot, const Key& key, const Entry& entry);

  const core::Clock& clock_;
  const std::string prefix_;
  const std::chrono::milliseconds timeout_;
  const std::size_t max_body_bytes_;
  net::RedisConnection::Options options_;
  std::shared_ptr<net::RedisHealth> health_;

  std::mutex attach_mutex_;                   // attach and detach
  std::vector<std::unique_ptr<Slot>> owned_;  // under attach_mutex_
  // Published by attach_worker with release order, never changed afterwards.
  std::array<Slot*, kMaxWorkers> slots_{};
  std::atomic<std::size_t> slot_count_{0};
  std::atomic<std::size_t> next_foreign_{0};  // round robin for stores from other threads
  std::atomic<std::uint64_t> unattached_{0};  // lookups on an executor never attached
};

// The Redis tier for `config.redis` (which must have a URL; the loader has validated it).
std::unique_ptr<LowerTier> make_redis_tier(const config::Cache& config, const core::Clock& clock);

}  // namespace sluice::cache
