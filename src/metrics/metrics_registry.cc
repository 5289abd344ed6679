#include "metrics/metrics_registry.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <stdexcept>

namespace sluice::metrics {

namespace {

// Slots [0, kSinkSlots) take what cannot be registered; they are never exported. Wide enough for
// the widest histogram, which records into buckets + 2 slots from its series' first.
constexpr std::uint32_t kSinkSlots = MetricsRegistry::kMaxBounds + 2;
static_assert(kSinkSlots <= WorkerMetrics::kChunkSlots);

constexpr double kNanosecondsPerSecond = 1e9;

std::uint32_t width_of(MetricType type, std::size_t bounds) {
  return type == MetricType::kHistogram ? static_cast<std::uint32_t>(bounds) + 2 : 1;
}

void check(const std::string& error) {
  if (!error.empty()) throw std::invalid_argument(error);
}

void check_labels(const std::vector<std::string>& label_names) {
  for (std::size_t i = 0; i < label_names.size(); ++i) {
    check(label_name_error(label_names[i]));
    for (std::size_t j = 0; j < i; ++j) {
      if (label_names[j] == label_names[i]) {
        throw std::invalid_argument("label name \"" + label_names[i] + "\" given twice");
      }
    }
  }
}

// name="value",... for the label names and values of a series.
std::string render_labels(const std::vector<std::string>& names, const LabelValues& values) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    append_label_value(out, values[i]);
    out += '"';
  }
  return out;
}

// name + suffix + {labels[,extra]} + ' ' : the front of one sample line.
void begin_line(std::string& out, std::string_view name, std::string_view suffix,
                std::string_view labels, std::string_view extra = {}) {
  out += name;
  out += suffix;
  if (!labels.empty() || !extra.empty()) {
    out += '{';
    out += labels;
    if (!labels.empty() && !extra.empty()) out += ',';
    out += extra;
    out += '}';
  }
  out += ' ';
}

}  // namespace

std::vector<double> latency_bounds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

// ---------------------------------------------------------------------------------------------
// WorkerMetrics

WorkerMetrics::WorkerMetrics(MetricsRegistry& registry, std::uint32_t chunks)
    : registry_(registry),
      chunks_(std::make_unique<std::atomic<Chunk*>[]>(chunks)),
      chunk_count_(chunks) {}

WorkerMetrics::~WorkerMetrics() {
  for (std::uint32_t i = 0; i < chunk_count_; ++i)
    delete chunks_[i].load(std::memory_order_relaxed);
}

std::uint32_t WorkerMetrics::resolve(std::uint32_t family, SeriesKey key,
                                     const LabelValues& values) {
  std::span<const std::uint64_t> bounds;
  const std::uint32_t slot = registry_.register_series(family, values, bounds);
  if (family >= families_.size()) families_.resize(family + 1);
  families_[family].bounds = bounds;
  families_[family].slots.emplace(key, slot);
  return slot;
}

WorkerMetrics::Chunk* WorkerMetrics::allocate(std::uint32_t chunk) {
  auto* fresh = new Chunk;
  // Release: a scraper that sees the pointer sees the zeroed slots behind it.
  chunks_[chunk].store(fresh, std::memory_order_release);
  return fresh;
}

// ---------------------------------------------------------------------------------------------
// MetricsRegistry: declarations

MetricsRegistry::MetricsRegistry(std::uint32_t max_slots)
    : max_slots_(max_slots), next_slot_(kSinkSlots), sink_{0, {}} {
  if (max_slots_ <= kSinkSlots) throw std::invalid_argument("metrics: max_slots is too small");
}

MetricsRegistry::~MetricsRegistry() = default;

std::uint32_t MetricsRegistry::declare(Family family) {
  check(family_name_error(family.name, family.type));
  check_labels(family.label_names);
  std::lock_guard lock(mutex_);
  for (const Family& f : families_) {
    if (f.name == family.name) {
      throw std::invalid_argument("metric \"" + family.name + "\" declared twice");
    }
  }
  families_.push_back(std::move(family));
  return static_cast<std::uint32_t>(families_.size() - 1);
}

CounterFamily MetricsRegistry::add_counter(std::string name, std::string help,
                                           std::vector<std::string> label_names, double scale) {
  if (!(scale > 0)) throw std::invalid_argument(name + ": a counter's scale must be positive");
  return {declare(Family{.name = std::move(name),
                         .help = std::move(help),
                         .type = MetricType::kCounter,
                         .label_names = std::move(label_names),
                         .scale = scale})};
}

GaugeFamily MetricsRegistry::add_gauge(std::string name, std::string help,
                                       std::vector<std::string> label_names) {
  return {declare(Family{.name = std::move(name),
                         .help = std::move(help),
                         .type = MetricType::kGauge,
                         .label_names = std::move(label_names)})};
}

