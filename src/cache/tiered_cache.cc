#include "cache/tiered_cache.h"

namespace sluice::cache {

std::string_view tier_name(Tier tier) {
  switch (tier) {
    case Tier::kMemory:
      return "memory";
    case Tier::kDisk:
      return "disk";
    case Tier::kRedis:
      return "redis";
  }
  return "memory";
}

TieredCache::TieredCache(const config::Cache& config, const core::Clock& clock,
                         std::vector<std::unique_ptr<LowerTier>> lower)
    : clock_(clock), memory_(config.memory.max_bytes, clock), lower_(std::move(lower)) {}

TieredCache::~TieredCache() = default;

void TieredCache::attach_worker(asio::any_io_executor worker) {
  for (auto& tier : lower_) tier->attach_worker(worker);
}

void TieredCache::detach_worker(asio::any_io_executor worker) {
  for (auto& tier : lower_) tier->detach_worker(worker);
}

asio::awaitable<std::optional<Hit>> TieredCache::lookup(std::string_view ns, const Key& key,
                                                        std::int64_t max_age_ms) {
  auto fresh = [&](const EntryPtr& e) {
    if (max_age_ms < 0 || clock_.unix_ms() - e->created_ms < max_age_ms) return true;
    stale_.fetch_add(1, std::memory_order_relaxed);
    return false;
  };
  Hit hit;
  if (EntryPtr entry = memory_.lookup(key)) {
    if (!fresh(entry)) co_return std::nullopt;  // lower tiers hold no younger copy
    hit = Hit{std::move(entry), Tier::kMemory};
  } else {
    std::size_t found = 0;
    for (; found < lower_.size() && !hit.entry; ++found) {
      EntryPtr entry = co_await lower_[found]->lookup(ns, key);
      if (entry && !entry->expired(clock_.unix_ms()))
        hit = Hit{std::move(entry), lower_[found]->tier()};
    }
    if (!hit.entry || !fresh(hit.entry)) co_return std::nullopt;
    // Promoted into every tier above the one that had it.
    memory_.insert(key, hit.entry);
    for (std::size_t i = 0; i + 1 < found; ++i) lower_[i]->store(key, hit.entry);
  }
  hits_[static_cast<int>(hit.tier)].fetch_add(1, std::memory_order_relaxed);
  saved_by_hits_.add(*hit.entry);
  co_return hit;
}

void TieredCache::store(const Key& key, EntryPtr entry) {
  stores_.fetch_add(1, std::memory_order_relaxed);
  for (auto& tier : lower_) tier->store(key, entry);
  memory_.insert(key, std::move(entry));
}

asio::awaitable<std::size_t> TieredCache::clear(std::string_view ns) {
  std::size_t n = memory_.clear(ns);
  for (auto& tier : lower_) co_await tier->clear(ns);
  co_return n;
}

void TieredCache::Savings::add(const Entry& e) {
  requests.fetch_add(1, std::memory_order_relaxed);
  prompt_tokens.fetch_add(e.prompt_tokens, std::memory_order_relaxed);
  completion_tokens.fetch_add(e.completion_tokens, std::memory_order_relaxed);
}

json::object TieredCache::Savings::to_json() const {
  json::object o;
  o["requests"] = requests.load(std::memory_order_relaxed);
  o["prompt_tokens"] = prompt_tokens.load(std::memory_order_relaxed);
  o["completion_tokens"] = completion_tokens.load(std::memory_order_relaxed);
  // Prices per deployment come with the keys-and-limits issue; until then cost is unknown.
  o["cost_usd"] = nullptr;
  return o;
}

json::object TieredCache::stats() const {
  auto load = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  MemoryTierStats m = memory_.stats();
  std::uint64_t hits = 0;
  for (const auto& h : hits_) hits += load(h);
  std::uint64_t lookups = m.hits + m.misses;

  json::object memory;
  memory["entries"] = m.entries;
  memory["bytes"] = m.bytes;
  memory["max_bytes"] = m.max_bytes;
  memory["hits"] = m.hits;
  memory["misses"] = m.misses;
  memory["hit_rate"] = lookups ? static_cast<double>(m.hits) / static_cast<double>(lookups) : 0.0;
  memory["inserts"] = m.inserts;
  memory["evictions"] = m.evictions;
  memory["rejections"] = m.rejections;
  memory["expirations"] = m.expirations;
  json::object tiers;
  tiers["memory"] = std::move(memory);
  for (const auto& tier : lower_) {
    json::object t = tier->stats();
    t["hits_served"] = load(hits_[static_cast<int>(tier->tier())]);
    tiers[tier_name(tier->tier())] = std::move(t);
  }

  json::object not_stored;
  not_stored["oversized"] = load(not_stored_[static_cast<int>(NotStored::kOversized)]);
  not_stored["incomplete"] = load(not_stored_[static_cast<int>(NotStored::kIncomplete)]);

  json::object o;
  o["enabled"] = true;
  o["lookups"] = lookups;
  o["hits"] = hits;
  o["misses"] = lookups - hits;
  o["hit_rate"] = lookups ? static_cast<double>(hits) / static_cast<double>(lookups) : 0.0;
  o["stale"] = load(stale_);
  o["stores"] = load(stores_);
  o["not_stored"] = std::move(not_stored);
  o["tiers"] = std::move(tiers);
  o["saved"] = saved_by_hits_.to_json();
  return o;
}

}  // namespace sluice::cache
