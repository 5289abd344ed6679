// The response cache as the pipeline sees it: one lookup that tries the tiers from the fastest
// down (memory, then disk, then Redis, as configured), promotes a lower tier's hit into the
// tiers above it, and one store that writes every tier. It also keeps the figures behind
// GET /admin/cache: hits per tier and what the hits saved.
//
// The memory tier answers on the calling worker without blocking; lower tiers (when configured)
// are awaited, never blocking the worker, and a slow or failing lower tier is a miss, never an
// error.
//
// Thread safety: one instance shared by every worker; all members may be called concurrently.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/json/object.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "cache/entry.h"
#include "cache/lower_tier.h"
#include "cache/memory_tier.h"
#include "config/config.h"
#include "core/asio.h"
#include "core/clock.h"

namespace sluice::cache {

struct Hit {
  EntryPtr entry;
  Tier tier = Tier::kMemory;
};

// Why a fresh answer was not stored.
enum class NotStored : std::uint8_t { kOversized, kIncomplete, kCount };

class TieredCache {
 public:
  // `lower` are the tiers below memory, fastest first (disk, then Redis).
  TieredCache(const config::Cache& config, const core::Clock& clock,
              std::vector<std::unique_ptr<LowerTier>> lower = {});
  ~TieredCache();

  // See LowerTier::attach_worker and LowerTier::detach_worker.
  void attach_worker(asio::any_io_executor worker);
  void detach_worker(asio::any_io_executor worker);

  const core::Clock& clock() const { return clock_; }

  // A live entry for `key` stored less than `max_age_ms` ago (negative: any age), or nullopt.
  asio::awaitable<std::optional<Hit>> lookup(std::string_view ns, const Key& key,
                                             std::int64_t max_age_ms);

  // Stores a complete, checked answer in every tier.
  void store(const Key& key, EntryPtr entry);
  void count_not_stored(NotStored why) {
    not_stored_[static_cast<int>(why)].fetch_add(1, std::memory_order_relaxed);
  }

  // Removes every entry, or those of namespace `ns`, from every tier; returns how many the memory
  // tier held.
  asio::awaitable<std::size_t> clear(std::string_view ns = {});

  // The GET /admin/cache document.
  json::object stats() const;

 private:
  struct Savings {
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> prompt_tokens{0};
    std::atomic<std::uint64_t> completion_tokens{0};
    void add(const Entry& e);
    json::object to_json() const;
  };

  const core::Clock& clock_;
  MemoryTier memory_;
  std::vector<std::unique_ptr<LowerTier>> lower_;
  std::atomic<std::uint64_t> hits_[kTierCount] = {};
  std::atomic<std::uint64_t> stale_ = 0;  // live entries refused for max-age
  std::atomic<std::uint64_t> stores_ = 0;
  std::atomic<std::uint64_t> not_stored_[static_cast<int>(NotStored::kCount)] = {};
  Savings saved_by_hits_;
};

}  // namespace sluice::cache
