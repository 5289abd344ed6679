#include "store/control_plane.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <future>
#include <iterator>
#include <span>
#include <thread>

namespace sluice::store {

namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr std::chrono::seconds kLogEvery{10};

// Each thread keeps to one shard, so two workers contend only when they share one.
std::size_t thread_slot() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t slot = next.fetch_add(1, std::memory_order_relaxed);
  return slot;
}

// True at most once per kLogEvery for `last`.
bool due(SteadyClock::time_point& last) {
  auto now = SteadyClock::now();
  if (last != SteadyClock::time_point{} && now - last < kLogEvery) return false;
  last = now;
  return true;
}

}  // namespace

ControlPlane::ControlPlane(Options options, KeysListener on_keys)
    : options_(std::move(options)), on_keys_(std::move(on_keys)) {}

core::Result<std::unique_ptr<ControlPlane>> ControlPlane::open(Options options,
                                                               KeysListener on_keys) {
  std::unique_ptr<ControlPlane> cp(new ControlPlane(std::move(options), std::move(on_keys)));
  std::promise<core::Result<void>> started;
  auto result = started.get_future();
  ControlPlane* self = cp.get();
  asio::post(cp->pool_, [self, &started] { started.set_value(self->start()); });
  auto r = result.get();
  if (!r) return r.error();  // the destructor stops the thread; nothing was armed
  return cp;
}

ControlPlane::~ControlPlane() {
  stopping_.store(true);
  asio::post(pool_, [this] { shut_down(); });
  pool_.join();
}

core::Result<void> ControlPlane::start() {
  auto db = Database::open(options_.path);
  if (!db) return db.error();
  db_ = std::move(*db);
  usage_.emplace(*db_);
  auto snapshot = KeyStore(*db_).snapshot();
  if (!snapshot) return snapshot.error();
  keys_version_ = snapshot->version;
  publish(std::move(snapshot->keys));
  arm_poll();
  arm_flush();
  return core::ok();
}

void ControlPlane::check_keys() {
  if (!db_) return;
  KeyStore keys(*db_);
  auto version = keys.try_version();
  if (version && *version == keys_version_) return;
  // Read again in one transaction: the list and the version it belongs to.
  auto snapshot = version ? keys.snapshot() : core::Result<KeyStore::Snapshot>(version.error());
  if (!snapshot) {
    // The keys in use stay as they were; the next poll tries again.
    if (due(last_poll_log_)) {
      spdlog::warn("control plane: cannot read the keys: {}", snapshot.error().message);
    }
    return;
  }
  keys_version_ = snapshot->version;
  publish(std::move(snapshot->keys));
}

void ControlPlane::publish(std::vector<KeyRecord> keys) {
  try {
    on_keys_(std::move(keys));
  } catch (const std::exception& e) {
    spdlog::error("control plane: the keys listener failed: {}", e.what());
  }
}

bool ControlPlane::record(UsageRow row) {
  // After shutdown began nothing would write the row.
  if (stopping_.load(std::memory_order_relaxed)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (queued_.fetch_add(1, std::memory_order_relaxed) >= options_.max_queued_rows) {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  Shard& shard = shards_[thread_slot() % kShards];
  {
    std::lock_guard lock(shard.mu);
    shard.rows.push_back(std::move(row));
  }
  std::size_t waiting = recorded_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (waiting >= kEagerRows && !eager_posted_.load(std::memory_order_relaxed) &&
      !eager_posted_.exchange(true)) {
    asio::post(pool_, [this] { on_eager(); });
  }
  return true;
}

asio::awaitable<void> ControlPlane::flush() {
  return core::run_on<void>(pool_.get_executor(), [this] {
    take_recorded();
    write_pending();
  });
}

void ControlPlane::take_recorded() {
  if (pending_done_ > 0) {
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(pending_done_));
    pending_done_ = 0;
  }
  std::size_t taken = 0;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mu);
    taken += shard.rows.size();
    std::move(shard.rows.begin(), shard.rows.end(), std::back_inserter(pending_));
    shard.rows.clear();  // keeps its capacity for the next batch
  }
  recorded_.fetch_sub(taken, std::memory_order_relaxed);
}

bool ControlPlane::write_pending() {
  if (!db_) return false;
  while (pending_done_ < pending_.size()) {
    std::size_t n = std::min(kMaxBatchRows, pending_.size() - pending_done_);
    auto r = usage_->insert(std::span<const UsageRow>(pending_.data() + pending_done_, n));
    if (!r) {
      write_failures_.fetch_add(1, std::memory_order_relaxed);
      failing_ = true;
      warn_failure(r.error());
      return false;
    }
    pending_done_ += n;
    written_.fetch_add(n, std::memory_order_relaxed);
    queued_.fetch_sub(n, std::memory_order_relaxed);
  }
  pending_.clear();
  pending_done_ = 0;
  if (failing_) {
    failing_ = false;
    spdlog::info("control plane: usage rows are written again ({} failed attempts before)",
                 failures_since_log_);
    failures_since_log_ = 0;
  }
  return true;
}

void ControlPlane::warn_failure(const core::Error& e) {
  ++failures_since_log_;
  if (!due(last_failure_log_)) return;
  spdlog::warn(
      "control plane: cannot write {} usage rows: {}; they stay queued and are retried ({} "
      "queued, {} dropped so far, {} failed attempts)",
      pending_.size() - pending_done_, e.message, rows_queued(), rows_dropped(),
      failures_since_log_);
}

void ControlPlane::warn_drops() {
  std::uint64_t dropped = rows_dropped();
  if (dropped == drops_logged_ || !due(last_drop_log_)) return;
  spdlog::warn("control plane: {} usage rows dropped: {} rows were already waiting to be written",
               dropped - drops_logged_, options_.max_queued_rows);
  drops_logged_ = dropped;
}

void ControlPlane::on_eager() {
  eager_posted_.store(false);
  if (stopping_.load()) return;
  // Taken even while writes fail, so the count that triggers this stays below kEagerRows and
  // workers do not post again for every row; the rows wait in pending_ for the timer's retry.
  take_recorded();
  if (!failing_) write_pending();
}

void ControlPlane::on_flush_timer() {
  take_recorded();
  write_pending();
  warn_drops();
}

void ControlPlane::arm_poll() {
  poll_timer_.expires_after(options_.poll_interval);
  poll_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_.load()) return;
    check_keys();
    arm_poll();
  });
}

void ControlPlane::arm_flush() {
  flush_timer_.expires_after(options_.flush_interval);
  flush_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_.load()) return;
    on_flush_timer();
    arm_flush();
  });
}

void ControlPlane::shut_down() {
  poll_timer_.cancel();
  flush_timer_.cancel();
  if (!db_) return;
  auto deadline = SteadyClock::now() + kShutdownWriteBudget;
  for (;;) {
    take_recorded();
    if (write_pending() || SteadyClock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (std::size_t left = pending_.size() - pending_done_; left > 0) {
    spdlog::warn("control plane: {} usage rows could not be written before shutdown and are lost",
                 left);
  }
  usage_.reset();
  db_.reset();
}

}  // namespace sluice::store
