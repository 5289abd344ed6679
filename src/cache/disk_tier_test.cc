#include "cache/disk_tier.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <stdlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "cache/entry_codec.h"
#include "support/await.h"
#include "support/temp_dir.h"

namespace sluice::cache {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kHour = 3'600'000;

using sluice::testing::await;
using sluice::testing::TempDir;

std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Key key_of(std::uint64_t i) { return {mix(2 * i), mix(2 * i + 1)}; }

std::shared_ptr<Entry> make_entry(const core::Clock& clock, std::string tag,
                                  std::size_t body_bytes = 1000, std::string ns = "tenant-a",
                                  std::int64_t ttl_ms = kHour) {
  auto e = std::make_shared<Entry>();
  e->format = Format::kSse;
  e->endpoint = api::Endpoint::kChatCompletions;
  e->ns = std::move(ns);
  e->body = std::move(tag);
  e->body.resize(std::max(body_bytes, e->body.size()), '.');
  e->created_ms = clock.unix_ms();
  e->expires_ms = clock.unix_ms() + ttl_ms;
  e->prompt_tokens = 11;
  e->completion_tokens = 22;
  return e;
}

// Bodies zstd cannot shrink, so the bytes on disk are what the size test means.
std::shared_ptr<Entry> random_entry(const core::Clock& clock, std::mt19937_64& rng,
                                    std::size_t bytes) {
  auto e = make_entry(clock, "");
  e->body.resize(bytes);
  for (auto& c : e->body) c = static_cast<char>(rng());
  return e;
}

DiskTier::Options options_for(const TempDir& dir) {
  DiskTier::Options o;
  o.path = dir.file("db").string();
  o.max_bytes = 64ull * 1024 * 1024;
  return o;
}

std::uint64_t stat(const DiskTier& tier, const char* name) {
  return json::value_to<std::uint64_t>(tier.stats().at(name));
}

// A file system that fails every write while told to, as a full disk does (no space, and no free
// space reported) or a broken one (I/O errors), or holds writes to the write-ahead log (a slow
// disk), so each can be tested with a real RocksDB underneath. (A read-only directory cannot
// stand in for a full disk: the tests may run as root, and RocksDB keeps its files open.)
class FaultyFileSystem : public rocksdb::FileSystemWrapper {
 public:
  enum class Fault { kNone, kFull, kBroken };

  FaultyFileSystem() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FaultyFileSystem"; }

