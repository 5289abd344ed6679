#include "admin/stats_history.h"

#include <boost/json/array.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace sluice::admin {

namespace {

using namespace std::chrono_literals;

constexpr double kNano = 1e-9;

// JSON numbers at a precision that means something: microseconds, thousandths of a request per
// second, nano-dollars.
double round_to(double v, double unit) { return std::round(v / unit) * unit; }
double seconds_value(double v) { return round_to(v, 1e-6); }
double rate_value(double v) { return round_to(v, 1e-3); }
double ratio_value(double v) { return round_to(v, 1e-4); }
double usd_value(std::uint64_t nano) { return round_to(static_cast<double>(nano) * kNano, kNano); }

json::value or_null(std::optional<double> v, double (*round)(double)) {
  if (!v) return nullptr;
  return round(*v);
}

std::optional<double> ratio(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return std::nullopt;
  return static_cast<double>(part) / static_cast<double>(whole);
}

double per_second(std::uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}

double seconds_between(core::Clock::time_point later, core::Clock::time_point earlier) {
  return std::chrono::duration<double>(later - earlier).count();
}

SeriesPoint point_of(const StatsSample& newer, const StatsSample& older) {
  const Totals d = newer.totals.minus(older.totals);
  const double seconds = seconds_between(newer.at, older.at);
  SeriesPoint p;
  p.t = static_cast<double>(newer.unix_ms) / 1000;
  p.requests_per_second = per_second(d.requests, seconds);
  p.errors_per_second = per_second(d.errors, seconds);
  p.p50_seconds = quantile(0.5, d.latency, latency_bounds_seconds());
  p.p99_seconds = quantile(0.99, d.latency, latency_bounds_seconds());
  p.ttft_p50_seconds = quantile(0.5, d.ttft, latency_bounds_seconds());
  p.hit_rate = ratio(d.hits, d.hits + d.misses);
  p.tokens_per_second = per_second(d.input_tokens + d.output_tokens, seconds);
  p.cost_usd = usd_value(d.cost_nano_usd);
  p.saved_usd = usd_value(d.saved_nano_usd);
  return p;
}

json::object point_json(const SeriesPoint& p) {
  json::object o;
  o["t"] = round_to(p.t, 1e-3);
  o["requests_per_second"] = rate_value(p.requests_per_second);
  o["errors_per_second"] = rate_value(p.errors_per_second);
  o["p50_seconds"] = or_null(p.p50_seconds, seconds_value);
  o["p99_seconds"] = or_null(p.p99_seconds, seconds_value);
  o["ttft_p50_seconds"] = or_null(p.ttft_p50_seconds, seconds_value);
  o["hit_rate"] = or_null(p.hit_rate, ratio_value);
  o["tokens_per_second"] = rate_value(p.tokens_per_second);
  o["cost_usd"] = p.cost_usd;
  o["saved_usd"] = p.saved_usd;
  return o;
}

// The stage with the most time in `totals`; empty when none has any.
std::string_view slowest_stage(const Totals& totals) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < totals.stage_ns.size(); ++i) {
    if (totals.stage_ns[i] > totals.stage_ns[best]) best = i;
  }
  return totals.stage_ns[best] > 0 ? gateway::kStageNames[best] : std::string_view();
}

