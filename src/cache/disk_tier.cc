#include "cache/disk_tier.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "cache/entry_codec.h"
#include "core/run_on.h"

namespace sluice::cache {

namespace {

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;

constexpr char kDataTag = 'd';
constexpr char kIndexTag = 'n';
constexpr std::size_t kDataKeyBytes = 1 + 16;
constexpr std::size_t kIndexKeyBytes = 1 + 8 + 16;

// Memory: a small fixed footprint whatever the size on disk. The block cache holds the index and
// filter blocks (in its high-priority half, so data blocks never push them out) and recently read
// data blocks; its 4 MiB high-priority half keeps the index and filters of about 1.8 GiB of 2 KiB
// answers resident (measured: 2.2 MiB per GiB). A disk hit is promoted into the memory tier, so
// caching its data block again here would mostly duplicate it. Memtables: one being filled and at
// most one being flushed, each at most 4 MiB.
constexpr std::size_t kBlockCacheBytes = 8 * kMiB;
constexpr std::uint64_t kMaxWriteBuffer = 4 * kMiB;
constexpr std::uint64_t kMinWriteBuffer = 64 * kKiB;
// Answers are a few KiB each; 16 KiB blocks keep the index a quarter of what 4 KiB blocks need.
constexpr std::size_t kBlockBytes = 16 * kKiB;
// Free space below which a tier whose writes failed does not try to bring the database back: room
// to flush both memtables and start a new log.
constexpr std::uint64_t kRoomToRecover = 3 * kMaxWriteBuffer;
// Deletes in one write batch while clearing a namespace.
constexpr int kClearBatch = 1024;

void put_be64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

std::uint64_t ns_hash(std::string_view ns) { return XXH64(ns.data(), ns.size(), 0); }

std::string index_prefix(std::string_view ns) {
  std::string k;
  k.reserve(kIndexKeyBytes + 17);
  k.push_back(kIndexTag);
  put_be64(k, ns_hash(ns));
  return k;
}

std::string index_key(std::string_view ns, const Key& key) {
  std::string k = index_prefix(ns);
  put_be64(k, key.high);
  put_be64(k, key.low);
  return k;
}

// Above every index key of the namespace that `prefix` starts: the largest such key, then one
// more byte.
std::string index_end(std::string prefix) {
  prefix.append(16, '\xff');
  prefix.push_back('\0');
  return prefix;
}

// Every key the tier writes starts with a tag below 0xff.
const rocksdb::Slice kFirstKey("");
const rocksdb::Slice kPastLastKey("\xff");

// The tier brings the database back itself, on its strand (DiskTier::recover); RocksDB's own
// attempts would race with it.
class NoAutoRecovery final : public rocksdb::EventListener {
 public:
  const char* Name() const override { return "SluiceNoAutoRecovery"; }
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status,
                            bool* auto_recovery) override {
    *auto_recovery = false;
  }
};

rocksdb::WriteOptions write_options() {
  rocksdb::WriteOptions o;
  o.sync = false;  // a cache may lose its last writes on power loss; checksums catch torn ones
  return o;
}

rocksdb::Options db_options(const DiskTier::Options& o, std::shared_ptr<rocksdb::Cache> cache) {
  rocksdb::Options opt;
  opt.create_if_missing = true;
  if (o.env != nullptr) opt.env = o.env;

  // A file is one flushed memtable, and FIFO drops whole files, so the overshoot past the bound
  // is about one memtable: a thirty-second of the bound, between 64 KiB and 4 MiB.
  const std::uint64_t buffer = std::clamp(o.max_bytes / 32, kMinWriteBuffer, kMaxWriteBuffer);
  opt.write_buffer_size = buffer;
  opt.max_write_buffer_number = 2;
  opt.compaction_style = rocksdb::kCompactionStyleFIFO;
  opt.compaction_options_fifo.allow_compaction = false;  // written once, never rewritten
  // The write-ahead log holds what the memtables hold, so files + log stay within max_bytes.
  opt.compaction_options_fifo.max_table_files_size =
      o.max_bytes > 3 * buffer ? o.max_bytes - 2 * buffer : buffer;
  // FIFO ages a file by its oldest entry, and has one TTL for all of them: at twice cache.ttl it
  // drops files whose answers (at the usual lifetime) are all dead, unless a memtable took longer
  // than a whole TTL to fill. Answers stored with a longer x-sluice-cache-ttl may go sooner, as
  // any cache entry may. Reads check expires_ms themselves.
  const auto ttl_s = std::chrono::duration_cast<std::chrono::seconds>(o.ttl).count();
  opt.ttl = static_cast<std::uint64_t>(std::max<std::int64_t>(1, 2 * ttl_s));
  opt.periodic_compaction_seconds = 0;
  opt.max_open_files = -1;  // FIFO's TTL needs every file's properties at hand
  // Values are compressed by the entry codec already.
  opt.compression = rocksdb::kNoCompression;
  opt.max_background_jobs = 2;
  opt.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  opt.max_bgerror_resume_count = 0;
  opt.listeners.push_back(std::make_shared<NoAutoRecovery>());
  // Bounded bookkeeping files: the manifest rolls at 4 MiB, the info log keeps 3 files of 1 MiB.
  opt.max_manifest_file_size = 4 * kMiB;
  opt.max_log_file_size = 1 * kMiB;
  opt.keep_log_file_num = 3;
  opt.stats_dump_period_sec = 0;
  opt.stats_persist_period_sec = 0;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = std::move(cache);
  table.block_size = kBlockBytes;
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = false;  // pinned blocks would be unbounded
  // Every file is in level 0, so a lookup may consult each: a bloom filter (10 bits per key, ~1%
  // false positives) answers for most of them without reading.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  opt.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return opt;
}

}  // namespace

