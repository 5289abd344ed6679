// run_on(executor, work): runs blocking work on another executor (a thread pool, a strand of
// one) and resumes the awaiting coroutine on its own executor with the result, so a worker
// thread never runs RocksDB or SQLite code and never blocks on it.
//
// Thread safety: `work` runs on `executor`'s thread; it must not throw and must not touch state
// owned by the awaiting worker.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

#include "core/asio.h"

namespace sluice::core {

namespace detail {

template <class Result>
struct CompletionOf {
  using type = void(Result);
};
template <>
struct CompletionOf<void> {
  using type = void();
};

}  // namespace detail

// Runs `work` (which must not throw) on `executor` and completes with its result on the awaiting
// coroutine's own executor, so the worker that asked never runs RocksDB code and resumes on its
// own thread. Callers return this awaitable rather than co_await it in a coroutine of their own:
// GCC 12 mishandles a lambda temporary in a co_await operand, and a std::string it captured is
// freed at the wrong address (reproduced with a ten-line program under ASan).

template <class Result, class Executor, class Work>
asio::awaitable<Result> run_on(Executor executor, Work work) {
  using Signature = typename detail::CompletionOf<Result>::type;
  return asio::async_initiate<const asio::use_awaitable_t<>, Signature>(
      [executor](auto handler, Work work) {
        auto home = asio::make_work_guard(asio::get_associated_executor(handler));
        asio::post(executor, [handler = std::move(handler), work = std::move(work),
                              home = std::move(home)]() mutable {
          auto to = home.get_executor();
          if constexpr (std::is_void_v<Result>) {
            work();
            asio::post(to, std::move(handler));
          } else {
            asio::post(to, [handler = std::move(handler), result = work()]() mutable {
              std::move(handler)(std::move(result));
            });
          }
        });
      },
      asio::use_awaitable, std::move(work));
}

}  // namespace sluice::core
