// Where a pipeline run leaves its results (`sluice run -o DIR`): one file per step (NAME.txt,
// NAME.json, NAME.png), a folder per foreach step (NAME/001.txt, ...), and manifest.json, which
// says what ran, how it went and where each output is.
//
// A step's files are written as soon as it ends, so a run that is stopped keeps what it had
// finished; what an earlier run left under the same step's names is removed first, so the
// directory never mixes two runs' outputs of one step. The manifest is written last, through a
// temporary file and a rename, so it is either the previous run's or this one's, whole.
//
// Thread safety: an OutputDir is used by one thread at a time (the runner's on_step_done calls
// are serialized); manifest_json is pure.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "batch/pipeline_runner.h"
#include "core/error.h"

namespace sluice::batch {

class OutputDir {
 public:
  explicit OutputDir(std::filesystem::path dir) : dir_(std::move(dir)) {}

  const std::filesystem::path& path() const { return dir_; }

  // Creates the directory (and its parents); the error names it and says why.
  core::Result<void> create();
  // Removes the step's files from an earlier run, then writes this run's (nothing for a step
  // that failed before any item succeeded, or was skipped; a failed foreach keeps the items that
  // succeeded).
  core::Result<void> write_step(const StepSpec& step, const StepResult& result);
  core::Result<void> write_manifest(const Plan& plan, const RunResult& result);

 private:
  core::Result<void> write_file(const std::filesystem::path& path, std::string_view content);
  std::filesystem::path dir_;
};

// The manifest's JSON text:
//   {"pipeline":..., "file":..., "status":"ok"|"failed", "inputs":{...}, "started":RFC 3339,
//    "finished":..., "duration_ms":..., "totals":{...}, "steps":[{"name":..., "type":...,
//    "model":..., "status":..., "files":[...], "prompt_tokens":..., "completion_tokens":...,
//    "cost_usd":..., "cache":..., "latency_ms":..., "request_ids":[...], "error":...}, ...]}
std::string manifest_json(const Plan& plan, const RunResult& result);

// The files a step's result is written to, relative to the directory.
std::vector<std::string> step_files(const StepResult& result);

}  // namespace sluice::batch
