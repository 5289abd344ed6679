// The Prometheus text exposition format, version 0.0.4: what GET /metrics answers. This is the
// one place that knows the format's rules: HELP and TYPE lines, label and HELP escaping, how
// numbers are spelled (shortest round-trip decimal, "+Inf"), and the project's naming rules for
// metric families (prefix `sluice_`, counters end in `_total`).
//
// SampleWriter is what scrape-time collectors (MetricsRegistry::add_collector) write through:
// values computed when scraped, such as cache tier bytes or a breaker's state, rather than
// recorded on the request path.
//
// Thread safety: free functions are pure; a SampleWriter belongs to the scrape that made it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

namespace sluice::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };

// The Content-Type of a response carrying this format.
inline constexpr std::string_view kExpositionContentType =
    "text/plain; version=0.0.4; charset=utf-8";

struct Label {
  std::string_view name;
  std::string_view value;
};

// Why `name` is not an acceptable name for a family of `type` (empty when it is): it must start
// with `sluice_`, be snake_case ([a-z0-9_], which promtool's linter also asks for), a counter's
// must end in `_total` and nothing else's may, and none may end in a suffix a histogram's
// samples use (`_bucket`, `_sum`, `_count`).
std::string family_name_error(std::string_view name, MetricType type);
// Same for a label name: snake_case, not starting with `__` (reserved by Prometheus).
std::string label_name_error(std::string_view name);

// Appenders, for the registry's own exposition and for tests.
void append_help_text(std::string& out, std::string_view help);     // escapes \ and newline
void append_label_value(std::string& out, std::string_view value);  // escapes \, " and newline
void append_number(std::string& out, double value);                 // +Inf, -Inf, NaN spelled out
void append_number(std::string& out, std::uint64_t value);
void append_number(std::string& out, std::int64_t value);
// "# HELP name help\n# TYPE name type\n".
void append_family_header(std::string& out, std::string_view name, std::string_view help,
                          MetricType type);

class SampleWriter {
 public:
  explicit SampleWriter(std::string& out) : out_(out) {}

  // Starts a family: its HELP and TYPE lines. The samples that follow belong to it. Only
  // counters and gauges: a histogram's samples are the registry's business. The name must pass
  // family_name_error (checked in debug builds: collectors are code, not configuration).
  void family(std::string_view name, std::string_view help, MetricType type);

  // One sample of the current family, named after it. Integers print exactly; floating-point
  // values in their shortest round-trip form.
  template <class T>
  requires std::is_arithmetic_v<T>
  void sample(std::initializer_list<Label> labels, T value) {
    begin_sample(labels);
    if constexpr (std::is_floating_point_v<T>) {
      append_number(out_, static_cast<double>(value));
    } else if constexpr (std::is_signed_v<T>) {
      append_number(out_, static_cast<std::int64_t>(value));
    } else {
      append_number(out_, static_cast<std::uint64_t>(value));
    }
    out_ += '\n';
  }
  template <class T>
  requires std::is_arithmetic_v<T>
  void sample(T value) { sample({}, value); }

 private:
  void begin_sample(std::initializer_list<Label> labels);

  std::string& out_;
  std::string name_;
};

}  // namespace sluice::metrics
