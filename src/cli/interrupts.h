// Ctrl-C for the commands that run work to the end (`sluice batch`, `sluice run`): the first
// SIGINT or SIGTERM sets a flag the work polls, so nothing new is sent and what is in flight is
// finished and written; the handler resets itself, so a second signal ends the process at once.
//
// Thread safety: the flag is an atomic, set from the signal handler and read from any thread.
#pragma once

#include <atomic>

namespace sluice::cli {

// Installs the handler; from then on, interrupted() becomes true at the first signal.
void catch_interrupts();
const std::atomic<bool>& interrupted();

// The exit code of an interrupted command (as a shell reports SIGINT).
inline constexpr int kInterruptedExit = 130;

}  // namespace sluice::cli
