#include "store/control_plane.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "store/schema.h"
#include "store/testing.h"

namespace sluice::store {
namespace {

using namespace std::chrono_literals;
using testing::await;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kNow = 1767225600000;

// What on_keys was given, for a test thread to wait on.
class KeysSeen {
 public:
  ControlPlane::KeysListener listener() {
    return [this](std::vector<KeyRecord> keys) {
      std::lock_guard lock(mu_);
      last_ = std::move(keys);
      ++calls_;
      cv_.notify_all();
    };
  }
  int calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<KeyRecord> last() {
    std::lock_guard lock(mu_);
    return last_;
  }
  // Waits until a call after the `after`th satisfies `pred`.
  bool wait_for(int after, const std::function<bool(const std::vector<KeyRecord>&)>& pred,
                std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return calls_ > after && pred(last_); });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
  std::vector<KeyRecord> last_;
};

UsageRow usage_row(int i) {
  UsageRow r;
  r.at_ms = kNow + i;
  r.request_id = "req_" + std::to_string(i);
  r.key_id = "key_x";
  r.model = "m";
  r.status = 200;
  r.cost_usd = 0.001;
  return r;
}

std::int64_t count_rows(const std::string& path) {
  auto db = Database::open(path);
  EXPECT_TRUE(db);
  auto stmt = (*db)->prepare("SELECT COUNT(*) FROM usage");
  EXPECT_TRUE(stmt && stmt->step());
  return stmt->column_int(0);
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

ControlPlane::Options options(const TempDir& dir) {
  ControlPlane::Options o;
  o.path = testing::db_path(dir);
  o.poll_interval = 50ms;
  o.flush_interval = 50ms;
  return o;
}

TEST(ControlPlaneTest, OpenHandsOverTheActiveKeysBeforeReturning) {
  TempDir dir;
  {
    auto db = Database::open(testing::db_path(dir));
    ASSERT_TRUE(db);
    KeyStore keys(**db);
    KeySpec a, b;
    a.name = "a";
    b.name = "b";
    ASSERT_TRUE(keys.create(a, kNow));
    auto kb = keys.create(b, kNow);
    ASSERT_TRUE(kb);
    ASSERT_TRUE(keys.revoke(kb->key.id, kNow));
  }
  KeysSeen seen;
  auto cp = ControlPlane::open(options(dir), seen.listener());
  ASSERT_TRUE(cp) << cp.error().message;
  EXPECT_EQ(seen.calls(), 1);
  ASSERT_EQ(seen.last().size(), 1u);
  EXPECT_EQ(seen.last()[0].name, "a");
  // Nothing changes, so nothing more is handed over.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(seen.calls(), 1);
}

TEST(ControlPlaneTest, OpenFailsWithTheDatabasesReason) {
  TempDir dir;
  {
    auto db = Database::open(testing::db_path(dir));
    ASSERT_TRUE(db);
    std::string sql = "PRAGMA user_version = " + std::to_string(latest_schema_version() + 1);
    ASSERT_TRUE((*db)->exec(sql.c_str()));
  }
  KeysSeen seen;
  auto cp = ControlPlane::open(options(dir), seen.listener());
  ASSERT_FALSE(cp);
  EXPECT_NE(cp.error().message.find("newer"), std::string::npos) << cp.error().message;
  EXPECT_EQ(seen.calls(), 0);
}

TEST(ControlPlaneTest, ARevocationByAnotherConnectionIsSeenWithinThePollInterval) {
  TempDir dir;
  auto cli = Database::open(testing::db_path(dir));  // as `sluice keys revoke` in another process
  ASSERT_TRUE(cli);
  KeyStore keys(**cli);
  KeySpec spec;
  spec.name = "doomed";
  auto k = keys.create(spec, kNow);
  ASSERT_TRUE(k);

  KeysSeen seen;
  auto opts = options(dir);
  opts.poll_interval = 100ms;
  auto cp = ControlPlane::open(opts, seen.listener());
  ASSERT_TRUE(cp) << cp.error().message;
  ASSERT_EQ(seen.last().size(), 1u);

  auto began = Clock::now();
  ASSERT_TRUE(keys.revoke(k->key.id, kNow));
  ASSERT_TRUE(seen.wait_for(
      1, [](const auto& ks) { return ks.empty(); }, 2s));
  // Within one poll interval and the time the read takes; a generous bound for a loaded machine.
  EXPECT_LT(Clock::now() - began, 1s);
}

TEST(ControlPlaneTest, RunReturnsTheResultAndItsKeyWritesAreSeenBeforeItResumes) {
  TempDir dir;
  KeysSeen seen;
  auto opts = options(dir);
  opts.poll_interval = 1h;  // only run() itself can notice the new key
  auto cp = ControlPlane::open(opts, seen.listener());
  ASSERT_TRUE(cp) << cp.error().message;
  EXPECT_TRUE(seen.last().empty());

  auto create = [](Database& db) {
    KeySpec spec;
    spec.name = "fresh";
    return KeyStore(db).create(spec, kNow);
  };
  auto created = await((*cp)->run<core::Result<KeyStore::Created>>(std::move(create)));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(seen.calls(), 2);
  ASSERT_EQ(seen.last().size(), 1u);
  EXPECT_EQ(seen.last()[0].id, created->key.id);

  auto thread_id =
      await((*cp)->run<std::thread::id>([](Database&) { return std::this_thread::get_id(); }));
  EXPECT_NE(thread_id, std::this_thread::get_id());
  EXPECT_EQ(seen.calls(), 2);  // a run() that changed nothing hands nothing over
}

TEST(ControlPlaneTest, RecordPastTheBoundDropsAndCounts) {
  TempDir dir;
  KeysSeen seen;
  auto opts = options(dir);
  opts.max_queued_rows = 10;
  opts.flush_interval = 1h;
  auto cp = ControlPlane::open(opts, seen.listener());
  ASSERT_TRUE(cp) << cp.error().message;
  int accepted = 0;
  for (int i = 0; i < 15; ++i) accepted += (*cp)->record(usage_row(i)) ? 1 : 0;
  EXPECT_EQ(accepted, 10);
  EXPECT_EQ((*cp)->rows_dropped(), 5u);
  EXPECT_EQ((*cp)->rows_queued(), 10u);
  EXPECT_EQ((*cp)->rows_written(), 0u);

  await((*cp)->flush());
  EXPECT_EQ((*cp)->rows_written(), 10u);
  EXPECT_EQ((*cp)->rows_queued(), 0u);
  EXPECT_EQ(count_rows(testing::db_path(dir)), 10);
  // There is room again.
  EXPECT_TRUE((*cp)->record(usage_row(99)));
}

TEST(ControlPlaneTest, BatchesAreWrittenOnTheIntervalWithoutAFlush) {
  TempDir dir;
  KeysSeen seen;
  auto cp = ControlPlane::open(options(dir), seen.listener());
  ASSERT_TRUE(cp) << cp.error().message;
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*cp)->record(usage_row(i)));
  ASSERT_TRUE(eventually([&] { return (*cp)->rows_written() == 20; }, 5s));
  EXPECT_EQ(count_rows(testing::db_path(dir)), 20);
}

