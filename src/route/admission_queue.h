// The bounded wait of a model's requests when every deployment is at its concurrency limit
// (docs/routing.md, "Queueing"). Workers share it: a slot freed on one worker wakes the oldest
// waiter, on the waiter's own worker.
//
// Use: when no deployment has room, take a Ticket (refused when the queue is full), check for
// room once more (a slot may have freed in between), then co_await ticket.wait(deadline). A
// slot freed anywhere calls notify_one(). The Ticket leaves the queue when destroyed; a ticket
// that was woken but not used passes its wake-up on, so no freed slot is lost.
//
// A woken ticket stays in the queue (at its place) until destroyed, so drop it as soon as the
// slot is taken; while it is held it still counts in waiting() and may absorb a wake-up.
//
// Thread safety: safe from any worker. A Ticket belongs to the coroutine that took it, and that
// coroutine runs on the executor given to enqueue(), which must not run handlers concurrently
// (a worker's single-threaded io_context, or a strand): the wake-up is a timer cancel posted
// there.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

#include "core/asio.h"

namespace sluice::route {

class AdmissionQueue {
  struct Waiter;

 public:
  explicit AdmissionQueue(std::size_t max_size);

  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&&) noexcept;
    Ticket& operator=(Ticket&&) noexcept;
    ~Ticket();
    explicit operator bool() const { return waiter_ != nullptr; }
    // Waits until woken or `deadline` passes: true when woken. A terminal cancellation of the
    // awaiting coroutine ends the wait (false). Callable again after a wake-up that found no
    // room; the ticket keeps its place at the front then.
    asio::awaitable<bool> wait(std::chrono::steady_clock::time_point deadline);

   private:
    friend class AdmissionQueue;
    Ticket(AdmissionQueue* queue, std::shared_ptr<Waiter> waiter)
        : queue_(queue), waiter_(std::move(waiter)) {}
    AdmissionQueue* queue_ = nullptr;
    std::shared_ptr<Waiter> waiter_;
  };

  // A place in the queue for a coroutine running on `executor`; empty when the queue is full.
  Ticket enqueue(const asio::any_io_executor& executor);
  // Wakes the oldest waiter, if any.
  void notify_one();
  std::size_t waiting() const;

 private:
  std::size_t max_size_;
  mutable std::mutex mutex_;
  std::deque<std::shared_ptr<Waiter>> waiters_;
};

}  // namespace sluice::route