  void set(Fault fault) { fault_ = fault; }
  void hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mu_);
      held_ = false;
    }
    cv_.notify_all();
  }

  rocksdb::IOStatus fault() const {
    switch (fault_.load()) {
      case Fault::kNone:
        break;
      case Fault::kFull:
        return rocksdb::IOStatus::NoSpace("injected: no space left on device");
      case Fault::kBroken:
        return rocksdb::IOStatus::IOError("injected: input/output error");
    }
    return rocksdb::IOStatus::OK();
  }
  rocksdb::IOStatus check(bool wal) {
    std::unique_lock lock(mu_);
    if (wal) cv_.wait(lock, [&] { return !held_; });
    return fault();
  }

  rocksdb::IOStatus GetFreeSpace(const std::string& path, const rocksdb::IOOptions& o,
                                 std::uint64_t* free, rocksdb::IODebugContext* dbg) override {
    if (fault_ == Fault::kFull) {
      *free = 0;
      return rocksdb::IOStatus::OK();
    }
    return target()->GetFreeSpace(path, o, free, dbg);
  }
  rocksdb::IOStatus NewWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                    std::unique_ptr<rocksdb::FSWritableFile>* r,
                                    rocksdb::IODebugContext* dbg) override {
    if (auto s = fault(); !s.ok()) return s;
    return wrap(f, target()->NewWritableFile(f, o, r, dbg), r);
  }
  rocksdb::IOStatus ReopenWritableFile(const std::string& f, const rocksdb::FileOptions& o,
                                       std::unique_ptr<rocksdb::FSWritableFile>* r,
                                       rocksdb::IODebugContext* dbg) override {
    return wrap(f, target()->ReopenWritableFile(f, o, r, dbg), r);
  }
  rocksdb::IOStatus ReuseWritableFile(const std::string& f, const std::string& old,
                                      const rocksdb::FileOptions& o,
                                      std::unique_ptr<rocksdb::FSWritableFile>* r,
                                      rocksdb::IODebugContext* dbg) override {
    return wrap(f, target()->ReuseWritableFile(f, old, o, r, dbg), r);
  }

 private:
  class File : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    File(std::unique_ptr<rocksdb::FSWritableFile> f, FaultyFileSystem& fs, bool wal)
        : FSWritableFileOwnerWrapper(std::move(f)), fs_(fs), wal_(wal) {}
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_.check(wal_); !s.ok()) return s;
      return target()->Append(data, o, dbg);
    }
    rocksdb::IOStatus Append(const rocksdb::Slice& data, const rocksdb::IOOptions& o,
                             const rocksdb::DataVerificationInfo& v,
                             rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_.check(wal_); !s.ok()) return s;
      return target()->Append(data, o, v, dbg);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, std::uint64_t offset,
                                       const rocksdb::IOOptions& o,
                                       rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_.check(wal_); !s.ok()) return s;
      return target()->PositionedAppend(data, offset, o, dbg);
    }
    rocksdb::IOStatus PositionedAppend(const rocksdb::Slice& data, std::uint64_t offset,
                                       const rocksdb::IOOptions& o,
                                       const rocksdb::DataVerificationInfo& v,
                                       rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_.check(wal_); !s.ok()) return s;
      return target()->PositionedAppend(data, offset, o, v, dbg);
    }
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_.check(wal_); !s.ok()) return s;
      return target()->Sync(o, dbg);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* dbg) override {
      if (auto s = fs_.check(wal_); !s.ok()) return s;
      return target()->Fsync(o, dbg);
    }

   private:
    FaultyFileSystem& fs_;
    bool wal_;
  };

  rocksdb::IOStatus wrap(const std::string& name, rocksdb::IOStatus s,
                         std::unique_ptr<rocksdb::FSWritableFile>* r) {
    const bool wal = name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0;
    if (s.ok()) *r = std::make_unique<File>(std::move(*r), *this, wal);
    return s;
  }

  std::atomic<Fault> fault_{Fault::kNone};
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
};

struct FaultyEnv {
  std::shared_ptr<FaultyFileSystem> fs = std::make_shared<FaultyFileSystem>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
};

TEST(DiskTier, StoreThenLookupHits) {
  TempDir dir;
  core::ManualClock clock;
  DiskTier tier(options_for(dir), clock);
  auto e = make_entry(clock, "data: {\"answer\":1}\n\n", 5000);
  tier.store(key_of(1), e);
  await(tier.sync());
  EntryPtr got = await(tier.lookup("default", key_of(1)));
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->body, e->body);
  EXPECT_EQ(got->ns, "tenant-a");
  EXPECT_EQ(got->format, Format::kSse);
  EXPECT_EQ(got->created_ms, e->created_ms);
  EXPECT_EQ(got->expires_ms, e->expires_ms);
  EXPECT_EQ(got->completion_tokens, 22u);
  EXPECT_EQ(await(tier.lookup("default", key_of(2))), nullptr);
  EXPECT_EQ(stat(tier, "writes"), 1u);
  EXPECT_EQ(stat(tier, "hits"), 1u);
  EXPECT_EQ(stat(tier, "misses"), 1u);
  EXPECT_EQ(stat(tier, "entries"), 1u);
  EXPECT_GT(stat(tier, "bytes"), 0u);
  EXPECT_EQ(stat(tier, "max_bytes"), 64ull * 1024 * 1024);
  EXPECT_FALSE(tier.stats().at("writes_disabled").as_bool());
}

