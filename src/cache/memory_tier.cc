#include "cache/memory_tier.h"

#include <boost/intrusive/list.hpp>

#include <algorithm>
#include <bit>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sluice::cache {
namespace {

namespace bi = boost::intrusive;

constexpr std::size_t kMinShardBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxDefaultShards = 64;

// The answer size the sketch is sized for. Chat answers are mostly 1-4 KiB; assuming the small
// end errs towards more counters (fewer collisions), which costs little.
constexpr std::size_t kTypicalEntryBytes = 1024;

// Sketch proportions, Caffeine's: 16 counters per expected entry, 4 of which each key uses, so
// every row is 4 x expected entries wide; counters are halved after 10 x expected entries
// recorded lookups. The window of history is then ~10 cache-fulls of requests, as in the
// TinyLFU paper, and the collision noise in a row stays near 2.5 per counter, well under the
// 15 a counter can hold. On the Zipf benchmark, rows 1x to 8x wide and a history of 10x to 40x
// moved the hit rate by about one point; a longer history wins on a trace whose popularity
// never changes, and would adapt more slowly to traffic whose popularity does.
constexpr std::size_t kCountersPerRowPerEntry = 4;
constexpr std::size_t kMinSketchWidth = 64;
constexpr std::size_t kSamplesPerEntry = 10;

// Segment proportions, Caffeine's starting point (it then resizes the window by hill climbing,
// which this tier does not): a window of 1% of the bytes, and 80% of the rest protected. The
// window holds at least a couple of typical entries, so that in a small shard a new entry still
// gets a moment to be looked up again before it has to compete.
constexpr std::size_t kWindowPercent = 1;
constexpr std::size_t kMinWindowBytes = 2 * kTypicalEntryBytes;
constexpr std::size_t kProtectedPercent = 80;

// A candidate that does not beat its victims is refused, except that a warm one (estimated at
// least this often) is let in 1 time in 128 anyway. Without that, an attacker who keeps a
// victim's counters high (by hash collisions) could stop the tier from ever admitting anything.
// Caffeine does the same; ties go to the incumbent because it has already proven itself.
constexpr int kWarmFrequency = 6;
constexpr std::uint64_t kWarmAdmitMask = 127;

// The splitmix64 finalizer: a cheap, good 64-bit mix.
std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Keys are already uniform hashes, but the shard index uses the top bits of `high` and the map
// uses `low`; mixing both halves keeps the sketch's slots independent of either, and keeps the
// sketch working even if a caller's keys are not as random as XXH3's.
std::uint64_t sketch_hash(const Key& k) { return mix64(k.low ^ (k.high * 0x9e3779b97f4a7c15ULL)); }

// A count-min sketch of 4-bit counters, depth 4, in Caffeine's blocked layout: a key's four
// counters lie in one 64-byte block (one per row, each row owning two of the block's eight
// words), so recording or estimating a key touches one cache line instead of four.
class FrequencySketch {
 public:
  void configure(std::size_t expected_entries) {
    expected_entries = std::max<std::size_t>(expected_entries, 1);
    const std::size_t width =
        std::max(kMinSketchWidth, std::bit_ceil(kCountersPerRowPerEntry * expected_entries));
    // 4 rows of `width` counters, 16 counters per word.
    table_.assign(width / 4, 0);
    block_mask_ = table_.size() / kWordsPerBlock - 1;
    sample_size_ = kSamplesPerEntry * expected_entries;
    additions_ = 0;
  }

  void increment(std::uint64_t h) {
    std::uint64_t* block = &table_[(h & block_mask_) * kWordsPerBlock];
    bool added = false;
    for (int row = 0; row < 4; ++row) {
      const Slot s = slot(h, row);
      std::uint64_t& word = block[s.word];
      if (((word >> s.shift) & 0xf) != 0xf) {
        word += std::uint64_t{1} << s.shift;
        added = true;
      }
    }
    // Saturated keys do not advance the clock: a flood of one hot key would otherwise age
    // everyone else's counts for nothing.
    if (added && ++additions_ >= sample_size_) age();
  }

  int estimate(std::uint64_t h) const {
    const std::uint64_t* block = &table_[(h & block_mask_) * kWordsPerBlock];
    int lowest = 0xf;
    for (int row = 0; row < 4; ++row) {
      const Slot s = slot(h, row);
      lowest = std::min(lowest, static_cast<int>((block[s.word] >> s.shift) & 0xf));
    }
    return lowest;
  }

