#include "metrics/exposition.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>

namespace sluice::metrics {

namespace {

constexpr std::string_view kPrefix = "sluice_";

bool snake_case(std::string_view name) {
  if (name.empty() || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string_view type_name(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

template <class T>
void append_integer(std::string& out, T value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

}  // namespace

std::string family_name_error(std::string_view name, MetricType type) {
  const std::string quoted = "metric name \"" + std::string(name) + "\"";
  if (!name.starts_with(kPrefix) || name.size() == kPrefix.size()) {
    return quoted + " must start with \"sluice_\"";
  }
  if (!snake_case(name)) return quoted + " must be snake_case: [a-z0-9_]";
  const bool total = name.ends_with("_total");
  if (type == MetricType::kCounter && !total)
    return quoted + " is a counter: it must end in _total";
  if (type != MetricType::kCounter && total) return quoted + " is not a counter: no _total";
  for (std::string_view reserved : {"_bucket", "_sum", "_count"}) {
    if (name.ends_with(reserved)) {
      return quoted + " ends in " + std::string(reserved) + ", which a histogram's samples use";
    }
  }
  return {};
}

std::string label_name_error(std::string_view name) {
  const std::string quoted = "label name \"" + std::string(name) + "\"";
  if (!snake_case(name)) return quoted + " must be snake_case: [a-z0-9_]";
  if (name.starts_with("__")) return quoted + " starts with __, which Prometheus reserves";
  if (name == "le" || name == "quantile") return quoted + " is reserved for histograms";
  return {};
}

void append_help_text(std::string& out, std::string_view help) {
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_label_value(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    // The fewest digits that read back as the same double (Prometheus parses with Go's
    // strconv.ParseFloat, which takes either notation). Plain decimal unless the exponent is
    // below -4 or above 20, as Go's and JavaScript's shortest forms do: to_chars's own choice,
    // whichever is shorter, would spell the bound 0.0005 "5e-04", and a bucket's le is text
    // that people type into queries.
    char buf[40];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
    int exponent = 0;
    const char* e = std::find(buf, end, 'e');
    std::from_chars(e + (e[1] == '+' ? 2 : 1), end, exponent);
    if (exponent >= -4 && exponent <= 20) {
      end = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::fixed).ptr;
    }
    out.append(buf, end);
  }
}

void append_number(std::string& out, std::uint64_t value) { append_integer(out, value); }
void append_number(std::string& out, std::int64_t value) { append_integer(out, value); }

void append_family_header(std::string& out, std::string_view name, std::string_view help,
                          MetricType type) {
  out += "# HELP ";
  out += name;
  out += ' ';
  append_help_text(out, help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type_name(type);
  out += '\n';
}

void SampleWriter::family(std::string_view name, std::string_view help, MetricType type) {
  assert(family_name_error(name, type).empty());
  assert(type != MetricType::kHistogram);
  name_ = name;
  append_family_header(out_, name, help, type);
}

void SampleWriter::begin_sample(std::initializer_list<Label> labels) {
  assert(!name_.empty() && "SampleWriter::family first");
  out_ += name_;
  if (labels.size() > 0) {
    char sep = '{';
    for (const Label& label : labels) {
      assert(label_name_error(label.name).empty());
      out_ += sep;
      out_ += label.name;
      out_ += "=\"";
      append_label_value(out_, label.value);
      out_ += '"';
      sep = ',';
    }
    out_ += '}';
  }
  out_ += ' ';
}

}  // namespace sluice::metrics