TEST(DiskTier, SurvivesARestart) {
  TempDir dir;
  core::ManualClock clock;
  auto e = make_entry(clock, "kept", 3000);
  {
    DiskTier tier(options_for(dir), clock);
    tier.store(key_of(7), e);
  }  // closing waits for the queued write
  DiskTier again(options_for(dir), clock);
  EntryPtr got = await(again.lookup("default", key_of(7)));
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->body, e->body);
}

TEST(DiskTier, ASecondOpenOfTheSamePathFailsClearly) {
  TempDir dir;
  core::ManualClock clock;
  DiskTier tier(options_for(dir), clock);
  try {
    DiskTier second(options_for(dir), clock);
    FAIL() << "opened twice";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.file("db").string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot open the disk cache"), std::string::npos);
  }
  std::filesystem::path file = dir.path() / "plain-file";
  { std::ofstream(file) << "x"; }
  DiskTier::Options o = options_for(dir);
  o.path = file.string();
  EXPECT_THROW(DiskTier(o, clock), std::runtime_error);
}

TEST(DiskTier, ADatabaseDamagedBeyondOpeningIsStartedEmpty) {
  TempDir dir;
  core::ManualClock clock;
  { DiskTier tier(options_for(dir), clock); }
  int manifests = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir.file("db").string())) {
    if (f.path().filename().string().rfind("MANIFEST-", 0) != 0) continue;
    std::ofstream(f.path(), std::ios::binary | std::ios::trunc) << std::string(300, '\x5a');
    ++manifests;
  }
  ASSERT_GT(manifests, 0);
  DiskTier tier(options_for(dir), clock);  // no throw: a cache may start empty
  tier.store(key_of(1), make_entry(clock, "new"));
  await(tier.sync());
  EXPECT_NE(await(tier.lookup("default", key_of(1))), nullptr);
}

