#include "limit/shared_limits.h"

#include <spdlog/spdlog.h>

#include <limits>
#include <string>

namespace sluice::limit {

namespace {

// Long enough before any clock reading that the first of everything is due.
constexpr std::int64_t kLongAgo = std::numeric_limits<std::int64_t>::min() / 2;

std::int64_t ns_of(core::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

SharedLimits::SharedLimits(const core::Clock& clock)
    : clock_(clock),
      last_fallback_log_(kLongAgo),
      last_back_log_(kLongAgo),
      // The first sweep is one interval after start: nothing is idle before then.
      last_sweep_(ns_of(clock.now())) {}

bool SharedLimits::due(std::atomic<std::int64_t>& last, std::chrono::nanoseconds every) {
  const std::int64_t now = ns_of(clock_.now());
  std::int64_t seen = last.load(std::memory_order_relaxed);
  if (now - seen < every.count()) return false;
  return last.compare_exchange_strong(seen, now, std::memory_order_relaxed);
}

std::size_t SharedLimits::maybe_sweep() {
  if (!due(last_sweep_, kSweepEvery)) return 0;
  return local_.sweep(clock_.now());
}

void SharedLimits::on_redis_failure(bool fail_open, std::string_view why) {
  const std::uint64_t n = failures_.fetch_add(1, std::memory_order_relaxed) + 1;
  if (fail_open) fallbacks_.fetch_add(1, std::memory_order_relaxed);
  if (!degraded_.load(std::memory_order_relaxed)) degraded_.store(true, std::memory_order_relaxed);
  if (!due(last_fallback_log_, kLogEvery)) return;
  spdlog::warn("rate limits: Redis did not answer ({}); {} ({} decision{} without Redis so far)",
               why,
               fail_open ? "deciding with this instance's local limits"
                         : "refusing with 503 (failure_mode: closed)",
               n, n == 1 ? "" : "s");
}

void SharedLimits::on_redis_back() {
  if (!degraded_.exchange(false, std::memory_order_relaxed)) return;
  if (!due(last_back_log_, kLogEvery)) return;
  spdlog::info("rate limits: Redis answers again; limits are shared across instances again");
}

std::shared_ptr<net::RedisHealth> SharedLimits::redis_health(const net::RedisEndpoint& endpoint,
                                                             bool fail_open) {
  std::lock_guard lock(health_mutex_);
  if (!health_) {
    health_ = std::make_shared<net::RedisHealth>(
        "redis rate limits", endpoint.describe(),
        fail_open ? "decisions use this instance's local limits until it is back"
                  : "requests are refused with 503 until it is back");
  }
  return health_;
}

}  // namespace sluice::limit
