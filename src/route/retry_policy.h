// What may be retried and when (docs/routing.md, "Retries"): the statuses worth another
// attempt, backoff with full jitter, Retry-After, and the retry budget that keeps retries from
// amplifying an outage.
//
// Thread safety: the free functions are pure (the Rng is the caller's). RetryBudget is shared
// by every worker and lock-free.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "config/config.h"
#include "route/rng.h"

namespace sluice::route {

using Duration = std::chrono::milliseconds;

// 429, 500, 502, 503 and 504: the answers another attempt may change.
bool retryable_status(int status);

// The sleep before retry number `retry` (1 for the first retry): uniform in
// [0, min(backoff_max, backoff_base x 2^(retry-1))] ("full jitter").
Duration backoff_delay(const config::Retries& config, int retry, Rng& rng);

// A Retry-After value: delta-seconds ("2") or an HTTP-date, relative to `unix_ms_now`, capped
// at `cap`. nullopt when absent or unparseable; a date in the past is zero.
std::optional<Duration> parse_retry_after(std::string_view value, std::int64_t unix_ms_now,
                                          Duration cap);

// Envoy's retry budget: retries in progress (in backoff or in their attempt) may be at most
// `budget` x the requests in progress upstream (as Envoy counts a cluster's active requests),
// but `min_concurrency` retries are always allowed. The caller passes the requests in progress:
// the model's deployments already count their in-flight attempts, so a request that is never
// retried costs the budget nothing.
class RetryBudget {
 public:
  RetryBudget(double budget, int min_concurrency);

  // Before a retry: true when the budget allows it (it is then counted until end_retry()).
  bool try_begin_retry(std::int64_t requests_in_flight);
  void end_retry();

  std::int64_t retries() const;

 private:
  double budget_;
  std::int64_t min_concurrency_;
  std::atomic<std::int64_t> retries_{0};
};

}  // namespace sluice::route
