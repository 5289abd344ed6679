#include "admin/stats_sampler.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <exception>

namespace sluice::admin {

StatsSampler::StatsSampler(StatsHistory& history, std::chrono::milliseconds interval)
    : history_(history), interval_(interval) {}

StatsSampler::~StatsSampler() { stop(); }

void StatsSampler::start() {
  next_ = std::chrono::steady_clock::now();
  arm();
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      spdlog::error("stats sampler stopped: {}", e.what());
    }
  });
}

void StatsSampler::stop() {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    stopping_ = true;
    timer_.cancel();
    for (auto& fn : on_stop_) fn();
  });
  thread_.join();
}

void StatsSampler::arm() {
  // From the previous deadline, not from now, so the ticks do not drift; after a stall (a
  // suspended process) the next tick is simply the next interval from now.
  next_ += interval_;
  const auto now = std::chrono::steady_clock::now();
  if (next_ < now) next_ = now + interval_;
  timer_.expires_at(next_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopping_) return;
    history_.tick();
    for (auto& fn : after_tick_) fn();
    arm();
  });
}

}  // namespace sluice::admin
