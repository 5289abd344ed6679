#include "cli/interrupts.h"

#include <signal.h>

namespace sluice::cli {

namespace {

std::atomic<bool> flag{false};

extern "C" void on_interrupt(int) { flag.store(true); }

}  // namespace

void catch_interrupts() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

const std::atomic<bool>& interrupted() { return flag; }

}  // namespace sluice::cli
