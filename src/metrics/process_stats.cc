#include "metrics/process_stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <string>

namespace sluice::metrics {

namespace {

// The whole of a small procfs file (their size is not known before reading).
std::optional<std::string> read_file(const char* path) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return text;
}

// Parses a number at the front of `text` and moves past it and the space after it.
template <class T>
bool take_number(std::string_view& text, T& value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) return false;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  if (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  return true;
}

bool skip_field(std::string_view& text) {
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return false;
  text.remove_prefix(space + 1);
  return true;
}

// Boot time, Unix seconds (the btime line of /proc/stat); it does not change while we run.
std::optional<std::uint64_t> boot_time() {
  const auto stat = read_file("/proc/stat");
  if (!stat) return std::nullopt;
  const auto at = stat->find("\nbtime ");
  if (at == std::string::npos) return std::nullopt;
  std::string_view rest = std::string_view(*stat).substr(at + 7);
  std::uint64_t seconds = 0;
  if (!take_number(rest, seconds)) return std::nullopt;
  return seconds;
}

std::optional<std::uint64_t> open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  const std::string own = std::to_string(::dirfd(dir));  // the listing's own descriptor
  std::uint64_t count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string_view name = entry->d_name;
    if (name != "." && name != ".." && name != own) ++count;
  }
  ::closedir(dir);
  return count;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view line) {
  const auto paren = line.rfind(')');
  if (paren == std::string_view::npos || paren + 2 > line.size()) return std::nullopt;
  std::string_view rest = line.substr(paren + 2);  // field 3 (state) onwards
  ProcStat stat;
  // Fields 3-13 come before utime (14) and stime (15); 16-21 between them and starttime (22).
  for (int field = 3; field < 14; ++field) {
    if (!skip_field(rest)) return std::nullopt;
  }
  if (!take_number(rest, stat.user_ticks) || !take_number(rest, stat.system_ticks)) {
    return std::nullopt;
  }
  for (int field = 16; field < 22; ++field) {
    if (!skip_field(rest)) return std::nullopt;
  }
  if (!take_number(rest, stat.start_ticks)) return std::nullopt;
  return stat;
}

std::optional<ProcessStats> read_process_stats() {
  static const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
  static const long page_size = ::sysconf(_SC_PAGESIZE);
  static const std::optional<std::uint64_t> booted = boot_time();

  const auto stat_line = read_file("/proc/self/stat");
  const auto statm = read_file("/proc/self/statm");
  const auto fds = open_fds();
  if (!stat_line || !statm || !fds || !booted || ticks_per_second <= 0) return std::nullopt;
  const auto stat = parse_proc_stat(*stat_line);
  if (!stat) return std::nullopt;

  // statm: size, then resident, in pages.
  std::string_view pages = *statm;
  std::uint64_t size = 0, resident = 0;
  if (!take_number(pages, size) || !take_number(pages, resident)) return std::nullopt;

  const auto ticks = static_cast<double>(ticks_per_second);
  return ProcessStats{
      .resident_bytes = resident * static_cast<std::uint64_t>(page_size),
      .cpu_seconds = static_cast<double>(stat->user_ticks + stat->system_ticks) / ticks,
      .open_fds = *fds,
      .start_time_seconds =
          static_cast<double>(*booted) + static_cast<double>(stat->start_ticks) / ticks,
  };
}

void write_process_stats(SampleWriter& writer) {
  const auto stats = read_process_stats();
  if (!stats) return;
  writer.family("sluice_process_resident_memory_bytes", "Resident memory size in bytes.",
                MetricType::kGauge);
  writer.sample(stats->resident_bytes);
  writer.family("sluice_process_cpu_seconds_total", "User and system CPU time spent in seconds.",
                MetricType::kCounter);
  writer.sample(stats->cpu_seconds);
  writer.family("sluice_process_open_fds", "Number of open file descriptors.", MetricType::kGauge);
  writer.sample(stats->open_fds);
  writer.family("sluice_process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.", MetricType::kGauge);
  writer.sample(stats->start_time_seconds);
}

}  // namespace sluice::metrics
