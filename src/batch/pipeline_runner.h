// The pipeline scheduler (`sluice run`, docs/pipelines.md): runs every step of a plan as soon as
// the steps it waits for are done, all such steps at once, with at most the pipeline's
// `max_workers` requests in flight (a foreach step's items count one each, and its own
// `max_workers` bounds them further).
//
// Requests go through a StepExecutor: a blocking call from any of the runner's threads. The CLI's
// posts to the gateway (batch::GatewayClient::post); the unit tests' is a fake that sleeps.
//
// A request that gets no answer, a 408, a 429 or a 5xx is tried again up to the step's `retries`
// times, after an exponential backoff with jitter (a Retry-After, when given, is waited out
// instead, up to backoff_max). A step fails when a request of it fails for good (for a foreach
// step: when any item does; the other items still run). The steps that wait for a failed step,
// directly or not, are skipped; the others still run, and the run is not ok.
//
// Once `stop` is set (sluice run's Ctrl-C), nothing new is sent and no retry waited for: the
// requests in flight end, and every step not finished is skipped as interrupted, its finished
// items kept.
//
// Thread safety: run_pipeline blocks its caller and runs its own threads (max_workers of them);
// the executor is called from them concurrently, on_step_done from them one call at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "batch/gateway_client.h"
#include "batch/pipeline_plan.h"

namespace sluice::batch {

struct StepRequest {
  std::string step;
  std::size_t item = 0;     // a foreach step's item, 1-based; 0 for a step without foreach
  std::string_view target;  // "/v1/chat/completions", ...
  std::string body;
  std::chrono::milliseconds timeout{0};
};

// Sends one request and returns what came back; never throws. Reply is the gateway client's.
using StepExecutor = std::function<Reply(const StepRequest&)>;

enum class StepStatus { kOk, kFailed, kSkipped };
std::string_view step_status_name(StepStatus status);  // "ok", "failed", "skipped"

// One request's outcome: a step without foreach has one, a foreach step one per item.
struct ItemResult {
  bool ok = false;
  std::string output;   // what {{steps.NAME.output}} sees: the text, the JSON, the file's name
  std::string file;     // where it is written, relative to the output directory
  std::string content;  // the file's bytes: the text, the JSON, the image
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  double cost_usd = 0;                   // 0 for an answer from the cache
  std::string cache;                     // the last attempt's x-sluice-cache
  std::vector<std::string> request_ids;  // each attempt's x-request-id
  int attempts = 0;
  double latency_ms = 0;  // the first attempt's start to the last answer, backoff included
  std::string error;
};

struct StepResult {
  StepStatus status = StepStatus::kSkipped;
  std::string output;  // a foreach step's: its items' outputs joined by a blank line
  std::vector<ItemResult> items;
  std::string error;        // failed: the first failure; skipped: why
  double started_ms = -1;   // since the run started; -1 when it never started
  double finished_ms = -1;  // since the run started
};

struct RunResult {
  std::vector<StepResult> steps;  // parallel to the plan's steps
  std::int64_t started_unix_ms = 0;
  std::int64_t finished_unix_ms = 0;
  double duration_ms = 0;
  bool interrupted = false;  // `stop` ended the run early

  bool ok() const;
};

struct RunnerOptions {
  std::chrono::milliseconds backoff_base{500};  // the first retry's delay, doubled after each
  std::chrono::milliseconds backoff_max{30000};
  // USD for an answer of `step` with these token counts; none: every cost is 0.
  std::function<double(const StepSpec& step, std::int64_t prompt, std::int64_t completion)> cost;
  // Called once for every step as it ends (ok, failed or skipped), one call at a time.
  std::function<void(const StepSpec& step, const StepResult& result)> on_step_done;
  // Polled (every 100 ms at most): once true, the run winds down (above). May be null.
  const std::atomic<bool>* stop = nullptr;
};

RunResult run_pipeline(const Plan& plan, const StepExecutor& execute,
                       const RunnerOptions& options = {});

// Where an item's answer is written: "NAME.EXT" for a step without foreach, "NAME/001.EXT" for
// item 1 of a foreach step (at least three digits, more when there are 1000 items or more).
std::string item_file_name(const StepSpec& step, std::size_t item, std::size_t count,
                           std::string_view extension);

}  // namespace sluice::batch