 private:
  static constexpr std::size_t kWordsPerBlock = 8;

  struct Slot {
    unsigned word;   // within the block
    unsigned shift;  // of the 4-bit counter within the word
  };

  // The block index comes from the hash's low half; each row takes 5 bits of the high half:
  // one picks which of the row's two words, four pick the counter within it.
  static Slot slot(std::uint64_t h, int row) {
    const auto bits = static_cast<unsigned>(h >> (32 + 8 * row)) & 0x1f;
    return {2 * static_cast<unsigned>(row) + (bits & 1), (bits >> 1) * 4};
  }

  // Halves every counter, so that what was popular long ago fades.
  void age() {
    for (std::uint64_t& word : table_) word = (word >> 1) & 0x7777777777777777ULL;
    additions_ /= 2;
  }

  std::vector<std::uint64_t> table_;
  std::uint64_t block_mask_ = 0;
  std::size_t sample_size_ = 0;
  std::size_t additions_ = 0;
};

enum class Segment : std::uint8_t { kWindow, kProbation, kProtected };

struct Node {
  // The map's own key for this node. The map is node-based, so the address never changes;
  // eviction needs the key to erase the node it found through a list.
  const Key* key = nullptr;
  EntryPtr entry;
  std::size_t charge = 0;  // entry->charge() + kBookkeepingBytes, fixed while `entry` is held
  Segment segment = Segment::kWindow;
  bi::list_member_hook<bi::link_mode<bi::normal_link>> hook;
};

// Front is the least recently used end.
using List = bi::list<Node, bi::member_hook<Node, decltype(Node::hook), &Node::hook>,
                      bi::constant_time_size<false>>;
using Map = std::unordered_map<Key, Node, KeyHash>;

// libstdc++'s node is the next pointer plus the value (no cached hash: KeyHash is noexcept and
// counts as fast). glibc's malloc adds an 8-byte header and rounds to 16. The map doubles its
// buckets as it grows, so it keeps between one and two 8-byte bucket pointers per entry. And
// make_shared puts a 16-byte control block (vtable pointer and counts) before the Entry, which
// Entry::charge() does not count but which the tier keeps alive.
constexpr std::size_t kMapNodeBytes = sizeof(void*) + sizeof(Map::value_type);
constexpr std::size_t kAllocatorOverheadBytes = 16;
constexpr std::size_t kBucketBytes = 2 * sizeof(void*);
constexpr std::size_t kControlBlockBytes = 16;

}  // namespace

const std::size_t MemoryTier::kBookkeepingBytes =
    kMapNodeBytes + kAllocatorOverheadBytes + kBucketBytes + kControlBlockBytes;

// One shard: a map from key to node, and every node on exactly one of three lists. With kLru
// only the window list is used, and it is the whole cache.
class MemoryTier::Shard {
 public:
  void configure(std::size_t capacity, EvictionPolicy policy, std::uint64_t seed) {
    capacity_ = capacity;
    tiny_lfu_ = policy == EvictionPolicy::kTinyLfu;
    if (tiny_lfu_) {
      window_max_ = std::min(capacity, std::max(capacity / 100 * kWindowPercent, kMinWindowBytes));
      protected_max_ = (capacity - window_max_) / 100 * kProtectedPercent;
      sketch_.configure(capacity / kTypicalEntryBytes);
    } else {
      window_max_ = capacity;
      protected_max_ = 0;
    }
    random_ = seed;
  }

  EntryPtr lookup(const Key& key, std::int64_t now) {
    EntryPtr dropped;  // declared before the lock, so it is freed after the lock is released
    std::lock_guard lock(mutex_);
    if (tiny_lfu_) sketch_.increment(sketch_hash(key));
    auto it = map_.find(key);
    if (it == map_.end()) {
      ++misses_;
      return nullptr;
    }
    Node& node = it->second;
    if (node.entry->expired(now)) {
      dropped = std::move(node.entry);
      unlink(node);
      map_.erase(it);
      ++expirations_;
      ++misses_;
      return nullptr;
    }
    ++hits_;
    touch(node);
    return node.entry;
  }

