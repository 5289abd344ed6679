// Test support for waiting: a coroutine run to completion on a private loop, a test's own loop
// turned until something has happened, and a condition polled until it holds (what another
// process does a moment after it answers, such as counting a request in its metrics).
//
// Thread safety: await has its own loop; run_until turns the caller's, on the caller's thread;
// eventually polls on the caller's thread.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <thread>

#include "core/asio.h"

namespace sluice::testing {

template <class T>
T await(asio::awaitable<T> a) {
  asio::io_context ioc;
  auto f = asio::co_spawn(ioc, std::move(a), asio::use_future);
  ioc.run();
  return f.get();
}

// Runs `io` a little at a time until `done()`; false when `limit` passed first.
template <class F>
bool run_until(asio::io_context& io, F done, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Calls `done()` every `every` until it returns true; false when `limit` passed first.
template <class F>
bool eventually(F done, std::chrono::milliseconds limit,
                std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
  return true;
}

}  // namespace sluice::testing
