// The process's own metrics, as Prometheus's client libraries export them (process_*) but with
// the project's prefix: resident memory, CPU time, open file descriptors, start time. Read from
// /proc when scraped: registry.add_collector(metrics::write_process_stats).
//
// A scrape reads two small /proc files and lists /proc/self/fd, whose cost grows with the open
// descriptors (connections); all of it is procfs, in memory, so nothing waits on a disk.
//
// Thread safety: every function may be called from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "metrics/exposition.h"

namespace sluice::metrics {

struct ProcessStats {
  std::uint64_t resident_bytes = 0;
  double cpu_seconds = 0;  // user and system
  std::uint64_t open_fds = 0;
  double start_time_seconds = 0;  // Unix time
};

// nullopt when /proc cannot be read.
std::optional<ProcessStats> read_process_stats();

// The collector: sluice_process_resident_memory_bytes, sluice_process_cpu_seconds_total,
// sluice_process_open_fds, sluice_process_start_time_seconds. Writes nothing when /proc cannot
// be read.
void write_process_stats(SampleWriter& writer);

// The fields of a /proc/<pid>/stat line that the stats use, in clock ticks. The command name
// (field 2) may hold spaces and parentheses, so fields are counted from its last ')'.
struct ProcStat {
  std::uint64_t user_ticks = 0;
  std::uint64_t system_ticks = 0;
  std::uint64_t start_ticks = 0;  // since boot
};
std::optional<ProcStat> parse_proc_stat(std::string_view line);

}  // namespace sluice::metrics