  void insert(const Key& key, EntryPtr entry, std::int64_t now) {
    const std::size_t charge = entry->charge() + kBookkeepingBytes;
    EntryPtr replaced;
    std::lock_guard lock(mutex_);
    auto it = map_.find(key);
    if (charge > capacity_ || entry->expired(now)) {
      ++(charge > capacity_ ? rejections_ : expirations_);
      if (it != map_.end()) {
        replaced = std::move(it->second.entry);
        unlink(it->second);
        map_.erase(it);
      }
      return;
    }
    if (it != map_.end()) {
      // A replacement counts as an access: it stays in its segment, at the recent end.
      Node& node = it->second;
      replaced = std::exchange(node.entry, std::move(entry));
      const Segment segment = node.segment;
      unlink(node);
      node.charge = charge;
      link(node, segment);
      if (segment == Segment::kProtected) demote_overflow();
    } else {
      auto [pos, inserted] = map_.try_emplace(key);
      Node& node = pos->second;
      node.key = &pos->first;
      node.entry = std::move(entry);
      node.charge = charge;
      link(node, Segment::kWindow);
    }
    ++inserts_;
    make_room(now);
  }

  bool erase(const Key& key) {
    EntryPtr dropped;
    std::lock_guard lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    dropped = std::move(it->second.entry);
    unlink(it->second);
    map_.erase(it);
    return true;
  }

  std::size_t clear(std::string_view ns) {
    std::size_t removed = 0;
    std::lock_guard lock(mutex_);
    for (auto it = map_.begin(); it != map_.end();) {
      if (ns.empty() || it->second.entry->ns == ns) {
        unlink(it->second);
        it = map_.erase(it);
        ++removed;
      } else {
        ++it;
      }
    }
    return removed;
  }

  void add_stats(MemoryTierStats& out) const {
    std::lock_guard lock(mutex_);
    out.entries += map_.size();
    out.bytes += bytes();
    out.hits += hits_;
    out.misses += misses_;
    out.inserts += inserts_;
    out.evictions += evictions_;
    out.rejections += rejections_;
    out.expirations += expirations_;
  }

 private:
  std::size_t bytes() const { return window_bytes_ + probation_bytes_ + protected_bytes_; }

  List& list_of(Segment s) {
    switch (s) {
      case Segment::kWindow:
        return window_;
      case Segment::kProbation:
        return probation_;
      case Segment::kProtected:
        break;
    }
    return protected_;
  }

  std::size_t& bytes_of(Segment s) {
    switch (s) {
      case Segment::kWindow:
        return window_bytes_;
      case Segment::kProbation:
        return probation_bytes_;
      case Segment::kProtected:
        break;
    }
    return protected_bytes_;
  }

  // Appends at the most recently used end of `s`.
  void link(Node& node, Segment s) {
    node.segment = s;
    list_of(s).push_back(node);
    bytes_of(s) += node.charge;
  }

  void unlink(Node& node) {
    List& list = list_of(node.segment);
    list.erase(list.iterator_to(node));
    bytes_of(node.segment) -= node.charge;
  }

  // Removes a node that is on no list.
  void erase_unlinked(Node& node) {
    const Key key = *node.key;  // the node, and the key it points at, go away in erase()
    map_.erase(key);
  }

  void touch(Node& node) {
    List& list = list_of(node.segment);
    if (&list.back() == &node) return;  // hot keys usually are already there
    if (node.segment == Segment::kProbation) {
      // Used again since it was admitted: it has earned a place in the protected segment.
      unlink(node);
      link(node, Segment::kProtected);
      demote_overflow();
      return;
    }
    list.erase(list.iterator_to(node));
    list.push_back(node);
  }

  // The protected segment's least recently used entries go back on probation, where they must
  // be used again to stay; the segment always keeps its most recent entry.
  void demote_overflow() {
    while (protected_bytes_ > protected_max_ && &protected_.front() != &protected_.back()) {
      Node& node = protected_.front();
      unlink(node);
      link(node, Segment::kProbation);
    }
  }

  void make_room(std::int64_t now) {
    if (tiny_lfu_) {
      while (window_bytes_ > window_max_) {
        Node& candidate = window_.front();
        unlink(candidate);
        admit_or_reject(candidate, now);
      }
    }
    // Only a replacement that grew an entry in the main segments gets here with TinyLFU (a
    // candidate is admitted only once there is room for it); with kLru this is the policy.
    while (bytes() > capacity_) evict_one(now);
  }

