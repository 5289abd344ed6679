// Where the workers find the configuration snapshot to serve: the current Runtime and a version
// that moves each time a reload publishes a new one (DESIGN.md, "Process model"). A worker checks
// the version at the start of every request (one atomic load) and takes the new snapshot only
// when it moved; requests in flight keep the one they started with.
//
// Thread safety: every member may be called from any thread. publish() is serialized by the
// caller (gateway::Reloader); current() takes a short mutex, so it is for the moment a worker
// sees a new version and for scrapes, never for every request.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

namespace sluice::gateway {

class Runtime;

class RuntimeSource {
 public:
  explicit RuntimeSource(std::shared_ptr<const Runtime> initial) : current_(std::move(initial)) {}

  // 1 for the snapshot the process started with, one more for each publish().
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }

  std::shared_ptr<const Runtime> current() const {
    std::lock_guard lock(mutex_);
    return current_;
  }

  void publish(std::shared_ptr<const Runtime> next) {
    {
      std::lock_guard lock(mutex_);
      current_ = std::move(next);
    }
    version_.fetch_add(1, std::memory_order_release);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Runtime> current_;
  std::atomic<std::uint64_t> version_{1};
};

}  // namespace sluice::gateway