template <class Map, class Fill>
json::array top(const Map& usage, std::string_view name_field, Fill fill) {
  std::vector<const typename Map::value_type*> rows;
  for (const auto& row : usage) {
    if (row.second.requests > 0) rows.push_back(&row);
  }
  // Most requests first; ties by name, so the order does not flicker.
  std::sort(rows.begin(), rows.end(), [](const auto* a, const auto* b) {
    if (a->second.requests != b->second.requests) return a->second.requests > b->second.requests;
    return a->first < b->first;
  });
  if (rows.size() > StatsHistory::kTop) rows.resize(StatsHistory::kTop);
  json::array out;
  for (const auto* row : rows) {
    json::object o;
    o[name_field] = row->first;
    o["requests"] = row->second.requests;
    fill(o, row->second);
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace

json::object window_json(const Window& window) {
  const Totals& d = window.totals;
  json::object o;
  o["seconds"] = round_to(window.seconds, 1e-3);
  o["requests"] = d.requests;
  o["requests_per_second"] = rate_value(per_second(d.requests, window.seconds));
  o["errors"] = d.errors;
  o["client_errors"] = d.client_errors;
  o["error_rate"] = or_null(ratio(d.errors, d.requests), ratio_value);
  o["client_error_rate"] = or_null(ratio(d.client_errors, d.requests), ratio_value);
  const auto bounds = latency_bounds_seconds();
  o["latency_seconds"] = json::object{
      {"p50", or_null(quantile(0.5, d.latency, bounds), seconds_value)},
      {"p90", or_null(quantile(0.9, d.latency, bounds), seconds_value)},
      {"p99", or_null(quantile(0.99, d.latency, bounds), seconds_value)},
      {"mean", or_null(d.latency.total() > 0
                           ? std::optional<double>(static_cast<double>(d.latency.sum) * kNano /
                                                   static_cast<double>(d.latency.total()))
                           : std::nullopt,
                       seconds_value)}};
  o["ttft_seconds"] = json::object{{"p50", or_null(quantile(0.5, d.ttft, bounds), seconds_value)},
                                   {"p99", or_null(quantile(0.99, d.ttft, bounds), seconds_value)},
                                   {"streams", d.ttft.total()}};
  o["cache"] = json::object{{"hits", d.hits},
                            {"misses", d.misses},
                            {"hit_rate", or_null(ratio(d.hits, d.hits + d.misses), ratio_value)}};
  o["coalesced"] = d.coalesced;
  o["rate_limited"] = d.rate_limited;
  o["retries"] = d.retries;
  o["tokens"] = json::object{{"input", d.input_tokens}, {"output", d.output_tokens}};
  o["tokens_per_second"] = rate_value(per_second(d.input_tokens + d.output_tokens, window.seconds));
  o["cost_usd"] = usd_value(d.cost_nano_usd);
  o["saved_usd"] = usd_value(d.saved_nano_usd);
  std::uint64_t staged = 0;
  for (std::uint64_t ns : d.stage_ns) staged += ns;
  json::object stages;
  for (std::size_t i = 0; i < gateway::kStageNames.size(); ++i) {
    const double seconds = static_cast<double>(d.stage_ns[i]) * kNano;
    stages[gateway::kStageNames[i]] = json::object{
        {"seconds_per_request",
         or_null(d.requests > 0 ? std::optional<double>(seconds / static_cast<double>(d.requests))
                                : std::nullopt,
                 seconds_value)},
        {"share", or_null(ratio(d.stage_ns[i], staged), ratio_value)}};
  }
  o["stages"] = std::move(stages);
  return o;
}

StatsHistory::StatsHistory(const metrics::MetricsRegistry& registry, const core::Clock& clock)
    : registry_(registry), clock_(clock), first_(read_sample(registry, clock)) {
  samples_.push_back(first_);
  usage_.push_back(read_usage(registry, clock));
}

void StatsHistory::tick() {
  StatsSample sample = read_sample(registry_, clock_);
  bool usage_due = false;
  {
    std::lock_guard lock(mutex_);
    usage_due = sample.at - usage_.back().at >= kUsageEvery;
  }
  std::optional<Usage> usage;
  if (usage_due) usage = read_usage(registry_, clock_);

  std::lock_guard lock(mutex_);
  points_.push_back(point_of(sample, samples_.back()));
  if (points_.size() > kPoints) points_.pop_front();
  samples_.push_back(std::move(sample));
  if (samples_.size() > kSamples) samples_.pop_front();
  if (usage) {
    usage_.push_back(std::move(*usage));
    if (usage_.size() > kUsageSnapshots) usage_.pop_front();
  }
}

const StatsSample& StatsHistory::reading_before(core::Clock::time_point now,
                                                std::chrono::milliseconds length) const {
  // Newest first: the first reading old enough is the newest such.
  for (auto it = samples_.rbegin(); it != samples_.rend(); ++it) {
    if (now - it->at >= length) return *it;
  }
  return samples_.front();
}

std::optional<Window> StatsHistory::window(std::chrono::milliseconds length) const {
  std::lock_guard lock(mutex_);
  if (samples_.size() < 2) return std::nullopt;
  const StatsSample& newest = samples_.back();
  const StatsSample& older = reading_before(newest.at, length);
  return Window{newest.totals.minus(older.totals), seconds_between(newest.at, older.at)};
}

json::object StatsHistory::render() const {
  const StatsSample now = read_sample(registry_, clock_);
  const Usage usage_now = read_usage(registry_, clock_);

  struct Named {
    std::string_view name;
    std::chrono::milliseconds length;
  };
  static constexpr Named kWindows[] = {{"1m", 1min}, {"5m", 5min}, {"15m", 15min}};
  std::vector<Window> windows;
  std::vector<SeriesPoint> points;
  Usage top_usage;
  {
    std::lock_guard lock(mutex_);
    for (const Named& w : kWindows) {
      const StatsSample& older = reading_before(now.at, w.length);
      windows.push_back(Window{now.totals.minus(older.totals), seconds_between(now.at, older.at)});
    }
    points.assign(points_.begin(), points_.end());
    const Usage* older = &usage_.front();
    for (auto it = usage_.rbegin(); it != usage_.rend(); ++it) {
      if (now.at - it->at >= 15min) {
        older = &*it;
        break;
      }
    }
    top_usage = usage_now.minus(*older);
    top_usage.at = older->at;
  }

  json::object body;
  body["uptime_seconds"] = round_to(seconds_between(now.at, first_.at), 1e-3);
  const std::string_view slowest =
      windows[0].totals.requests > 0 ? slowest_stage(windows[0].totals) : std::string_view();
  if (slowest.empty()) {
    body["slowest_stage"] = nullptr;
  } else {
    body["slowest_stage"] = slowest;
  }
  json::object w;
  for (std::size_t i = 0; i < windows.size(); ++i) w[kWindows[i].name] = window_json(windows[i]);
  body["windows"] = std::move(w);
  body["totals"] =
      window_json(Window{now.totals.minus(first_.totals), seconds_between(now.at, first_.at)});
  body["top_window_seconds"] = round_to(seconds_between(now.at, top_usage.at), 1e-3);
  body["top_models"] = top(top_usage.models, "model", [](json::object& o, const ModelUsage& u) {
    o["tokens"] = u.tokens;
    o["cost_usd"] = usd_value(u.cost_nano_usd);
  });
  body["top_keys"] = top(top_usage.keys, "key", [](json::object& o, const KeyUsage& u) {
    o["cost_usd"] = usd_value(u.cost_nano_usd);
  });
  json::array series;
  series.reserve(points.size());
  for (const SeriesPoint& p : points) series.push_back(point_json(p));
  body["series"] = json::object{{"interval_seconds", 1}, {"points", std::move(series)}};
  return body;
}

}  // namespace sluice::admin