std::string DiskTier::data_key(const Key& key) {
  std::string k;
  k.reserve(kDataKeyBytes);
  k.push_back(kDataTag);
  put_be64(k, key.high);
  put_be64(k, key.low);
  return k;
}

DiskTier::DiskTier(Options options, const core::Clock& clock)
    : options_(std::move(options)), clock_(clock), writes_(asio::make_strand(pool_)) {
  const std::string& path = options_.path;
  if (path.empty()) throw std::runtime_error("cache.disk.path is empty");
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    throw std::runtime_error("cache.disk.path " + path +
                             ": cannot create the directory: " + ec.message());
  }
  rocksdb::LRUCacheOptions cache_options;
  cache_options.capacity = kBlockCacheBytes;
  cache_options.num_shard_bits = 2;
  cache_options.high_pri_pool_ratio = 0.5;
  block_cache_ = rocksdb::NewLRUCache(cache_options);

  rocksdb::Status s = open();
  if (s.IsCorruption()) {
    // It is a cache: starting empty beats not starting.
    spdlog::warn("disk cache at {} is damaged ({}); starting it empty", path, s.ToString());
    rocksdb::Status destroyed = rocksdb::DestroyDB(path, db_options(options_, block_cache_));
    if (destroyed.ok()) s = open();
  }
  if (!s.ok()) {
    throw std::runtime_error("cache.disk.path " + path +
                             ": cannot open the disk cache: " + s.ToString());
  }
  spdlog::info("disk cache at {}: {} MiB bound, memtables of {} KiB", path,
               options_.max_bytes / kMiB,
               db_options(options_, block_cache_).write_buffer_size / kKiB);
}

DiskTier::~DiskTier() {
  pool_.join();  // the queued writes finish; nothing new arrives once the owner lets go
  if (db_) {
    rocksdb::Status s = db_->Close();
    if (!s.ok()) spdlog::warn("disk cache at {}: close: {}", options_.path, s.ToString());
  }
}

rocksdb::Status DiskTier::open() {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options(options_, block_cache_), options_.path, &raw);
  if (s.ok()) db_.reset(raw);
  return s;
}

