#include "metrics/exposition.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace sluice::metrics {
namespace {

std::string number(auto value) {
  std::string out;
  append_number(out, value);
  return out;
}

TEST(ExpositionTest, NumbersReadBackAsTheSameValue) {
  EXPECT_EQ(number(0.5), "0.5");
  EXPECT_EQ(number(0.0005), "0.0005");
  EXPECT_EQ(number(1e-05), "1e-05");
  EXPECT_EQ(number(0.0001), "0.0001");
  EXPECT_EQ(number(3.0), "3");
  EXPECT_EQ(number(1048576.0), "1048576");
  EXPECT_EQ(number(1e20), "100000000000000000000");
  EXPECT_EQ(number(1e21), "1e+21");
  EXPECT_EQ(number(-2.5e-7), "-2.5e-07");
  EXPECT_EQ(number(0.0), "0");
  EXPECT_EQ(number(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(number(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(number(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(number(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(number(std::numeric_limits<std::uint64_t>::max()), "18446744073709551615");
  EXPECT_EQ(number(std::int64_t{-42}), "-42");
}

TEST(ExpositionTest, Escaping) {
  std::string label;
  append_label_value(label, "a\\b\"c\nd");
  EXPECT_EQ(label, R"(a\\b\"c\nd)");
  std::string help;
  append_help_text(help, "a\\b\"c\nd");
  EXPECT_EQ(help, R"(a\\b"c\nd)") << "HELP escapes backslash and newline, not quotes";
}

TEST(ExpositionTest, FamilyNames) {
  EXPECT_EQ(family_name_error("sluice_requests_total", MetricType::kCounter), "");
  EXPECT_EQ(family_name_error("sluice_in_flight_requests", MetricType::kGauge), "");
  EXPECT_EQ(family_name_error("sluice_request_duration_seconds", MetricType::kHistogram), "");

  EXPECT_NE(family_name_error("sluice_requests", MetricType::kCounter), "");
  EXPECT_NE(family_name_error("sluice_requests_total", MetricType::kGauge), "");
  EXPECT_NE(family_name_error("sluice_requests_total", MetricType::kHistogram), "");
  EXPECT_NE(family_name_error("requests_total", MetricType::kCounter), "");
  EXPECT_NE(family_name_error("sluice_", MetricType::kGauge), "");
  EXPECT_NE(family_name_error("sluice_inFlight", MetricType::kGauge), "");
  EXPECT_NE(family_name_error("sluice_a:b", MetricType::kGauge), "");
  EXPECT_NE(family_name_error("sluice_tokens_count", MetricType::kGauge), "");
  EXPECT_NE(family_name_error("sluice_latency_bucket", MetricType::kGauge), "");
}

TEST(ExpositionTest, LabelNames) {
  EXPECT_EQ(label_name_error("status"), "");
  EXPECT_EQ(label_name_error("cache_result"), "");
  EXPECT_NE(label_name_error(""), "");
  EXPECT_NE(label_name_error("__name"), "");
  EXPECT_NE(label_name_error("le"), "");
  EXPECT_NE(label_name_error("Status"), "");
  EXPECT_NE(label_name_error("9lives"), "");
}

TEST(ExpositionTest, SampleWriter) {
  std::string out;
  SampleWriter writer(out);
  writer.family("sluice_cache_bytes", "Bytes held by each cache tier.\nLive.", MetricType::kGauge);
  writer.sample({{"tier", "memory"}}, std::uint64_t{1024});
  writer.sample({{"tier", "disk"}, {"path", "/var/\"x\""}}, 2.5);
  writer.family("sluice_breaker_trips_total", "Breaker trips.", MetricType::kCounter);
  writer.sample(7);
  EXPECT_EQ(out,
            "# HELP sluice_cache_bytes Bytes held by each cache tier.\\nLive.\n"
            "# TYPE sluice_cache_bytes gauge\n"
            "sluice_cache_bytes{tier=\"memory\"} 1024\n"
            "sluice_cache_bytes{tier=\"disk\",path=\"/var/\\\"x\\\"\"} 2.5\n"
            "# HELP sluice_breaker_trips_total Breaker trips.\n"
            "# TYPE sluice_breaker_trips_total counter\n"
            "sluice_breaker_trips_total 7\n");
}

}  // namespace
}  // namespace sluice::metrics