  // `candidate` has left the window and is on no list. It joins probation if there is room, or
  // if its key is used more often than every entry that would have to go to make room (by
  // bytes, so a large candidate may need to beat several victims).
  void admit_or_reject(Node& candidate, std::int64_t now) {
    if (candidate.entry->expired(now)) {
      ++expirations_;
      erase_unlinked(candidate);
      return;
    }
    const std::size_t others = bytes();
    if (others + candidate.charge <= capacity_) {
      link(candidate, Segment::kProbation);
      return;
    }
    // The victims evict_one() would take, in its order. They always suffice: every entry's
    // charge is at most capacity_.
    const std::size_t need = others + candidate.charge - capacity_;
    std::size_t freed = 0;
    std::size_t victims = 0;
    int victim_frequency = -1;  // an expired victim does not compete
    for (List* list : {&probation_, &protected_, &window_}) {
      for (auto v = list->begin(); v != list->end() && freed < need; ++v) {
        freed += v->charge;
        ++victims;
        if (!v->entry->expired(now)) {
          victim_frequency = std::max(victim_frequency, sketch_.estimate(sketch_hash(*v->key)));
        }
      }
    }
    const int frequency = sketch_.estimate(sketch_hash(*candidate.key));
    const bool admit = frequency > victim_frequency ||
                       (frequency >= kWarmFrequency && (next_random() & kWarmAdmitMask) == 0);
    if (!admit) {
      ++rejections_;
      erase_unlinked(candidate);
      return;
    }
    for (; victims > 0; --victims) evict_one(now);
    link(candidate, Segment::kProbation);
  }

  void evict_one(std::int64_t now) {
    List& list = !probation_.empty() ? probation_ : !protected_.empty() ? protected_ : window_;
    Node& victim = list.front();
    ++(victim.entry->expired(now) ? expirations_ : evictions_);
    unlink(victim);
    erase_unlinked(victim);
  }

  // splitmix64: deterministic per shard, so tests repeat exactly.
  std::uint64_t next_random() {
    random_ += 0x9e3779b97f4a7c15ULL;
    return mix64(random_);
  }

  // Its own cache line, so that neighbouring shards' locks do not share one.
  alignas(64) mutable std::mutex mutex_;
  Map map_;
  // Declared after the map, so they are destroyed first and never see freed nodes.
  List window_;
  List probation_;
  List protected_;
  std::size_t window_bytes_ = 0;
  std::size_t probation_bytes_ = 0;
  std::size_t protected_bytes_ = 0;
  std::size_t capacity_ = 0;
  std::size_t window_max_ = 0;
  std::size_t protected_max_ = 0;
  bool tiny_lfu_ = true;
  FrequencySketch sketch_;
  std::uint64_t random_ = 0;
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
  std::uint64_t inserts_ = 0;
  std::uint64_t evictions_ = 0;
  std::uint64_t rejections_ = 0;
  std::uint64_t expirations_ = 0;
};

MemoryTier::MemoryTier(std::size_t max_bytes, const core::Clock& clock, EvictionPolicy policy,
                       std::size_t shards)
    : clock_(clock), max_bytes_(max_bytes) {
  if (shards == 0) {
    shards = std::clamp<std::size_t>(max_bytes / kMinShardBytes, 1, kMaxDefaultShards);
  }
  shard_count_ = std::bit_floor(shards);
  shard_shift_ = 64 - std::countr_zero(shard_count_);
  shards_ = std::make_unique<Shard[]>(shard_count_);
  for (std::size_t i = 0; i < shard_count_; ++i) {
    shards_[i].configure(max_bytes / shard_count_, policy, mix64(i + 1));
  }
}

MemoryTier::~MemoryTier() = default;

MemoryTier::Shard& MemoryTier::shard_for(const Key& key) const {
  return shards_[shard_count_ == 1 ? 0 : static_cast<std::size_t>(key.high >> shard_shift_)];
}

EntryPtr MemoryTier::lookup(const Key& key) {
  // Read the clock outside the lock: SteadyClock's is a vDSO call, but it need not be held.
  return shard_for(key).lookup(key, clock_.unix_ms());
}

void MemoryTier::insert(const Key& key, EntryPtr entry) {
  if (!entry) return;
  shard_for(key).insert(key, std::move(entry), clock_.unix_ms());
}

bool MemoryTier::erase(const Key& key) { return shard_for(key).erase(key); }

std::size_t MemoryTier::clear(std::string_view ns) {
  std::size_t removed = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) removed += shards_[i].clear(ns);
  return removed;
}

MemoryTierStats MemoryTier::stats() const {
  MemoryTierStats out;
  out.max_bytes = max_bytes_;
  for (std::size_t i = 0; i < shard_count_; ++i) shards_[i].add_stats(out);
  return out;
}

}  // namespace sluice::cache
