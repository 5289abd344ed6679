// The performance API's clock: one thread of its own, with its own event loop, that ticks the
// StatsHistory once a second and then runs what else must follow each reading (the alerts'
// evaluation, admin/alerts.h), whose webhook deliveries run on the same event loop.
//
// Why its own thread rather than a timer on a worker: a tick reads every worker's slots and,
// once a minute, copies the per-model and per-key totals, which grows with the keys; on a worker
// that time would be taken from its requests, and the tick would be late whenever the worker is
// busy. On its own thread it costs the request path nothing: workers only record metrics, as
// they already do, and the history's mutex is held only to copy a few readings. A webhook
// receiver that is slow or dead delays no worker and no tick: deliveries are awaited on this
// loop, never blocking it.
//
// Thread safety: start() and stop() from the thread that owns the sampler; the callbacks run on
// the sampler's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "admin/stats_history.h"
#include "core/asio.h"

namespace sluice::admin {

class StatsSampler {
 public:
  explicit StatsSampler(StatsHistory& history,
                        std::chrono::milliseconds interval = std::chrono::seconds(1));
  ~StatsSampler();
  StatsSampler(const StatsSampler&) = delete;
  StatsSampler& operator=(const StatsSampler&) = delete;

  // The loop the sampler's thread runs, for work that belongs there (webhook deliveries).
  asio::io_context& context() { return io_; }
  // Runs after every tick, on the sampler's thread. Added before start().
  void after_tick(std::function<void()> fn) { after_tick_.push_back(std::move(fn)); }
  // Runs on the sampler's thread when it stops: what must end its work there so the loop can
  // finish (a webhook's delivery). Added before start().
  void on_stop(std::function<void()> fn) { on_stop_.push_back(std::move(fn)); }

  void start();
  // Stops the timer, runs the on_stop functions, lets the loop run out of work, and joins the
  // thread.
  void stop();

 private:
  void arm();

  StatsHistory& history_;
  const std::chrono::milliseconds interval_;
  asio::io_context io_{1};
  asio::steady_timer timer_{io_};
  std::chrono::steady_clock::time_point next_{};
  std::vector<std::function<void()>> after_tick_, on_stop_;
  bool stopping_ = false;  // on the sampler's thread
  std::thread thread_;
};

}  // namespace sluice::admin
