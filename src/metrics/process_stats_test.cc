#include "metrics/process_stats.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <string>

namespace sluice::metrics {
namespace {

TEST(ProcessStatsTest, ParsesStatPastAnOddCommandName) {
  // Field 2 is the command name in parentheses, which may itself hold spaces and ") (".
  const auto stat = parse_proc_stat(
      "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 731 245 0 0 20 0 1 0 98765 1000 "
      "50 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n");
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->user_ticks, 731u);
  EXPECT_EQ(stat->system_ticks, 245u);
  EXPECT_EQ(stat->start_ticks, 98765u);

  EXPECT_FALSE(parse_proc_stat("").has_value());
  EXPECT_FALSE(parse_proc_stat("1 (x) S 1 2 3").has_value());
}

TEST(ProcessStatsTest, ReadsThisProcess) {
  const auto before = read_process_stats();
  ASSERT_TRUE(before.has_value());
  EXPECT_GT(before->resident_bytes, 1u << 20);
  EXPECT_GE(before->open_fds, 3u) << "stdin, stdout, stderr";

  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_LE(before->start_time_seconds, now + 1);
  EXPECT_GT(before->start_time_seconds, now - 3600) << "a test process is younger than an hour";

  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  // Some CPU time, measured as the kernel does (clock ticks of 10 ms, usually).
  const std::clock_t start = std::clock();
  volatile std::uint64_t spin = 0;
  while (std::clock() - start < CLOCKS_PER_SEC / 20) spin = spin + 1;
  const auto after = read_process_stats();
  ::close(fd);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->open_fds, before->open_fds + 1);
  EXPECT_GE(after->cpu_seconds, before->cpu_seconds + 0.02);
  EXPECT_EQ(after->start_time_seconds, before->start_time_seconds);
}

TEST(ProcessStatsTest, WritesFourFamilies) {
  std::string out;
  SampleWriter writer(out);
  write_process_stats(writer);
  for (const char* name :
       {"sluice_process_resident_memory_bytes", "sluice_process_cpu_seconds_total",
        "sluice_process_open_fds", "sluice_process_start_time_seconds"}) {
    EXPECT_NE(out.find(std::string("# TYPE ") + name + " "), std::string::npos) << name;
    EXPECT_NE(out.find(std::string("\n") + name + " "), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace sluice::metrics
