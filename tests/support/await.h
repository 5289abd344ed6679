// Test support: runs a coroutine to completion on a private event loop, for unit tests of code
// that returns asio::awaitable.
//
// Thread safety: each call has its own loop.
#pragma once

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "core/asio.h"

namespace sluice::testing {

template <class T>
T await(asio::awaitable<T> a) {
  asio::io_context ioc;
  auto f = asio::co_spawn(ioc, std::move(a), asio::use_future);
  ioc.run();
  return f.get();
}

}  // namespace sluice::testing
