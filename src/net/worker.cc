#include "net/worker.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <string>

namespace sluice::net {

Worker::Worker(int index) : index_(index), deadlines_(io_.get_executor()) {}

Worker::~Worker() {
  stop();
  join();
}

void Worker::start() {
  guard_.emplace(io_.get_executor());
  thread_ = std::thread([this] {
    std::string name = "sluice-w" + std::to_string(index_);
    pthread_setname_np(pthread_self(), name.c_str());
    for (;;) {
      try {
        io_.run();
        break;
      } catch (const std::exception& e) {
        // A handler threw: a bug, but one connection's bug must not take the worker down.
        spdlog::error("worker {}: unhandled exception: {}", index_, e.what());
      }
    }
  });
}

void Worker::release() { guard_.reset(); }

void Worker::stop() {
  guard_.reset();
  io_.stop();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

}  // namespace sluice::net