TEST(ControlPlaneTest, ManyWaitingRowsAreWrittenBeforeTheInterval) {
  TempDir dir;
  KeysSeen seen;
  auto opts = options(dir);
  opts.flush_interval = 1h;
  auto cp = ControlPlane::open(opts, seen.listener());
  ASSERT_TRUE(cp) << cp.error().message;
  for (std::size_t i = 0; i < ControlPlane::kEagerRows; ++i) {
    ASSERT_TRUE((*cp)->record(usage_row(static_cast<int>(i))));
  }
  ASSERT_TRUE(eventually([&] { return (*cp)->rows_written() == ControlPlane::kEagerRows; }, 5s));
}

TEST(ControlPlaneTest, ALockedDatabaseNeverBlocksRecordAndRowsWaitForTheLock) {
  TempDir dir;
  KeysSeen seen;
  auto cp = ControlPlane::open(options(dir), seen.listener());
  ASSERT_TRUE(cp) << cp.error().message;
  auto other = Database::open(testing::db_path(dir));
  ASSERT_TRUE(other);
  ASSERT_TRUE((*other)->exec("BEGIN EXCLUSIVE"));

  auto began = Clock::now();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE((*cp)->record(usage_row(i)));
  // A hundred appends to a vector; a write that waited for the lock would take 100 ms each.
  EXPECT_LT(Clock::now() - began, 50ms);

  await((*cp)->flush());  // the attempt fails after the busy timeout
  EXPECT_GE((*cp)->write_failures(), 1u);
  EXPECT_EQ((*cp)->rows_written(), 0u);
  EXPECT_EQ((*cp)->rows_queued(), 100u);
  // Still never blocks while writes keep failing.
  began = Clock::now();
  ASSERT_TRUE((*cp)->record(usage_row(100)));
  EXPECT_LT(Clock::now() - began, 20ms);

  ASSERT_TRUE((*other)->exec("COMMIT"));
  ASSERT_TRUE(eventually([&] { return (*cp)->rows_written() == 101; }, 5s));
  EXPECT_EQ((*cp)->rows_queued(), 0u);
  EXPECT_EQ((*cp)->rows_dropped(), 0u);
  EXPECT_EQ(count_rows(testing::db_path(dir)), 101);
}

TEST(ControlPlaneTest, ALockedDatabaseStillLetsKeyChangesThrough) {
  TempDir dir;
  KeysSeen seen;
  auto cp = ControlPlane::open(options(dir), seen.listener());
  ASSERT_TRUE(cp) << cp.error().message;
  auto cli = Database::open(testing::db_path(dir));
  ASSERT_TRUE(cli);
  KeySpec spec;
  spec.name = "new";
  ASSERT_TRUE(KeyStore(**cli).create(spec, kNow));
  // The writer's lock does not stop the gateway's reads (WAL).
  auto locker = Database::open(testing::db_path(dir));
  ASSERT_TRUE(locker);
  ASSERT_TRUE((*locker)->exec("BEGIN EXCLUSIVE"));
  EXPECT_TRUE(seen.wait_for(
      1, [](const auto& ks) { return ks.size() == 1; }, 2s));
  ASSERT_TRUE((*locker)->exec("COMMIT"));
}

TEST(ControlPlaneTest, DestroyingItWritesWhatIsQueued) {
  TempDir dir;
  {
    KeysSeen seen;
    auto opts = options(dir);
    opts.flush_interval = 1h;
    auto cp = ControlPlane::open(opts, seen.listener());
    ASSERT_TRUE(cp) << cp.error().message;
    for (int i = 0; i < 7; ++i) ASSERT_TRUE((*cp)->record(usage_row(i)));
  }
  EXPECT_EQ(count_rows(testing::db_path(dir)), 7);
}

TEST(ControlPlaneTest, RecordFromManyThreadsLosesNothing) {
  TempDir dir;
  KeysSeen seen;
  auto cp = ControlPlane::open(options(dir), seen.listener());
  ASSERT_TRUE(cp) << cp.error().message;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) (*cp)->record(usage_row(t * 10000 + i));
    });
  }
  for (auto& t : threads) t.join();
  await((*cp)->flush());
  EXPECT_EQ((*cp)->rows_written(), 8000u);
  EXPECT_EQ(count_rows(testing::db_path(dir)), 8000);
}

}  // namespace
}  // namespace sluice::store
