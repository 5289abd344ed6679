#include "admin/cpu_profile.h"

#include <gperftools/profiler.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "core/run_on.h"

namespace sluice::admin {

using core::Errc;

namespace {

// One profile's resources, owned by take()'s coroutine frame: whatever becomes of the coroutine
// (it finishes, is cancelled, or its frame is destroyed at shutdown while the timer runs), the
// profiler is stopped, the file removed and the next profile allowed, in that order.
struct ProfileRun {
  std::atomic<bool>& running;
  std::string path;        // the temporary file, once made
  bool profiling = false;  // between a successful ProfilerStart and ProfilerStop

  ~ProfileRun() {
    if (profiling) ProfilerStop();
    if (!path.empty()) ::unlink(path.c_str());
    running.store(false, std::memory_order_release);
  }
};

// Makes a file only this user can read (mkstemp creates it 0600; gperftools then opens it by
// name, truncating it, and keeps its mode) and starts the profiler writing to it.
core::Result<void> start(ProfileRun& run) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
  if (ec) dir = "/tmp";
  std::string pattern = (dir / "sluice-cpu-XXXXXX").string();
  int fd = ::mkstemp(pattern.data());
  if (fd < 0) {
    return core::fail(Errc::kInternal, "Cannot create the profile's temporary file in " +
                                           dir.string() + ": " + std::strerror(errno) + ".");
  }
  ::close(fd);
  run.path = std::move(pattern);
  ProfilerOptions options{};  // every thread is sampled (see the header)
  if (ProfilerStartWithOptions(run.path.c_str(), &options) == 0) {
    return core::fail(Errc::kInternal,
                      "The CPU profiler did not start (is another profile running, started by "
                      "the CPUPROFILE environment variable?).");
  }
  run.profiling = true;
  return core::ok();
}

// Stops the profiler (which writes what it still buffers and the process's memory map) and reads
// the file back.
core::Result<std::string> finish(ProfileRun& run) {
  ProfilerState state{};
  ProfilerGetCurrentState(&state);
  ProfilerStop();
  run.profiling = false;
  std::ifstream in(run.path, std::ios::binary);
  std::ostringstream read;
  read << in.rdbuf();
  std::string bytes = read.str();
  if (!in || bytes.empty()) {
    return core::fail(Errc::kInternal, "Cannot read the CPU profile back from " + run.path + ".");
  }
  spdlog::info("cpu profile: {} samples, {} bytes", state.samples_gathered, bytes.size());
  return bytes;
}

// The blocking steps as awaitables on `pool` (run_on's note: returned, not awaited, here).
asio::awaitable<core::Result<void>> start_on(asio::thread_pool& pool, ProfileRun& run) {
  return core::run_on<core::Result<void>>(pool.get_executor(),
                                          [&run]() noexcept { return start(run); });
}
asio::awaitable<core::Result<std::string>> finish_on(asio::thread_pool& pool, ProfileRun& run) {
  return core::run_on<core::Result<std::string>>(pool.get_executor(),
                                                 [&run]() noexcept { return finish(run); });
}

}  // namespace

asio::awaitable<core::Result<std::string>> CpuProfiler::take(std::chrono::seconds duration) {
  bool idle = false;
  if (!running_.compare_exchange_strong(idle, true, std::memory_order_acq_rel)) {
    co_return core::fail(Errc::kConflict,
                         "A CPU profile is being taken already; only one runs at a time. Ask "
                         "again when it has finished.");
  }
  ProfileRun run{running_};
  core::Result<void> started = co_await start_on(pool_, run);
  if (!started) co_return started.error();

  // The worker goes on serving while the profile runs; only this coroutine waits.
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  core::Result<std::string> profile = co_await finish_on(pool_, run);
  if (ec) co_return core::fail(Errc::kCancelled, "The client left before the profile finished.");
  co_return profile;
}

}  // namespace sluice::admin