DiskTier::Recovery DiskTier::recover(rocksdb::Status* error) {
  // A full disk stays full for a while: touch nothing until there is room to flush a memtable.
  rocksdb::Env* env = options_.env != nullptr ? options_.env : rocksdb::Env::Default();
  std::uint64_t free = 0;
  if (env->GetFreeSpace(options_.path, &free).ok() && free < kRoomToRecover) {
    return Recovery::kNoRoom;
  }
  if (db_) {
    // Flushes the memtables and starts a new write-ahead log. (RocksDB's own attempts, which
    // would race with this one, are off: NoAutoRecovery.)
    *error = db_->Resume();
    if (error->ok()) return Recovery::kDone;
    spdlog::debug("disk cache at {}: resume: {}", options_.path, error->ToString());
  }
  // Some errors RocksDB will not resume from (one is a resume whose flush failed); opening the
  // database again starts from what is on disk, with a new log. Lookups miss meanwhile.
  std::unique_lock lock(db_mu_);
  if (db_) {
    db_->Close().PermitUncheckedError();
    db_.reset();
  }
  *error = open();
  return error->ok() ? Recovery::kDone : Recovery::kFailed;
}

asio::awaitable<EntryPtr> DiskTier::lookup(std::string_view /*ns*/, const Key& key) {
  return core::run_on<EntryPtr>(pool_.get_executor(), [this, key]() noexcept -> EntryPtr {
    try {
      return read(key);
    } catch (const std::exception&) {  // only allocation can throw here
      counters_.read_errors.fetch_add(1, std::memory_order_relaxed);
      counters_.misses.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
  });
}

EntryPtr DiskTier::read(const Key& key) {
  auto miss = [this] {
    counters_.misses.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  };
  auto delete_later = [this, &key] {
    if (!reserve(0)) return;
    asio::post(writes_, [this, key] {
      try {
        delete_if_dead(key);
      } catch (const std::exception&) {
      }
      release(0);
    });
  };
  auto corrupt = [&](const std::string& why) {
    if (counters_.corrupt.fetch_add(1, std::memory_order_relaxed) == 0) {
      spdlog::warn("disk cache: damaged entry {} is deleted ({}); further ones are counted",
                   key.hex(), why);
    }
    delete_later();
    return miss();
  };

  // A lookup never waits for the database to be opened again after a fault: it misses.
  std::shared_lock lock(db_mu_, std::try_to_lock);
  if (!lock.owns_lock() || !db_) return miss();
  rocksdb::PinnableSlice value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), db_->DefaultColumnFamily(), data_key(key), &value);
  if (s.IsNotFound()) return miss();
  if (s.IsCorruption()) return corrupt(s.ToString());
  if (!s.ok()) {
    counters_.read_errors.fetch_add(1, std::memory_order_relaxed);
    return miss();
  }
  auto entry = decode_entry(std::string_view(value.data(), value.size()), options_.max_body_bytes);
  value.Reset();
  if (!entry) return corrupt(entry.error().message);
  if (entry->expired(clock_.unix_ms())) {
    counters_.expired.fetch_add(1, std::memory_order_relaxed);
    delete_later();
    return miss();
  }
  if (cleared(*entry)) return miss();
  counters_.hits.fetch_add(1, std::memory_order_relaxed);
  return std::make_shared<const Entry>(std::move(*entry));
}

bool DiskTier::cleared(const Entry& entry) const {
  if (!has_failed_clears_.load(std::memory_order_acquire)) return false;
  std::lock_guard lock(failed_clears_mu_);
  return std::any_of(failed_clears_.begin(), failed_clears_.end(), [&](const FailedClear& c) {
    return (c.ns.empty() || c.ns == entry.ns) && entry.created_ms <= c.at_ms;
  });
}

bool DiskTier::reserve(std::size_t bytes) {
  std::size_t before = pending_writes_.fetch_add(1, std::memory_order_relaxed);
  std::size_t bytes_before = pending_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  // One answer larger than the byte bound may still go when nothing else waits.
  if (before < options_.max_pending_writes &&
      (before == 0 || bytes_before + bytes <= options_.max_pending_bytes)) {
    return true;
  }
  release(bytes);
  return false;
}

void DiskTier::release(std::size_t bytes) {
  pending_writes_.fetch_sub(1, std::memory_order_relaxed);
  pending_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
}

bool DiskTier::writes_paused() const {
  auto until = paused_until_.load(std::memory_order_relaxed);
  return until != 0 && clock_.now().time_since_epoch().count() < until;
}

