// The response cache's first tier: answers held in process memory, bounded in bytes, shared by
// every worker.
//
// Entries are spread over shards by the top bits of Key::high; each shard has its own short
// mutex, hash map, lists and frequency sketch, so workers contend only when they touch the same
// shard at the same moment, and there is no global lock. A lookup takes one lock, one hash probe
// and a few list pointer swaps, and allocates nothing.
//
// Eviction is W-TinyLFU (Einziger, Friedman, Manes, "TinyLFU: A Highly Efficient Cache Admission
// Policy", 2017; as in Caffeine), per shard: a new entry first goes into a small LRU "window";
// when it leaves the window it must win a contest against the entries it would displace from
// the main segmented LRU (probation + protected), judged by how often each key was looked up
// recently (a 4-bit count-min sketch, halved periodically so that old popularity fades). One-hit
// wonders and scans therefore cannot flush entries that are used again and again, which a plain
// LRU lets them do. EvictionPolicy::kLru is the same tier with a single LRU list and no
// admission filter, kept for comparison (bench/micro/memory_tier_bench.cc).
//
// Bounds: each of the S shards holds at most max_bytes / S bytes, counted as Entry::charge()
// plus kBookkeepingBytes per entry, so the sum never exceeds max_bytes. An entry that alone
// exceeds its shard's share is refused. The sketches are a fixed cost outside that bound: 8 to
// 16 bytes per KiB of max_bytes (under 1.6%).
//
// TTL: an entry for which Entry::expired(clock.unix_ms()) holds is never returned. There is no
// background sweeper: an expired entry is removed when a lookup finds it or when eviction
// reaches it, and it never wins an admission contest.
//
// Thread safety: every member function may be called from any number of threads at once.
// clear() and stats() visit the shards one after another, so under concurrent writes they see
// each shard at a slightly different moment; when the tier is quiescent stats() is exact.
// Entries are shared, immutable values (EntryPtr): an entry returned by lookup() stays valid
// however long the caller holds it, even after the tier drops it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "cache/entry.h"
#include "core/clock.h"

namespace sluice::cache {

enum class EvictionPolicy {
  kTinyLfu,  // W-TinyLFU: admission window + frequency filter + segmented LRU (the default)
  kLru,      // plain LRU by bytes, no admission filter (for comparison)
};

struct MemoryTierStats {
  std::uint64_t entries = 0;    // entries held now
  std::uint64_t bytes = 0;      // their charge, including bookkeeping; <= max_bytes
  std::uint64_t max_bytes = 0;  // as configured
  std::uint64_t hits = 0;       // lookups that returned an entry
  std::uint64_t misses = 0;     // lookups that did not (including ones that found it expired)
  std::uint64_t inserts = 0;    // insert() calls whose entry was stored (new keys and replacements)
  std::uint64_t evictions = 0;  // entries pushed out to make room
  // Entries refused: too large for a shard, or (W-TinyLFU) a candidate leaving the admission
  // window that lost the contest against the entries it would have displaced. Such a candidate
  // was counted in `inserts` when it entered the window.
  std::uint64_t rejections = 0;
  // Entries dropped because their TTL had passed: found by a lookup, chosen as an eviction
  // victim, or already expired when inserted.
  std::uint64_t expirations = 0;
};

class MemoryTier {
 public:
  // What the tier counts per entry on top of Entry::charge(): its hash-map node, the allocator's
  // header, the map's bucket slots and the shared_ptr control block that charge() leaves out.
  static const std::size_t kBookkeepingBytes;

  // max_bytes bounds the sum of Entry::charge() + kBookkeepingBytes over all entries. shards is
  // rounded down to a power of two; 0 picks the largest power of two up to 64 that leaves each
  // shard at least 1 MiB (at least one shard).
  MemoryTier(std::size_t max_bytes, const core::Clock& clock,
             EvictionPolicy policy = EvictionPolicy::kTinyLfu, std::size_t shards = 0);
  ~MemoryTier();
  MemoryTier(const MemoryTier&) = delete;
  MemoryTier& operator=(const MemoryTier&) = delete;

  // The live entry for `key`, or nullptr. Every call, hit or miss, counts towards the key's
  // frequency. An expired entry is removed and reported as a miss.
  EntryPtr lookup(const Key& key);

  // Stores `entry` under `key`, replacing any entry already there. It may evict others, and it
  // may be refused: when it alone exceeds a shard's share of max_bytes, or later, by the
  // admission filter. A refused or already expired entry also removes the old value, which the
  // caller meant to replace. A null entry is ignored.
  void insert(const Key& key, EntryPtr entry);

  // Removes the entry for `key`; false when there was none.
  bool erase(const Key& key);

  // Removes every entry, or with a non-empty `ns` only those whose Entry::ns equals it. Returns
  // how many were removed.
  std::size_t clear(std::string_view ns = {});

  MemoryTierStats stats() const;

  std::size_t shard_count() const { return shard_count_; }

 private:
  class Shard;

  Shard& shard_for(const Key& key) const;

  const core::Clock& clock_;
  std::size_t max_bytes_;
  std::size_t shard_count_;
  int shard_shift_;  // shard = key.high >> shard_shift_, when there is more than one
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace sluice::cache
