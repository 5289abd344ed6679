#include "net/deadline.h"

namespace sluice::net {

DeadlineSweeper::DeadlineSweeper(const boost::asio::any_io_executor& executor,
                                 std::chrono::milliseconds tick)
    : timer_(executor), tick_(tick) {}

DeadlineSweeper::~DeadlineSweeper() {
  // Entries outlive nothing here: unlink them so their destructors do not touch a dead list.
  entries_.clear();
}

void DeadlineSweeper::add(Deadline& entry) {
  if (entry.is_linked()) return;
  entries_.push_back(entry);
  arm();
}

void DeadlineSweeper::remove(Deadline& entry) {
  if (entry.is_linked()) entry.unlink();
}

void DeadlineSweeper::stop() {
  stopped_ = true;
  timer_.cancel();
}

void DeadlineSweeper::arm() {
  if (armed_ || stopped_) return;
  armed_ = true;
  timer_.expires_after(tick_);
  // The sweeper outlives its timer's handlers: workers destroy it only after their io_context
  // has stopped running handlers.
  timer_.async_wait([this](const boost::system::error_code& ec) {
    armed_ = false;
    if (ec || stopped_) return;
    sweep();
    if (!entries_.empty()) arm();
  });
}

void DeadlineSweeper::sweep() {
  const auto now = Deadline::clock::now();
  for (auto it = entries_.begin(); it != entries_.end();) {
    Deadline& entry = *it;
    ++it;  // on_deadline may destroy `entry`, which unlinks it
    if (entry.deadline() <= now) {
      entry.clear_deadline();
      entry.on_deadline();
    }
  }
}

}  // namespace sluice::net
