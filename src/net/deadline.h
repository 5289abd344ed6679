// Connection deadlines without a timer per connection.
//
// Every connection (downstream session or upstream connection) is a Deadline: setting or moving
// its deadline is a plain store, so the request path pays nothing for timeouts. One
// DeadlineSweeper per worker wakes up every `tick` (only while it has entries) and calls
// on_deadline() for each entry whose deadline has passed. Timeouts therefore fire up to one tick
// late, which is fine for limits measured in seconds and keeps the hot path free of timer-queue
// operations (the same trade Redis makes with its client cron).
//
// Thread safety: a sweeper and its entries belong to one worker thread.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/intrusive/list.hpp>

#include <chrono>

namespace sluice::net {

class Deadline : public boost::intrusive::list_base_hook<
                     boost::intrusive::link_mode<boost::intrusive::auto_unlink>> {
 public:
  using clock = std::chrono::steady_clock;

  void set_deadline(clock::time_point at) { at_ = at; }
  void set_deadline_after(clock::duration d) { at_ = clock::now() + d; }
  void clear_deadline() { at_ = clock::time_point::max(); }
  clock::time_point deadline() const { return at_; }

  // Called on the worker thread once `deadline()` has passed; the deadline is cleared first.
  // It may destroy this entry, but no other entry.
  virtual void on_deadline() = 0;

 protected:
  Deadline() = default;
  ~Deadline() = default;
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

 private:
  clock::time_point at_ = clock::time_point::max();
};

class DeadlineSweeper {
 public:
  static constexpr std::chrono::milliseconds kDefaultTick{50};

  explicit DeadlineSweeper(const boost::asio::any_io_executor& executor,
                           std::chrono::milliseconds tick = kDefaultTick);
  ~DeadlineSweeper();

  // Starts watching `entry` until it is destroyed (auto-unlink) or remove()d.
  void add(Deadline& entry);
  void remove(Deadline& entry);

  // Stops the timer; entries are left alone. Used at shutdown.
  void stop();

  std::size_t size() const { return entries_.size(); }

 private:
  void arm();
  void sweep();

  boost::asio::steady_timer timer_;
  std::chrono::milliseconds tick_;
  boost::intrusive::list<Deadline, boost::intrusive::constant_time_size<false>> entries_;
  bool armed_ = false;
  bool stopped_ = false;
};

}  // namespace sluice::net
