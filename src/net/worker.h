// A worker: one thread running its own io_context, and the per-worker services every connection
// on it shares (the deadline sweeper). Connections never leave the worker that accepted them, so
// per-connection state needs no locks (DESIGN.md, "Process model").
//
// Thread safety: construct and start() from the main thread; everything else that touches the
// worker's objects runs on its thread (use post() to get there).
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <optional>
#include <thread>

#include "net/deadline.h"

namespace sluice::net {

class Worker {
 public:
  explicit Worker(int index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  int index() const { return index_; }
  boost::asio::io_context& io() { return io_; }
  boost::asio::any_io_executor executor() { return io_.get_executor(); }
  DeadlineSweeper& deadlines() { return deadlines_; }

  // Starts the thread; it runs the io_context until release() and all work is done, or stop().
  void start();
  // Lets run() return once no work is left (graceful end).
  void release();
  // Makes run() return as soon as possible, abandoning pending handlers.
  void stop();
  void join();

 private:
  int index_;
  boost::asio::io_context io_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard_;
  DeadlineSweeper deadlines_;
  std::thread thread_;
};

}  // namespace sluice::net
