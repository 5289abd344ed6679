#include "route/admission_queue.h"

#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <future>
#include <optional>
#include <thread>
#include <vector>

namespace sluice::route {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Runs every handler that is ready, without waiting for any timer.
void settle(asio::io_context& io) {
  do io.restart();
  while (io.poll() > 0);
}

// A coroutine on `io` that takes a ticket and waits up to `timeout`; `result` is set when the
// wait ends (false at once when the queue refused the ticket). The ticket goes with the
// coroutine, as in the gateway.
void start_waiter(asio::io_context& io, AdmissionQueue& queue, std::optional<bool>& result,
                  Clock::duration timeout = 10s, asio::cancellation_slot slot = {}) {
  asio::co_spawn(
      io,
      [&io, &queue, &result, timeout]() -> asio::awaitable<void> {
        auto ticket = queue.enqueue(io.get_executor());
        if (!ticket) {
          result = false;
          co_return;
        }
        result = co_await ticket.wait(Clock::now() + timeout);
      },
      asio::bind_cancellation_slot(slot, asio::detached));
}

TEST(AdmissionQueue, NotifyWakesAWaiter) {
  asio::io_context io;
  AdmissionQueue queue(10);
  std::optional<bool> woken;
  start_waiter(io, queue, woken);
  settle(io);
  ASSERT_FALSE(woken);
  EXPECT_EQ(queue.waiting(), 1u);
  queue.notify_one();
  settle(io);
  EXPECT_EQ(woken, true);
  EXPECT_EQ(queue.waiting(), 0u);  // the ticket left with its coroutine
}

TEST(AdmissionQueue, WakesWaitersInArrivalOrder) {
  asio::io_context io;
  AdmissionQueue queue(10);
  std::optional<bool> results[4];
  for (auto& r : results) start_waiter(io, queue, r);
  settle(io);
  ASSERT_EQ(queue.waiting(), 4u);
  for (int woken = 1; woken <= 4; ++woken) {
    queue.notify_one();
    settle(io);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(results[i].has_value(), i < woken) << i;
  }
}

TEST(AdmissionQueue, NotifyWithNobodyWaitingIsLost) {
  // A freed slot with no waiter is simply free: the next request finds it when it checks.
  asio::io_context io;
  AdmissionQueue queue(10);
  queue.notify_one();
  std::optional<bool> result;
  start_waiter(io, queue, result, 30ms);
  io.run_for(2s);
  EXPECT_EQ(result, false);
}

TEST(AdmissionQueue, TimesOutWithoutANotify) {
  asio::io_context io;
  AdmissionQueue queue(10);
  std::optional<bool> result;
  const auto start = Clock::now();
  start_waiter(io, queue, result, 30ms);
  io.run_for(2s);  // returns once the coroutine is done
  EXPECT_EQ(result, false);
  EXPECT_GE(Clock::now() - start, 30ms);
  EXPECT_EQ(queue.waiting(), 0u);
}

TEST(AdmissionQueue, AFullQueueRefuses) {
  asio::io_context io;
  AdmissionQueue queue(2);
  auto a = queue.enqueue(io.get_executor());
  auto b = queue.enqueue(io.get_executor());
  auto c = queue.enqueue(io.get_executor());
  EXPECT_TRUE(a);
  EXPECT_TRUE(b);
  EXPECT_FALSE(c);
  EXPECT_EQ(queue.waiting(), 2u);
  a = {};  // leaving makes room
  EXPECT_EQ(queue.waiting(), 1u);
  EXPECT_TRUE(queue.enqueue(io.get_executor()));
}

TEST(AdmissionQueue, MaxSizeZeroRefusesEveryone) {
  asio::io_context io;
  AdmissionQueue queue(0);
  EXPECT_FALSE(queue.enqueue(io.get_executor()));
  EXPECT_EQ(queue.waiting(), 0u);
  std::optional<bool> result;
  start_waiter(io, queue, result);
  settle(io);
  EXPECT_EQ(result, false);
}

TEST(AdmissionQueue, AnEmptyTicketDoesNotWait) {
  asio::io_context io;
  AdmissionQueue::Ticket ticket;
  std::optional<bool> result;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { result = co_await ticket.wait(Clock::now() + 10s); },
      asio::detached);
  settle(io);
  EXPECT_EQ(result, false);
}

TEST(AdmissionQueue, NotifyBeforeWaitReturnsAtOnce) {
  asio::io_context io;
  AdmissionQueue queue(10);
  auto ticket = queue.enqueue(io.get_executor());
  queue.notify_one();  // a slot freed between taking the ticket and waiting
  std::optional<bool> result;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { result = co_await ticket.wait(Clock::now() + 10s); },
      asio::detached);
  settle(io);
  EXPECT_EQ(result, true);
}

TEST(AdmissionQueue, AStaleWakeUpDoesNotEndTheNextWait) {
  // The notify's posted cancel arrives after the first wait already took the wake-up at its
  // start; it must not cut the second wait short.
  asio::io_context io;
  AdmissionQueue queue(10);
  auto ticket = queue.enqueue(io.get_executor());
  queue.notify_one();
  std::optional<bool> first, second;
  auto start = Clock::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        first = co_await ticket.wait(Clock::now() + 10s);
        start = Clock::now();
        second = co_await ticket.wait(Clock::now() + 30ms);
      },
      asio::detached);
  io.run_for(2s);
  EXPECT_EQ(first, true);
  EXPECT_EQ(second, false);
  EXPECT_GE(Clock::now() - start, 30ms);
}

