// A pipeline's steps as a graph (DAG): which steps each one waits for, checked for names that do
// not exist and for cycles, and grouped in waves for the dry run's print.
//
// A step waits for
//   - every step its `needs:` names, and every member of a parallel group it names;
//   - its group's `needs:`, when it is a member of a parallel group;
//   - every step its templates refer to ({{steps.X.output}} in prompt, system or foreach).
// A template may refer to a step written earlier in the file, or to one its `needs:` names
// (directly or through a group): a reference to a later step that the step does not say it needs
// is an error, so that reading the file top to bottom tells what comes first.
//
// Waves are levels: wave 1 holds the steps that wait for nothing, wave N those whose latest
// dependency is in wave N-1. The runner does not run by waves (a step starts as soon as its own
// dependencies are done), but no step starts before the steps of the waves above it that it
// depends on, so the waves are a faithful picture of what may run side by side.
//
// Thread safety: build_plan is pure; a Plan is immutable once built.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "batch/pipeline_spec.h"

namespace sluice::batch {

struct PlanStep {
  std::vector<std::size_t> deps;        // indices into Plan::spec.steps, sorted, unique
  std::vector<std::size_t> dependants;  // the steps that wait for this one, sorted
  int wave = 0;                         // 0-based
};

struct Plan {
  PipelineSpec spec;
  std::vector<PlanStep> steps;                  // parallel to spec.steps
  std::vector<std::vector<std::size_t>> waves;  // step indices per wave, in file order

  std::size_t index_of(std::string_view step) const;  // spec.steps.size() when unknown
};

// Checks every reference and `needs:` name, and that the steps form no cycle; throws
// PipelineError with every problem ("FILE:LINE: ..."). A cycle is named in the order the steps
// wait for each other: "a -> b -> a" (a waits for b, which waits for a).
Plan build_plan(PipelineSpec spec);

// The waves as the dry run prints them, one line each:
//   "1. outline"
//   "2. intro, cover, sections ×? (foreach over steps.outline.output) ‖ parallel"
// A foreach step shows its item count when it is known before the run (a list, an input), "×?"
// otherwise.
std::vector<std::string> describe_waves(const Plan& plan);

// The items of a foreach whose list is known before the run (a literal list, or a single
// {{inputs.NAME}}); nullopt when it depends on a step's output. Also used by the runner.
std::optional<std::vector<std::string>> known_items(const PipelineSpec& spec, const StepSpec& step);

// Splits a rendered foreach source into items: a JSON array's elements (strings as they are,
// other values as their JSON), else the text's non-empty lines with list markers ("1.", "2)",
// "-", "*", "•") and surrounding whitespace removed.
std::vector<std::string> split_items(std::string_view text);

}  // namespace sluice::batch