HistogramFamily MetricsRegistry::add_histogram(std::string name, std::string help,
                                               std::vector<std::string> label_names,
                                               std::vector<double> bounds, HistogramUnit unit) {
  const std::string quoted = "histogram \"" + name + "\"";
  if (unit == HistogramUnit::kSeconds && !name.ends_with("_seconds")) {
    throw std::invalid_argument(quoted + " observes durations: its name must end in _seconds");
  }
  if (bounds.empty() || bounds.size() > kMaxBounds) {
    throw std::invalid_argument(quoted + " needs 1 to " + std::to_string(kMaxBounds) + " bounds");
  }
  Family family{.name = std::move(name),
                .help = std::move(help),
                .type = MetricType::kHistogram,
                .label_names = std::move(label_names),
                .unit = unit};
  const double scale = unit == HistogramUnit::kSeconds ? kNanosecondsPerSecond : 1;
  for (double bound : bounds) {
    // Bounds are compared with integer observations, so they become integers too; 2^62 keeps
    // clear of the conversion's limits (146 years in nanoseconds).
    const double scaled = bound * scale;
    if (!(scaled >= 0 && scaled < 0x1p62) ||
        (unit == HistogramUnit::kInteger && scaled != std::floor(scaled))) {
      throw std::invalid_argument(quoted + ": bound " + std::to_string(bound) + " is not valid");
    }
    const auto integer = static_cast<std::uint64_t>(std::llround(scaled));
    if (!family.bounds.empty() && integer <= family.bounds.back()) {
      throw std::invalid_argument(quoted + ": bounds must be strictly increasing");
    }
    family.bounds.push_back(integer);
    std::string le = "le=\"";
    append_number(le, bound);
    le += '"';
    family.le.push_back(std::move(le));
  }
  return {declare(std::move(family))};
}

// ---------------------------------------------------------------------------------------------
// MetricsRegistry: series

const MetricsRegistry::Series& MetricsRegistry::series(std::uint32_t index,
                                                       const LabelValues& values) {
  Family& family = families_[index];
  if (values.size() != family.label_names.size()) {
    spdlog::error("metrics: {} takes {} label values, got {}; not recorded", family.name,
                  family.label_names.size(), values.size());
    return sink_;
  }
  if (auto it = family.series.find(values); it != family.series.end()) return it->second;

  const std::uint32_t width = width_of(family.type, family.bounds.size());
  std::uint32_t slot = next_slot_;
  // A series never spans two chunks, so a histogram's slots are one chunk's consecutive cells.
  if (slot % WorkerMetrics::kChunkSlots + width > WorkerMetrics::kChunkSlots) {
    slot += WorkerMetrics::kChunkSlots - slot % WorkerMetrics::kChunkSlots;
  }
  if (slot + width > max_slots_) {
    if (!warned_full_) {
      warned_full_ = true;
      spdlog::warn("metrics: all {} slots are taken; new series (first: {}) are not recorded",
                   max_slots_, family.name);
    }
    return sink_;
  }
  next_slot_ = slot + width;
  auto [it, inserted] =
      family.series.emplace(values, Series{slot, render_labels(family.label_names, values)});
  return it->second;
}

std::uint32_t MetricsRegistry::register_series(std::uint32_t family, const LabelValues& values,
                                               std::span<const std::uint64_t>& bounds) {
  std::lock_guard lock(mutex_);
  bounds = families_[family].bounds;
  return series(family, values).slot;
}

CounterHandle MetricsRegistry::handle(CounterFamily family, const LabelValues& values) {
  std::lock_guard lock(mutex_);
  return {series(family.index, values).slot};
}

GaugeHandle MetricsRegistry::handle(GaugeFamily family, const LabelValues& values) {
  std::lock_guard lock(mutex_);
  return {series(family.index, values).slot};
}

HistogramHandle MetricsRegistry::handle(HistogramFamily family, const LabelValues& values) {
  std::lock_guard lock(mutex_);
  return {series(family.index, values).slot, families_[family.index].bounds};
}

WorkerMetrics& MetricsRegistry::add_worker() {
  const std::uint32_t chunks =
      (max_slots_ + WorkerMetrics::kChunkSlots - 1) / WorkerMetrics::kChunkSlots;
  std::lock_guard lock(mutex_);
  workers_.push_back(std::unique_ptr<WorkerMetrics>(new WorkerMetrics(*this, chunks)));
  return *workers_.back();
}

void MetricsRegistry::add_collector(std::function<void(SampleWriter&)> collect) {
  std::lock_guard lock(mutex_);
  collectors_.push_back(std::make_unique<std::function<void(SampleWriter&)>>(std::move(collect)));
}

