#include "route/admission_queue.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <utility>

namespace sluice::route {

// One place in the queue. The timer and the executor belong to the waiting coroutine's worker;
// other threads only post to that executor. `woken` is guarded by the queue's mutex.
//
// A waiter stays in the deque, woken or not, until its Ticket is destroyed: a wake-up that
// found no room then leaves it where it was, ahead of everyone who came later, and a slot freed
// between that wake-up and the next wait() still finds it (nobody is out of the queue in
// between, so no wake-up falls on an empty queue).
struct AdmissionQueue::Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : executor(ex), timer(ex) {}

  const asio::any_io_executor executor;
  asio::steady_timer timer;
  bool woken = false;  // picked by notify_one(), not yet returned by wait()
};

AdmissionQueue::AdmissionQueue(std::size_t max_size) : max_size_(max_size) {}

AdmissionQueue::Ticket AdmissionQueue::enqueue(const asio::any_io_executor& executor) {
  auto waiter = std::make_shared<Waiter>(executor);
  std::lock_guard lock(mutex_);
  if (waiters_.size() >= max_size_) return {};
  waiters_.push_back(waiter);
  return Ticket(this, std::move(waiter));
}

void AdmissionQueue::notify_one() {
  std::shared_ptr<Waiter> picked;
  {
    std::lock_guard lock(mutex_);
    // Woken waiters that have not yet looked for room sit at the front; the oldest waiter not
    // yet woken is next.
    const auto it =
        std::find_if(waiters_.begin(), waiters_.end(), [](const auto& w) { return !w->woken; });
    if (it == waiters_.end()) return;
    picked = *it;
    picked->woken = true;
  }
  // The timer is touched only on its own worker. If no wait is pending there the cancel does
  // nothing, and wait() sees `woken` when it starts.
  asio::post(picked->executor, [picked] { picked->timer.cancel(); });
}

std::size_t AdmissionQueue::waiting() const {
  std::lock_guard lock(mutex_);
  return waiters_.size();
}

AdmissionQueue::Ticket::Ticket(Ticket&& other) noexcept
    : queue_(std::exchange(other.queue_, nullptr)), waiter_(std::move(other.waiter_)) {}

AdmissionQueue::Ticket& AdmissionQueue::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    Ticket gone(std::move(*this));  // leaves the queue as it goes out of scope
    queue_ = std::exchange(other.queue_, nullptr);
    waiter_ = std::move(other.waiter_);
  }
  return *this;
}

AdmissionQueue::Ticket::~Ticket() {
  if (!waiter_) return;
  bool unused_wake_up = false;
  {
    std::lock_guard lock(queue_->mutex_);
    auto& waiters = queue_->waiters_;
    // A linear search, but the queue is short (max_size, 100 by default) and the lock brief.
    const auto it = std::find(waiters.begin(), waiters.end(), waiter_);
    if (it != waiters.end()) waiters.erase(it);
    unused_wake_up = waiter_->woken;
  }
  // A slot freed for this waiter that it never took (it timed out, was cancelled or gave up in
  // the same moment) goes to the next one.
  if (unused_wake_up) queue_->notify_one();
}

asio::awaitable<bool> AdmissionQueue::Ticket::wait(std::chrono::steady_clock::time_point deadline) {
  if (!waiter_) co_return false;
  Waiter& w = *waiter_;
  const auto cancellation = co_await asio::this_coro::cancellation_state;
  // One pass per timer completion. The timer ends early for three reasons: a notify (woken is
  // set), a terminal cancellation of this coroutine, or a cancel posted by an earlier notify
  // whose wake-up a previous wait() already took at its start; the last is no reason to stop.
  for (;;) {
    // Cancelled first: the coroutine could not await anything more anyway (Asio throws on the
    // next co_await), and a wake-up left unconsumed is passed on when the ticket goes.
    if (cancellation.cancelled() != asio::cancellation_type::none) co_return false;
    bool woken = false;
    {
      std::lock_guard lock(queue_->mutex_);
      woken = std::exchange(w.woken, false);
    }
    if (woken) co_return true;
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    w.timer.expires_at(deadline);
    co_await w.timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

}  // namespace sluice::route