TEST(DiskTier, ExpiredEntryIsAMissAndIsDeleted) {
  TempDir dir;
  core::ManualClock clock;
  DiskTier tier(options_for(dir), clock);
  tier.store(key_of(1), make_entry(clock, "short", 1000, "t", 10'000));
  await(tier.sync());
  clock.advance(9'999ms);
  EXPECT_NE(await(tier.lookup("default", key_of(1))), nullptr);
  clock.advance(1ms);  // expires_ms is the first instant it must not be served
  EXPECT_EQ(await(tier.lookup("default", key_of(1))), nullptr);
  await(tier.sync());  // the delete the lookup asked for
  std::string raw;
  EXPECT_TRUE(tier.db().Get({}, DiskTier::data_key(key_of(1)), &raw).IsNotFound());
  EXPECT_EQ(stat(tier, "expired"), 1u);
  // An answer that is dead on arrival is not written at all.
  tier.store(key_of(2), make_entry(clock, "dead", 1000, "t", -1));
  await(tier.sync());
  EXPECT_TRUE(tier.db().Get({}, DiskTier::data_key(key_of(2)), &raw).IsNotFound());
}

TEST(DiskTier, CorruptValueIsAMissDeletedAndCounted) {
  TempDir dir;
  core::ManualClock clock;
  DiskTier tier(options_for(dir), clock);
  // Bytes that are no entry at all, and a real entry with one flipped bit.
  ASSERT_TRUE(tier.db().Put({}, DiskTier::data_key(key_of(1)), "not an entry").ok());
  std::string flipped = encode_entry(*make_entry(clock, "real", 4000));
  flipped[flipped.size() / 2] ^= 0x10;
  ASSERT_TRUE(tier.db().Put({}, DiskTier::data_key(key_of(2)), flipped).ok());
  EXPECT_EQ(await(tier.lookup("default", key_of(1))), nullptr);
  EXPECT_EQ(await(tier.lookup("default", key_of(2))), nullptr);
  await(tier.sync());
  std::string raw;
  EXPECT_TRUE(tier.db().Get({}, DiskTier::data_key(key_of(1)), &raw).IsNotFound());
  EXPECT_TRUE(tier.db().Get({}, DiskTier::data_key(key_of(2)), &raw).IsNotFound());
  EXPECT_EQ(stat(tier, "corrupt"), 2u);
  EXPECT_EQ(stat(tier, "misses"), 2u);
  // A fresh answer under the same key is stored and served as usual.
  tier.store(key_of(2), make_entry(clock, "fresh"));
  await(tier.sync());
  EXPECT_NE(await(tier.lookup("default", key_of(2))), nullptr);
}

TEST(DiskTier, ClearsOneNamespaceOrAll) {
  TempDir dir;
  core::ManualClock clock;
  {
    DiskTier tier(options_for(dir), clock);
    for (int i = 0; i < 300; ++i) tier.store(key_of(i), make_entry(clock, "a", 500, "team-a"));
    for (int i = 300; i < 310; ++i) tier.store(key_of(i), make_entry(clock, "b", 500, "team-b"));
    await(tier.clear("team-a"));  // ordered after the stores above
    for (int i = 0; i < 300; ++i) ASSERT_EQ(await(tier.lookup("default", key_of(i))), nullptr) << i;
    for (int i = 300; i < 310; ++i)
      ASSERT_NE(await(tier.lookup("default", key_of(i))), nullptr) << i;
    await(tier.clear("nobody"));
    EXPECT_NE(await(tier.lookup("default", key_of(300))), nullptr);
  }
  {
    DiskTier tier(options_for(dir), clock);  // the clear was written, not just remembered
    EXPECT_EQ(await(tier.lookup("default", key_of(0))), nullptr);
    EXPECT_NE(await(tier.lookup("default", key_of(305))), nullptr);
    tier.store(key_of(400), make_entry(clock, "c", 500, "team-c"));
    await(tier.clear(""));
    EXPECT_EQ(await(tier.lookup("default", key_of(305))), nullptr);
    EXPECT_EQ(await(tier.lookup("default", key_of(400))), nullptr);
    // Stored after the clear: kept.
    tier.store(key_of(401), make_entry(clock, "d", 500, "team-c"));
    await(tier.sync());
    EXPECT_NE(await(tier.lookup("default", key_of(401))), nullptr);
  }
  DiskTier tier(options_for(dir), clock);
  EXPECT_EQ(await(tier.lookup("default", key_of(305))), nullptr);
  EXPECT_NE(await(tier.lookup("default", key_of(401))), nullptr);
}

TEST(DiskTier, StaysNearItsSizeBound) {
  TempDir dir;
  core::ManualClock clock;
  DiskTier::Options o = options_for(dir);
  o.max_bytes = 1024 * 1024;
  DiskTier tier(o, clock);
  std::mt19937_64 rng(42);
  constexpr int kEntries = 2000;  // 4 KiB each: 8 MiB, eight times the bound
  for (int i = 0; i < kEntries; ++i) {
    tier.store(key_of(i), random_entry(clock, rng, 4096));
    if (i % 200 == 199) await(tier.sync());  // stay within the write queue
  }
  await(tier.sync());
  ASSERT_EQ(stat(tier, "writes"), std::uint64_t{kEntries});
  // FIFO drops the oldest files after each flush, in the background; make it happen now.
  ASSERT_TRUE(tier.db().Flush({}).ok());
  ASSERT_TRUE(tier.db().CompactRange({}, nullptr, nullptr).ok());
  std::uint64_t sst = 0;
  ASSERT_TRUE(tier.db().GetIntProperty("rocksdb.total-sst-files-size", &sst));
  EXPECT_LE(sst, o.max_bytes);
  EXPECT_GT(sst, o.max_bytes / 2);
  EXPECT_LE(stat(tier, "bytes"), o.max_bytes + o.max_bytes / 8);
  // The newest answers are kept, the oldest are gone.
  EXPECT_EQ(await(tier.lookup("default", key_of(0))), nullptr);
  EXPECT_NE(await(tier.lookup("default", key_of(kEntries - 1))), nullptr);
  std::uint64_t entries = stat(tier, "entries");
  EXPECT_GT(entries, 100u);
  EXPECT_LT(entries, 300u);
}

TEST(DiskTier, AFullWriteQueueDropsAndCounts) {
  TempDir dir;
  core::ManualClock clock;
  FaultyEnv faulty;
  DiskTier::Options o = options_for(dir);
  o.env = faulty.env.get();
  o.max_pending_writes = 4;
  DiskTier tier(o, clock);
  faulty.fs->hold();  // the first write waits inside RocksDB, the next three in the queue
  for (int i = 0; i < 10; ++i) tier.store(key_of(i), make_entry(clock, "q"));
  EXPECT_EQ(stat(tier, "dropped_writes"), 6u);
  EXPECT_EQ(stat(tier, "pending_writes"), 4u);
  faulty.fs->release();
  await(tier.sync());
  EXPECT_EQ(stat(tier, "writes"), 4u);
  EXPECT_EQ(stat(tier, "pending_writes"), 0u);
  for (int i = 0; i < 4; ++i) EXPECT_NE(await(tier.lookup("default", key_of(i))), nullptr) << i;
}

TEST(DiskTier, AFullQueueOfBytesDropsToo) {
  TempDir dir;
  core::ManualClock clock;
  FaultyEnv faulty;
  DiskTier::Options o = options_for(dir);
  o.env = faulty.env.get();
  o.max_pending_bytes = 10'000;
  DiskTier tier(o, clock);
  faulty.fs->hold();
  for (int i = 0; i < 5; ++i) tier.store(key_of(i), make_entry(clock, "b", 4000));
  EXPECT_EQ(stat(tier, "pending_writes"), 2u);
  EXPECT_EQ(stat(tier, "dropped_writes"), 3u);
  faulty.fs->release();
  await(tier.sync());
  EXPECT_EQ(stat(tier, "writes"), 2u);
}

using Fault = FaultyFileSystem::Fault;

TEST(DiskTier, AFullDiskStopsWritesUntilThereIsRoomAgain) {
  TempDir dir;
  core::ManualClock clock;
  FaultyEnv faulty;
  DiskTier::Options o = options_for(dir);
  o.env = faulty.env.get();
  o.write_retry_after = 30s;
  DiskTier tier(o, clock);
  tier.store(key_of(0), make_entry(clock, "before"));
  await(tier.sync());

  faulty.fs->set(Fault::kFull);
  tier.store(key_of(1), make_entry(clock, "lost"));
  await(tier.sync());
  EXPECT_EQ(stat(tier, "write_errors"), 1u);
  EXPECT_TRUE(tier.stats().at("writes_disabled").as_bool());
  tier.store(key_of(2), make_entry(clock, "skipped"));  // not even queued
  EXPECT_EQ(stat(tier, "skipped_writes"), 1u);
  // Lookups go on.
  EXPECT_NE(await(tier.lookup("default", key_of(0))), nullptr);
  EXPECT_EQ(await(tier.lookup("default", key_of(1))), nullptr);

  // After the back-off the disk is still full: nothing is tried, and the tier waits again.
  clock.advance(30s);
  tier.store(key_of(3), make_entry(clock, "no room"));
  await(tier.sync());
  EXPECT_EQ(stat(tier, "skipped_writes"), 2u);
  EXPECT_EQ(stat(tier, "write_errors"), 1u);
  EXPECT_NE(await(tier.lookup("default", key_of(0))), nullptr);

  faulty.fs->set(Fault::kNone);  // room again
  clock.advance(29s);
  tier.store(key_of(4), make_entry(clock, "still waiting"));
  EXPECT_EQ(stat(tier, "skipped_writes"), 3u);
  clock.advance(1s);
  tier.store(key_of(5), make_entry(clock, "after"));
  await(tier.sync());
  EXPECT_EQ(stat(tier, "writes"), 2u);
  EXPECT_FALSE(tier.stats().at("writes_disabled").as_bool());
  EXPECT_NE(await(tier.lookup("default", key_of(5))), nullptr);
  EXPECT_NE(await(tier.lookup("default", key_of(0))), nullptr);
}

TEST(DiskTier, ABrokenDiskIsOpenedAgainOnceItWorks) {
  TempDir dir;
  core::ManualClock clock;
  FaultyEnv faulty;
  DiskTier::Options o = options_for(dir);
  o.env = faulty.env.get();
  DiskTier tier(o, clock);
  tier.store(key_of(0), make_entry(clock, "before"));
  await(tier.sync());
  faulty.fs->set(Fault::kBroken);
  tier.store(key_of(1), make_entry(clock, "x"));
  await(tier.sync());
  EXPECT_EQ(stat(tier, "write_errors"), 1u);

  // Tried after the back-off: RocksDB cannot resume and the database cannot be opened again (an
  // error), so this answer is not written (skipped), and lookups miss until it can.
  clock.advance(30s);
  tier.store(key_of(2), make_entry(clock, "y"));
  await(tier.sync());
  EXPECT_EQ(stat(tier, "write_errors"), 2u);
  EXPECT_EQ(stat(tier, "skipped_writes"), 1u);
  EXPECT_TRUE(tier.stats().at("writes_disabled").as_bool());
  EXPECT_EQ(await(tier.lookup("default", key_of(0))), nullptr);
  await(tier.clear("tenant-a"));                  // remembered, since it cannot be written
  tier.store(key_of(3), make_entry(clock, "z"));  // within the new back-off: not tried
  EXPECT_EQ(stat(tier, "write_errors"), 2u);
  EXPECT_EQ(stat(tier, "skipped_writes"), 2u);

  faulty.fs->set(Fault::kNone);
  clock.advance(30s);
  tier.store(key_of(4), make_entry(clock, "w"));
  await(tier.sync());
  EXPECT_FALSE(tier.stats().at("writes_disabled").as_bool());
  EXPECT_NE(await(tier.lookup("default", key_of(4))), nullptr);
  // The answer from before the fault is on disk, but the clear asked for since hides it.
  std::string raw;
  EXPECT_TRUE(tier.db().Get({}, DiskTier::data_key(key_of(0)), &raw).ok());
  EXPECT_EQ(await(tier.lookup("default", key_of(0))), nullptr);
}

TEST(DiskTier, AClearThatCannotBeWrittenStillHidesTheEntries) {
  TempDir dir;
  core::ManualClock clock;
  FaultyEnv faulty;
  DiskTier::Options o = options_for(dir);
  o.env = faulty.env.get();
  DiskTier tier(o, clock);
  tier.store(key_of(1), make_entry(clock, "a", 500, "team-a"));
  tier.store(key_of(2), make_entry(clock, "b", 500, "team-b"));
  await(tier.sync());
  clock.advance(1ms);
  faulty.fs->set(Fault::kFull);
  await(tier.clear("team-a"));
  EXPECT_EQ(await(tier.lookup("default", key_of(1))), nullptr);
  EXPECT_NE(await(tier.lookup("default", key_of(2))), nullptr);
}

TEST(DiskTier, LookupAndClearResumeOnTheCallersExecutor) {
  TempDir dir;
  core::ManualClock clock;
  DiskTier tier(options_for(dir), clock);
  tier.store(key_of(1), make_entry(clock, "x"));
  await(tier.sync());

  asio::io_context worker;
  auto work = asio::make_work_guard(worker);
  std::thread thread([&] { worker.run(); });
  auto body = [&]() -> asio::awaitable<bool> {
    const auto home = std::this_thread::get_id();
    bool ok = true;
    for (int i = 0; i < 20; ++i) {
      EntryPtr e = co_await tier.lookup("default", key_of(i % 2 ? 1 : 2));
      ok = ok && std::this_thread::get_id() == home &&
           worker.get_executor().running_in_this_thread();
    }
    co_await tier.clear("nobody");
    ok = ok && std::this_thread::get_id() == home;
    co_return ok;
  };
  auto done = asio::co_spawn(worker, body(), asio::use_future);
  EXPECT_TRUE(done.get());
  work.reset();
  thread.join();
  EXPECT_EQ(stat(tier, "hits"), 10u);
}

}  // namespace
}  // namespace sluice::cache