std::uint32_t MetricsRegistry::intern(std::string_view name) {
  std::lock_guard lock(mutex_);
  if (auto it = name_ids_.find(name); it != name_ids_.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(names_.size());
  names_.emplace_back(name);
  name_ids_.emplace(names_.back(), id);
  return id;
}

std::string_view MetricsRegistry::label(std::uint32_t id) const {
  std::lock_guard lock(mutex_);
  return id < names_.size() ? std::string_view(names_[id]) : std::string_view();
}

// ---------------------------------------------------------------------------------------------
// MetricsRegistry: scrape

void MetricsRegistry::scrape(std::string& out) const {
  // Copy what to read under the lock, then read and format without it, so that a worker meeting
  // a new series does not wait for the formatting. Everything pointed to is never modified or
  // freed once made (series are map nodes, workers and collectors are heap objects).
  struct FamilyView {
    const Family* family;
    std::vector<const Series*> series;
  };
  std::vector<FamilyView> families;
  std::vector<const WorkerMetrics*> workers;
  std::vector<const std::function<void(SampleWriter&)>*> collectors;
  {
    std::lock_guard lock(mutex_);
    families.reserve(families_.size());
    for (const Family& family : families_) {
      FamilyView& view = families.emplace_back(FamilyView{&family, {}});
      view.series.reserve(family.series.size());
      for (const auto& [values, series] : family.series) view.series.push_back(&series);
    }
    for (const auto& worker : workers_) workers.push_back(worker.get());
    for (const auto& collect : collectors_) collectors.push_back(collect.get());
  }

  auto total = [&workers](std::uint32_t slot) {
    std::uint64_t sum = 0;  // wraps for gauges' negative deltas, as it should
    for (const WorkerMetrics* worker : workers) sum += worker->read(slot);
    return sum;
  };

  for (const FamilyView& view : families) {
    const Family& family = *view.family;
    append_family_header(out, family.name, family.help, family.type);
    for (const Series* series : view.series) {
      switch (family.type) {
        case MetricType::kCounter:
          begin_line(out, family.name, {}, series->labels);
          if (family.scale == 1) {
            append_number(out, total(series->slot));
          } else {
            append_number(out, static_cast<double>(total(series->slot)) * family.scale);
          }
          break;
        case MetricType::kGauge:
          begin_line(out, family.name, {}, series->labels);
          append_number(out, static_cast<std::int64_t>(total(series->slot)));
          break;
        case MetricType::kHistogram: {
          const std::size_t n = family.bounds.size();
          std::uint64_t cumulative = 0;
          for (std::size_t i = 0; i < n; ++i) {
            cumulative += total(series->slot + static_cast<std::uint32_t>(i));
            begin_line(out, family.name, "_bucket", series->labels, family.le[i]);
            append_number(out, cumulative);
            out += '\n';
          }
          cumulative += total(series->slot + static_cast<std::uint32_t>(n));
          begin_line(out, family.name, "_bucket", series->labels, "le=\"+Inf\"");
          append_number(out, cumulative);
          out += '\n';
          const std::uint64_t sum = total(series->slot + static_cast<std::uint32_t>(n) + 1);
          begin_line(out, family.name, "_sum", series->labels);
          if (family.unit == HistogramUnit::kSeconds) {
            append_number(out, static_cast<double>(sum) / kNanosecondsPerSecond);
          } else {
            append_number(out, sum);
          }
          out += '\n';
          begin_line(out, family.name, "_count", series->labels);
          append_number(out, cumulative);
          break;
        }
      }
      out += '\n';
    }
  }

  SampleWriter writer(out);
  for (const auto* collect : collectors) (*collect)(writer);
}

std::optional<MetricsRegistry::FamilyTotals> MetricsRegistry::totals(std::string_view name) const {
  // As scrape(): copy what to read under the lock, read the slots without it.
  FamilyTotals out;
  std::vector<std::pair<const LabelValues*, std::uint32_t>> series;
  std::vector<const WorkerMetrics*> workers;
  {
    std::lock_guard lock(mutex_);
    const Family* family = nullptr;
    for (const Family& f : families_) {
      if (f.name == name) family = &f;
    }
    if (family == nullptr) return std::nullopt;
    out.type = family->type;
    out.label_names = family->label_names;
    out.bounds = family->bounds;
    out.unit = family->unit;
    out.scale = family->scale;
    series.reserve(family->series.size());
    for (const auto& [values, s] : family->series) series.emplace_back(&values, s.slot);
    for (const auto& worker : workers_) workers.push_back(worker.get());
  }
  const std::uint32_t width = width_of(out.type, out.bounds.size());
  out.series.reserve(series.size());
  for (const auto& [labels, slot] : series) {
    SeriesTotals& totals = out.series.emplace_back(SeriesTotals{labels, {}});
    totals.values.assign(width, 0);
    for (std::uint32_t i = 0; i < width; ++i) {
      for (const WorkerMetrics* worker : workers) totals.values[i] += worker->read(slot + i);
    }
  }
  return out;
}

std::string MetricsRegistry::scrape() const {
  std::string out;
  scrape(out);
  return out;
}

}  // namespace sluice::metrics