void DiskTier::store(const Key& key, EntryPtr entry) {
  if (!entry) return;
  if (writes_paused()) {
    counters_.skipped_writes.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::size_t bytes = entry->body.size() + entry->ns.size();
  if (!reserve(bytes)) {
    counters_.dropped_writes.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  asio::post(writes_, [this, key, entry = std::move(entry), bytes] {
    try {
      write(key, *entry);
    } catch (const std::exception&) {  // allocation only
      counters_.write_errors.fetch_add(1, std::memory_order_relaxed);
    }
    release(bytes);
  });
}

void DiskTier::write_failed(const rocksdb::Status& status) {
  counters_.write_errors.fetch_add(1, std::memory_order_relaxed);
  pause();
  needs_recovery_ = true;
  if (failing_.exchange(true, std::memory_order_relaxed)) {
    spdlog::debug("disk cache at {}: a write failed again ({})", options_.path, status.ToString());
  } else {
    spdlog::warn(
        "disk cache at {}: a write failed ({}); writes stop and are retried every {} s, lookups go "
        "on",
        options_.path, status.ToString(),
        std::chrono::duration_cast<std::chrono::seconds>(options_.write_retry_after).count());
  }
}

bool DiskTier::ready_to_write() {
  if (writes_paused()) return false;
  if (needs_recovery_) {
    // After a failed write RocksDB refuses every write until it is brought back.
    rocksdb::Status error;
    switch (recover(&error)) {
      case Recovery::kDone:
        needs_recovery_ = false;
        break;
      case Recovery::kNoRoom:
        pause();
        return false;
      case Recovery::kFailed:
        write_failed(error);
        return false;
    }
  }
  return db_ != nullptr;
}

void DiskTier::pause() {
  paused_until_.store((clock_.now() + options_.write_retry_after).time_since_epoch().count(),
                      std::memory_order_relaxed);
}

void DiskTier::write(const Key& key, const Entry& entry) {
  if (entry.expired(clock_.unix_ms())) return;
  if (!ready_to_write()) {
    counters_.skipped_writes.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::string value = encode_entry(entry);
  rocksdb::WriteBatch batch;
  batch.Put(data_key(key), value);
  batch.Put(index_key(entry.ns, key), rocksdb::Slice());
  rocksdb::Status s = db_->Write(write_options(), &batch);
  if (!s.ok()) {
    write_failed(s);
    return;
  }
  counters_.writes.fetch_add(1, std::memory_order_relaxed);
  if (failing_.exchange(false, std::memory_order_relaxed)) {
    paused_until_.store(0, std::memory_order_relaxed);
    spdlog::info("disk cache at {}: writes resumed", options_.path);
  }
}

void DiskTier::delete_if_dead(const Key& key) {
  if (!ready_to_write()) return;
  // Read again: a fresh answer may have replaced the dead one since the lookup saw it.
  std::string k = data_key(key);
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), k, &value);
  std::optional<std::string> ns;
  if (s.ok()) {
    auto entry = decode_entry(value, options_.max_body_bytes);
    if (entry && !entry->expired(clock_.unix_ms())) return;
    if (entry) ns = std::move(entry->ns);
  } else if (!s.IsCorruption()) {
    return;  // gone already, or unreadable for now
  }
  rocksdb::WriteBatch batch;
  batch.Delete(k);
  if (ns) batch.Delete(index_key(*ns, key));
  s = db_->Write(write_options(), &batch);
  if (!s.ok()) write_failed(s);
}

void DiskTier::clear_now(const std::string& ns) {
  rocksdb::Status written;  // what the writes said; a read error is not a full disk
  rocksdb::Status s;
  if (!ready_to_write()) {
    s = rocksdb::Status::Aborted("writes are stopped after an error");
  } else if (ns.empty()) {
    rocksdb::WriteBatch batch;
    batch.DeleteRange(kFirstKey, kPastLastKey);
    s = written = db_->Write(write_options(), &batch);
  } else {
    const std::string begin = index_prefix(ns);
    const std::string end = index_end(begin);
    rocksdb::Slice upper(end);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    ro.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    rocksdb::WriteBatch batch;
    for (it->Seek(begin); it->Valid() && s.ok(); it->Next()) {
      rocksdb::Slice k = it->key();
      if (k.size() != kIndexKeyBytes) continue;
      std::string data(1, kDataTag);
      data.append(k.data() + 1 + 8, 16);
      batch.Delete(data);
      if (batch.Count() >= kClearBatch) {
        s = written = db_->Write(write_options(), &batch);
        batch.Clear();
      }
    }
    if (s.ok()) s = it->status();
    if (s.ok()) {
      batch.DeleteRange(begin, end);
      s = written = db_->Write(write_options(), &batch);
    }
  }
  if (!written.ok()) write_failed(written);
  if (!s.ok()) {
    // Answers the clear should have removed must still not be served.
    spdlog::warn("disk cache at {}: clearing {} failed ({}); its entries are misses until restart",
                 options_.path, ns.empty() ? std::string("every namespace") : "namespace " + ns,
                 s.ToString());
    std::lock_guard lock(failed_clears_mu_);
    failed_clears_.push_back({ns, clock_.unix_ms()});
    has_failed_clears_.store(true, std::memory_order_release);
  }
}

asio::awaitable<void> DiskTier::clear(std::string_view ns) {
  return core::run_on<void>(writes_, [this, ns = std::string(ns)]() noexcept {
    try {
      clear_now(ns);
    } catch (const std::exception& e) {
      spdlog::warn("disk cache at {}: clear: {}", options_.path, e.what());
    }
  });
}

asio::awaitable<void> DiskTier::sync() {
  return core::run_on<void>(writes_, []() noexcept {});
}

json::object DiskTier::stats() const {
  auto load = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  std::uint64_t keys = 0;
  std::uint64_t sst = 0;
  std::uint64_t memtables = 0;
  // In-memory figures under RocksDB's short mutex. While the database is being opened again
  // after a fault (rare, on the tier's own thread) a worker does not wait: the last figures do.
  if (std::shared_lock lock(db_mu_, std::try_to_lock); lock.owns_lock() && db_) {
    db_->GetIntProperty("rocksdb.estimate-num-keys", &keys);
    db_->GetIntProperty("rocksdb.total-sst-files-size", &sst);
    db_->GetIntProperty("rocksdb.cur-size-all-mem-tables", &memtables);
    last_keys_.store(keys, std::memory_order_relaxed);
    last_bytes_.store(sst + memtables, std::memory_order_relaxed);
  } else {
    keys = last_keys_.load(std::memory_order_relaxed);
    sst = last_bytes_.load(std::memory_order_relaxed);
  }
  const std::uint64_t hits = load(counters_.hits);
  const std::uint64_t lookups = hits + load(counters_.misses);

  json::object o;
  // Each answer is two keys (the answer and its namespace index). An estimate: it counts
  // overwritten and deleted answers until FIFO drops their files.
  o["entries"] = keys / 2;
  o["bytes"] = sst + memtables;
  o["max_bytes"] = options_.max_bytes;
  o["hits"] = hits;
  o["misses"] = load(counters_.misses);
  o["hit_rate"] = lookups ? static_cast<double>(hits) / static_cast<double>(lookups) : 0.0;
  o["expired"] = load(counters_.expired);
  o["corrupt"] = load(counters_.corrupt);
  o["read_errors"] = load(counters_.read_errors);
  o["writes"] = load(counters_.writes);
  o["write_errors"] = load(counters_.write_errors);
  o["dropped_writes"] = load(counters_.dropped_writes);
  o["skipped_writes"] = load(counters_.skipped_writes);
  o["pending_writes"] = pending_writes_.load(std::memory_order_relaxed);
  o["writes_disabled"] = failing_.load(std::memory_order_relaxed);
  return o;
}

std::unique_ptr<LowerTier> make_disk_tier(const config::Cache& config, const core::Clock& clock) {
  DiskTier::Options options;
  options.path = config.disk.path;
  options.max_bytes = config.disk.max_bytes;
  options.ttl = config.ttl;
  // The entry's own checksum vouches for its length; this only bounds what a bug could ask for.
  options.max_body_bytes = std::max<std::size_t>(config.max_entry_bytes, 64u * 1024 * 1024);
  return std::make_unique<DiskTier>(std::move(options), clock);
}

}  // namespace sluice::cache
