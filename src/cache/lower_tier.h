// A cache tier below memory: the disk (RocksDB) or Redis. The TieredCache asks them in order
// after a memory miss and promotes what they find; it stores every answer in each of them.
//
// A lower tier never fails a request and never blocks a worker: lookups are awaited and resume
// on the caller's worker; anything wrong (slow, down, corrupt, full) is a miss or a skipped
// write, counted in stats(). Stores and clears run in the background.
//
// Thread safety: one instance shared by every worker; all members may be called concurrently.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <string_view>

#include "cache/entry.h"
#include "core/asio.h"

namespace sluice::cache {

enum class Tier : std::uint8_t { kMemory, kDisk, kRedis };
inline constexpr int kTierCount = 3;
std::string_view tier_name(Tier tier);  // "memory", "disk", "redis"

class LowerTier {
 public:
  virtual ~LowerTier() = default;

  virtual Tier tier() const = 0;

  // Called once per worker before it serves (from the thread that builds the workers), for
  // tiers that keep per-worker state such as a connection driven by that worker's event loop.
  virtual void attach_worker(asio::any_io_executor /*worker*/) {}
  // Called once per attached worker, on that worker's thread, when it has stopped serving (its
  // last session ended) and before its event loop is destroyed: closes what attach_worker opened,
  // so the loop can run out of work and no I/O object outlives it.
  virtual void detach_worker(asio::any_io_executor /*worker*/) {}

  // The live entry for `key`, or null. A corrupt entry is deleted and reported as a miss.
  // `ns` is the namespace the request's key was made in (the key's hash already covers it; tiers
  // that name or group entries by namespace need it spelled out).
  virtual asio::awaitable<EntryPtr> lookup(std::string_view ns, const Key& key) = 0;

  // Stores `entry` in the background; it may be dropped (tier down, queue full, disk full).
  virtual void store(const Key& key, EntryPtr entry) = 0;

  // Removes every entry, or only those of namespace `ns`. Completes when done (or given up).
  virtual asio::awaitable<void> clear(std::string_view ns) = 0;

  // This tier's part of GET /admin/cache: at least entries, bytes, hits, misses, and how many
  // lookups and writes were given up and why.
  virtual json::object stats() const = 0;
};

}  // namespace sluice::cache