TEST(AdmissionQueue, AWaiterThatFoundNoRoomKeepsItsPlace) {
  asio::io_context io;
  AdmissionQueue queue(10);
  std::optional<bool> first_wake, second_wake, later;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto ticket = queue.enqueue(io.get_executor());
        first_wake = co_await ticket.wait(Clock::now() + 10s);
        // Someone else took the slot: wait again.
        second_wake = co_await ticket.wait(Clock::now() + 10s);
      },
      asio::detached);
  settle(io);
  start_waiter(io, queue, later);  // arrives second
  settle(io);
  queue.notify_one();
  settle(io);
  ASSERT_EQ(first_wake, true);
  ASSERT_FALSE(second_wake);
  EXPECT_EQ(queue.waiting(), 2u);
  queue.notify_one();
  settle(io);
  EXPECT_EQ(second_wake, true);  // ahead of the one that came later
  EXPECT_FALSE(later);
  queue.notify_one();
  settle(io);
  EXPECT_EQ(later, true);
}

TEST(AdmissionQueue, ADestroyedWokenTicketPassesItsWakeUpOn) {
  asio::io_context io;
  AdmissionQueue queue(10);
  auto first = queue.enqueue(io.get_executor());
  std::optional<bool> second, third;
  start_waiter(io, queue, second);
  start_waiter(io, queue, third);
  settle(io);
  queue.notify_one();  // for `first`, which gives up without looking
  first = {};
  settle(io);
  EXPECT_EQ(second, true);
  EXPECT_FALSE(third);  // one freed slot, one wake-up
  queue.notify_one();
  settle(io);
  EXPECT_EQ(third, true);
}

TEST(AdmissionQueue, TerminalCancellationEndsTheWaitAndLeavesTheQueue) {
  asio::io_context io;
  AdmissionQueue queue(10);
  asio::cancellation_signal signal;
  std::optional<bool> cancelled, next;
  start_waiter(io, queue, cancelled, 10s, signal.slot());
  start_waiter(io, queue, next);
  settle(io);
  ASSERT_EQ(queue.waiting(), 2u);
  signal.emit(asio::cancellation_type::terminal);
  settle(io);
  EXPECT_EQ(cancelled, false);
  EXPECT_EQ(queue.waiting(), 1u);
  queue.notify_one();  // goes to the waiter still there
  settle(io);
  EXPECT_EQ(next, true);
}

TEST(AdmissionQueue, CancellationAfterAWakeUpPassesItOn) {
  asio::io_context io;
  AdmissionQueue queue(10);
  asio::cancellation_signal signal;
  std::optional<bool> cancelled, next;
  start_waiter(io, queue, cancelled, 10s, signal.slot());
  start_waiter(io, queue, next);
  settle(io);
  queue.notify_one();  // picks the first, whose cancel is posted but has not run yet
  signal.emit(asio::cancellation_type::terminal);
  settle(io);
  EXPECT_EQ(cancelled, false);
  EXPECT_EQ(next, true);
  EXPECT_EQ(queue.waiting(), 0u);
}

TEST(AdmissionQueue, WakesAWaiterOnAnotherThread) {
  asio::io_context io;
  AdmissionQueue queue(10);
  std::promise<void> enqueued;
  std::optional<bool> result;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto ticket = queue.enqueue(io.get_executor());
        enqueued.set_value();
        result = co_await ticket.wait(Clock::now() + 10s);
      },
      asio::detached);
  const auto start = Clock::now();
  std::thread worker([&] { io.run(); });
  enqueued.get_future().wait();
  queue.notify_one();  // from this thread; the wake-up runs on the worker's
  worker.join();
  EXPECT_EQ(result, true);
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(AdmissionQueue, ManyWaitersOnTwoWorkersAllWakeOnce) {
  constexpr int kPerWorker = 50;
  asio::io_context a, b;
  AdmissionQueue queue(2 * kPerWorker);
  std::atomic<int> enqueued{0}, woken{0}, timed_out{0};
  for (auto* io : {&a, &b}) {
    for (int i = 0; i < kPerWorker; ++i) {
      asio::co_spawn(
          *io,
          [&, io]() -> asio::awaitable<void> {
            auto ticket = queue.enqueue(io->get_executor());
            ++enqueued;
            if (co_await ticket.wait(Clock::now() + 10s)) {
              ++woken;
            } else {
              ++timed_out;
            }
          },
          asio::detached);
    }
  }
  std::thread worker_a([&] { a.run(); });
  std::thread worker_b([&] { b.run(); });
  while (enqueued.load() < 2 * kPerWorker) std::this_thread::yield();
  // Two threads freeing slots at once, as two workers finishing requests would.
  std::thread other([&] {
    for (int i = 0; i < kPerWorker; ++i) queue.notify_one();
  });
  for (int i = 0; i < kPerWorker; ++i) queue.notify_one();
  other.join();
  worker_a.join();
  worker_b.join();
  EXPECT_EQ(woken.load(), 2 * kPerWorker);
  EXPECT_EQ(timed_out.load(), 0);
  EXPECT_EQ(queue.waiting(), 0u);
}

}  // namespace
}  // namespace sluice::route
