#include "net/deadline.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <memory>

namespace sluice::net {
namespace {

using namespace std::chrono_literals;

struct Entry : Deadline {
  int fired = 0;
  std::function<void()> then;
  void on_deadline() override {
    ++fired;
    if (then) then();
  }
};

TEST(DeadlineSweeper, FiresOnlyPassedDeadlinesOnce) {
  boost::asio::io_context io;
  DeadlineSweeper sweeper(io.get_executor(), 5ms);
  Entry soon, later, never;
  sweeper.add(soon);
  sweeper.add(later);
  sweeper.add(never);
  soon.set_deadline_after(10ms);
  later.set_deadline_after(10s);
  io.run_for(100ms);
  EXPECT_EQ(soon.fired, 1);  // the deadline is cleared when it fires
  EXPECT_EQ(later.fired, 0);
  EXPECT_EQ(never.fired, 0);
  EXPECT_EQ(soon.deadline(), Deadline::clock::time_point::max());
}

TEST(DeadlineSweeper, MovingADeadlineLaterPostponesIt) {
  boost::asio::io_context io;
  DeadlineSweeper sweeper(io.get_executor(), 5ms);
  Entry e;
  sweeper.add(e);
  e.set_deadline_after(20ms);
  io.run_for(10ms);
  e.set_deadline_after(10s);
  io.run_for(50ms);
  EXPECT_EQ(e.fired, 0);
}

TEST(DeadlineSweeper, AnEntryMayDestroyItselfWhenItFires) {
  boost::asio::io_context io;
  DeadlineSweeper sweeper(io.get_executor(), 5ms);
  auto doomed = std::make_unique<Entry>();
  Entry survivor;
  sweeper.add(*doomed);
  sweeper.add(survivor);
  doomed->set_deadline_after(1ms);
  survivor.set_deadline_after(1ms);
  Entry* raw = doomed.get();
  raw->then = [&] { doomed.reset(); };
  io.run_for(50ms);
  EXPECT_EQ(doomed, nullptr);
  EXPECT_EQ(survivor.fired, 1);
  EXPECT_EQ(sweeper.size(), 1u);
}

TEST(DeadlineSweeper, IdleSweeperStopsTicking) {
  boost::asio::io_context io;
  DeadlineSweeper sweeper(io.get_executor(), 5ms);
  {
    Entry e;
    sweeper.add(e);
  }  // destroyed entries unlink themselves
  EXPECT_EQ(sweeper.size(), 0u);
  // With no entries the timer is not re-armed, so the io_context runs out of work.
  auto n = io.run_for(1s);
  EXPECT_LE(n, 1u);
  EXPECT_TRUE(io.stopped());
}

}  // namespace
}  // namespace sluice::net
