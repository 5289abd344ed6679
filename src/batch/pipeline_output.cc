#include "batch/pipeline_output.h"

#include <boost/json.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <system_error>

#include "core/asio.h"
#include "core/utc.h"

namespace sluice::batch {

namespace {

namespace fs = std::filesystem;

// Every extension an answer may be written with (step_request.h).
constexpr std::string_view kExtensions[] = {"txt", "json", "png", "jpg", "webp"};

core::Error io_error(const fs::path& path, std::string_view what, const std::error_code& ec) {
  return core::Error(core::Errc::kInternal,
                     path.string() + ": cannot " + std::string(what) + ": " + ec.message());
}

// Milliseconds to one decimal: enough for a human, and stable in tests.
double rounded(double ms) { return std::round(ms * 10) / 10; }

bool saved(const ItemResult& item) { return item.cache == "hit" || item.cache == "coalesced"; }

// The step's x-sluice-cache: its one request's, or for a foreach the value all its items share,
// "mixed" when they differ; null when no answer said.
json::value cache_summary(const StepResult& r) {
  std::string value;
  bool first = true;
  for (const ItemResult& item : r.items) {
    if (item.attempts == 0) continue;
    if (first) {
      value = item.cache;
      first = false;
    } else if (item.cache != value) {
      return "mixed";
    }
  }
  if (value.empty()) return nullptr;
  return json::string(value);
}

}  // namespace

std::vector<std::string> step_files(const StepResult& result) {
  std::vector<std::string> files;
  for (const ItemResult& item : result.items) {
    if (item.ok) files.push_back(item.file);
  }
  return files;
}

core::Result<void> OutputDir::create() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return io_error(dir_, "create the output directory", ec);
  return core::ok();
}

core::Result<void> OutputDir::write_file(const fs::path& path, std::string_view content) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec) return io_error(path.parent_path(), "create the directory", ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (out) out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) {
    return core::Error(core::Errc::kInternal,
                       path.string() + ": cannot write: " + std::strerror(errno));
  }
  return core::ok();
}

core::Result<void> OutputDir::write_step(const StepSpec& step, const StepResult& result) {
  std::error_code ec;
  for (std::string_view ext : kExtensions) {
    fs::path old = dir_ / (step.name + "." + std::string(ext));
    fs::remove(old, ec);
    if (ec) return io_error(old, "remove the earlier run's output", ec);
  }
  fs::remove_all(dir_ / step.name, ec);
  if (ec) return io_error(dir_ / step.name, "remove the earlier run's outputs", ec);
  for (const ItemResult& item : result.items) {
    if (!item.ok) continue;
    auto written = write_file(dir_ / item.file, item.content);
    if (!written) return written;
  }
  return core::ok();
}

core::Result<void> OutputDir::write_manifest(const Plan& plan, const RunResult& result) {
  fs::path final_path = dir_ / "manifest.json";
  fs::path temp_path = dir_ / "manifest.json.tmp";
  auto written = write_file(temp_path, manifest_json(plan, result) + "\n");
  if (!written) return written;
  std::error_code ec;
  fs::rename(temp_path, final_path, ec);
  if (ec) return io_error(final_path, "write", ec);
  return core::ok();
}

std::string manifest_json(const Plan& plan, const RunResult& result) {
  const PipelineSpec& spec = plan.spec;
  json::object m;
  m["pipeline"] = spec.name;
  m["file"] = spec.file;
  m["status"] = result.interrupted ? "interrupted" : result.ok() ? "ok" : "failed";
  json::object inputs;
  for (const Input& input : spec.inputs) {
    if (input.list) {
      json::array items;
      for (const std::string& item : *input.list) items.emplace_back(item);
      inputs[input.name] = std::move(items);
    } else {
      inputs[input.name] = input.text;
    }
  }
  m["inputs"] = std::move(inputs);
  m["started"] = core::utc_rfc3339(result.started_unix_ms);
  m["finished"] = core::utc_rfc3339(result.finished_unix_ms);
  m["duration_ms"] = rounded(result.duration_ms);

  std::int64_t total_prompt = 0, total_completion = 0, total_requests = 0, total_hits = 0;
  double total_cost = 0;
  json::array steps;
  for (std::size_t i = 0; i < spec.steps.size() && i < result.steps.size(); ++i) {
    const StepSpec& step = spec.steps[i];
    const StepResult& r = result.steps[i];
    json::object s;
    s["name"] = step.name;
    s["type"] = step_type_name(step.type);
    s["model"] = step.model;
    s["status"] = step_status_name(r.status);
    json::array files;
    for (const std::string& f : step_files(r)) files.emplace_back(f);
    s["files"] = std::move(files);
    std::int64_t prompt = 0, completion = 0, hits = 0, attempts = 0;
    double cost = 0;
    json::array ids;
    for (const ItemResult& item : r.items) {
      prompt += item.prompt_tokens;
      completion += item.completion_tokens;
      cost += item.cost_usd;
      hits += saved(item) ? 1 : 0;
      attempts += item.attempts;
      for (const std::string& id : item.request_ids) ids.emplace_back(id);
    }
    if (step.foreach) {
      s["items"] = static_cast<std::int64_t>(r.items.size());
      s["cache_hits"] = hits;
    }
    s["prompt_tokens"] = prompt;
    s["completion_tokens"] = completion;
    s["cost_usd"] = cost;
    s["cache"] = cache_summary(r);
    s["latency_ms"] = r.started_ms >= 0 ? rounded(r.finished_ms - r.started_ms) : 0.0;
    s["attempts"] = attempts;
    s["request_ids"] = std::move(ids);
    s["error"] = r.error.empty() ? json::value(nullptr) : json::value(r.error);
    steps.push_back(std::move(s));
    total_prompt += prompt;
    total_completion += completion;
    total_cost += cost;
    total_hits += hits;
    total_requests += attempts;
  }
  m["totals"] = json::object{{"prompt_tokens", total_prompt},
                             {"completion_tokens", total_completion},
                             {"cost_usd", total_cost},
                             {"requests", total_requests},
                             {"cache_hits", total_hits}};
  m["steps"] = std::move(steps);
  return json::serialize(m);
}

}  // namespace sluice::batch
