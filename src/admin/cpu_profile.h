// CPU profiles of the whole running process, for GET /admin/profile/cpu (docs/observability.md,
// "CPU profiles"): gperftools' sampling profiler (libprofiler) writes a profile in pprof's
// legacy CPU format to a private temporary file, which is read back and removed.
//
// gperftools samples with setitimer(ITIMER_PROF), which on Linux is one timer for the whole
// process: it counts the CPU time of every thread and its SIGPROF lands on the thread that was
// running, so every worker (and every pool thread) is sampled in proportion to the CPU it uses,
// without registering threads. (Its per-thread timers, CPUPROFILE_PER_THREAD_TIMERS, would
// sample only threads that called ProfilerRegisterThread; Sluice does not use them.)
//
// Thread safety: one CpuProfiler per process, shared by every worker. take() may be called from
// any worker; only one profile runs at a time (the profiler is process-wide), a second take()
// meanwhile fails with kConflict. The blocking steps (opening the file, flushing and reading it)
// run on the profiler's own thread; the caller's worker only awaits a timer in between.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <string>

#include "core/asio.h"
#include "core/error.h"

namespace sluice::admin {

class CpuProfiler {
 public:
  CpuProfiler() = default;
  CpuProfiler(const CpuProfiler&) = delete;
  CpuProfiler& operator=(const CpuProfiler&) = delete;

  // Profiles the process for `duration` and returns the profile's bytes. kConflict while another
  // profile runs; kCancelled when the awaiting coroutine is cancelled (its client left), in which
  // case the profile is stopped and discarded at once. However it ends, the profiler is stopped
  // and the file removed.
  asio::awaitable<core::Result<std::string>> take(std::chrono::seconds duration);

  bool running() const { return running_.load(std::memory_order_acquire); }

 private:
  asio::thread_pool pool_{1};
  std::atomic<bool> running_{false};
};

}  // namespace sluice::admin
