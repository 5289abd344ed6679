#include "admin/stats_sample.h"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "api/endpoint.h"

namespace sluice::admin {

namespace {

using Family = metrics::MetricsRegistry::FamilyTotals;

// The position of label `name` in the family's label values; nullopt when it has none.
std::optional<std::size_t> label_index(const Family& family, std::string_view name) {
  for (std::size_t i = 0; i < family.label_names.size(); ++i) {
    if (family.label_names[i] == name) return i;
  }
  return std::nullopt;
}

std::string_view label(const metrics::MetricsRegistry::SeriesTotals& series,
                       std::optional<std::size_t> index) {
  return index && *index < series.labels->size() ? std::string_view((*series.labels)[*index])
                                                 : std::string_view();
}

bool is_inference(std::string_view endpoint) {
  for (auto e : {api::Endpoint::kChatCompletions, api::Endpoint::kCompletions,
                 api::Endpoint::kEmbeddings, api::Endpoint::kImageGenerations}) {
    if (endpoint == api::endpoint_name(e)) return true;
  }
  return false;
}

int parse_status(std::string_view text) {
  int status = 0;
  std::from_chars(text.data(), text.data() + text.size(), status);
  return status;
}

// Sums a counter family's series that `keep` accepts.
template <class Keep>
std::uint64_t sum_counter(const std::optional<Family>& family, Keep keep) {
  std::uint64_t sum = 0;
  if (!family) return 0;
  for (const auto& series : family->series) {
    if (keep(series)) sum += series.values.at(0);
  }
  return sum;
}

// Adds up a histogram family's series that `keep` accepts, bucket by bucket.
template <class Keep>
BucketCounts sum_histogram(const std::optional<Family>& family, Keep keep) {
  BucketCounts out;
  out.counts.assign(latency_bounds_seconds().size() + 1, 0);
  if (!family || family->type != metrics::MetricType::kHistogram) return out;
  const std::size_t n = family->bounds.size();
  out.counts.assign(n + 1, 0);
  for (const auto& series : family->series) {
    if (!keep(series)) continue;
    for (std::size_t i = 0; i <= n; ++i) out.counts[i] += series.values[i];
    out.sum += series.values[n + 1];
  }
  return out;
}

std::uint64_t difference(std::uint64_t newer, std::uint64_t older) {
  return newer > older ? newer - older : 0;
}

}  // namespace

std::span<const double> latency_bounds_seconds() {
  static const std::vector<double> bounds = metrics::latency_bounds();
  return bounds;
}

std::uint64_t BucketCounts::total() const {
  std::uint64_t n = 0;
  for (std::uint64_t c : counts) n += c;
  return n;
}

BucketCounts BucketCounts::minus(const BucketCounts& older) const {
  BucketCounts out;
  out.counts.resize(counts.size());
  for (std::size_t i = 0; i < counts.size(); ++i) {
    out.counts[i] = difference(counts[i], i < older.counts.size() ? older.counts[i] : 0);
  }
  out.sum = difference(sum, older.sum);
  return out;
}

std::optional<double> quantile(double q, const BucketCounts& buckets,
                               std::span<const double> bounds) {
  const std::uint64_t n = buckets.total();
  if (n == 0 || bounds.empty()) return std::nullopt;
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(n);
  double below = 0;  // observations in the buckets before this one
  for (std::size_t i = 0; i < buckets.counts.size(); ++i) {
    const auto count = static_cast<double>(buckets.counts[i]);
    if (count > 0 && below + count >= rank) {
      if (i >= bounds.size()) return bounds.back();  // the overflow: no upper bound to go to
      const double lower = i == 0 ? 0 : bounds[i - 1];
      return lower + (bounds[i] - lower) * std::max(0.0, rank - below) / count;
    }
    below += count;
  }
  return bounds.back();
}

Totals Totals::minus(const Totals& older) const {
  Totals d;
  d.requests = difference(requests, older.requests);
  d.errors = difference(errors, older.errors);
  d.client_errors = difference(client_errors, older.client_errors);
  d.hits = difference(hits, older.hits);
  d.misses = difference(misses, older.misses);
  d.coalesced = difference(coalesced, older.coalesced);
  d.rate_limited = difference(rate_limited, older.rate_limited);
  d.retries = difference(retries, older.retries);
  d.input_tokens = difference(input_tokens, older.input_tokens);
  d.output_tokens = difference(output_tokens, older.output_tokens);
  d.cost_nano_usd = difference(cost_nano_usd, older.cost_nano_usd);
  d.saved_nano_usd = difference(saved_nano_usd, older.saved_nano_usd);
  d.latency = latency.minus(older.latency);
  d.ttft = ttft.minus(older.ttft);
  for (std::size_t i = 0; i < stage_ns.size(); ++i) {
    d.stage_ns[i] = difference(stage_ns[i], older.stage_ns[i]);
  }
  return d;
}

Usage Usage::minus(const Usage& older) const {
  Usage d;
  d.at = at;
  for (const auto& [name, u] : models) {
    ModelUsage o;
    if (auto it = older.models.find(name); it != older.models.end()) o = it->second;
    ModelUsage diff{difference(u.requests, o.requests), difference(u.tokens, o.tokens),
                    difference(u.cost_nano_usd, o.cost_nano_usd)};
    if (diff.requests > 0 || diff.tokens > 0 || diff.cost_nano_usd > 0) d.models[name] = diff;
  }
  for (const auto& [id, u] : keys) {
    KeyUsage o;
    if (auto it = older.keys.find(id); it != older.keys.end()) o = it->second;
    KeyUsage diff{difference(u.requests, o.requests), difference(u.cost_nano_usd, o.cost_nano_usd)};
    if (diff.requests > 0 || diff.cost_nano_usd > 0) d.keys[id] = diff;
  }
  return d;
}

StatsSample read_sample(const metrics::MetricsRegistry& registry, const core::Clock& clock) {
  StatsSample sample;
  sample.at = clock.now();
  sample.unix_ms = clock.unix_ms();
  Totals& t = sample.totals;

  if (auto requests = registry.totals("sluice_requests_total")) {
    const auto endpoint = label_index(*requests, "endpoint");
    const auto status = label_index(*requests, "status");
    const auto cache = label_index(*requests, "cache");
    for (const auto& series : requests->series) {
      if (!is_inference(label(series, endpoint))) continue;
      const std::uint64_t n = series.values.at(0);
      t.requests += n;
      const int code = parse_status(label(series, status));
      if (code >= 500) t.errors += n;
      if (code >= 400 && code < 500) t.client_errors += n;
      const std::string_view result = label(series, cache);
      if (result == "hit") t.hits += n;
      if (result == "miss") t.misses += n;
    }
  }
  auto all = [](const auto&) { return true; };
  t.coalesced = sum_counter(registry.totals("sluice_coalesced_requests_total"), all);
  t.rate_limited = sum_counter(registry.totals("sluice_rate_limited_requests_total"), all);
  t.retries = sum_counter(registry.totals("sluice_retries_total"), all);
  t.cost_nano_usd = sum_counter(registry.totals("sluice_cost_usd_total"), all);
  t.saved_nano_usd = sum_counter(registry.totals("sluice_saved_usd_total"), all);
  if (auto tokens = registry.totals("sluice_tokens_total")) {
    const auto kind = label_index(*tokens, "kind");
    t.input_tokens = sum_counter(tokens, [&](const auto& s) { return label(s, kind) == "prompt"; });
    t.output_tokens =
        sum_counter(tokens, [&](const auto& s) { return label(s, kind) == "completion"; });
  }
  {
    auto duration = registry.totals("sluice_request_duration_seconds");
    const auto endpoint = duration ? label_index(*duration, "endpoint") : std::nullopt;
    t.latency =
        sum_histogram(duration, [&](const auto& s) { return is_inference(label(s, endpoint)); });
  }
  t.ttft = sum_histogram(registry.totals("sluice_time_to_first_token_seconds"), all);
  if (auto stages = registry.totals("sluice_stage_seconds_total")) {
    const auto stage = label_index(*stages, "stage");
    for (const auto& series : stages->series) {
      const std::string_view name = label(series, stage);
      for (std::size_t i = 0; i < gateway::kStageNames.size(); ++i) {
        if (gateway::kStageNames[i] == name) t.stage_ns[i] += series.values.at(0);
      }
    }
  }
  return sample;
}

Usage read_usage(const metrics::MetricsRegistry& registry, const core::Clock& clock) {
  Usage usage;
  usage.at = clock.now();
  if (auto requests = registry.totals("sluice_requests_total")) {
    const auto endpoint = label_index(*requests, "endpoint");
    const auto model = label_index(*requests, "model");
    for (const auto& series : requests->series) {
      const std::string_view name = label(series, model);
      if (name.empty() || !is_inference(label(series, endpoint))) continue;
      usage.models[std::string(name)].requests += series.values.at(0);
    }
  }
  if (auto tokens = registry.totals("sluice_tokens_total")) {
    const auto model = label_index(*tokens, "model");
    const auto kind = label_index(*tokens, "kind");
    for (const auto& series : tokens->series) {
      const std::string_view k = label(series, kind);
      if (k != "prompt" && k != "completion") continue;  // "cached" is part of the prompt
      usage.models[std::string(label(series, model))].tokens += series.values.at(0);
    }
  }
  if (auto cost = registry.totals("sluice_cost_usd_total")) {
    const auto model = label_index(*cost, "model");
    for (const auto& series : cost->series) {
      usage.models[std::string(label(series, model))].cost_nano_usd += series.values.at(0);
    }
  }
  if (auto requests = registry.totals("sluice_key_requests_total")) {
    const auto key = label_index(*requests, "key");
    for (const auto& series : requests->series) {
      usage.keys[std::string(label(series, key))].requests += series.values.at(0);
    }
  }
  if (auto cost = registry.totals("sluice_key_cost_usd_total")) {
    const auto key = label_index(*cost, "key");
    for (const auto& series : cost->series) {
      usage.keys[std::string(label(series, key))].cost_nano_usd += series.values.at(0);
    }
  }
  return usage;
}

}  // namespace sluice::admin
