// A pipeline file (`sluice run PIPELINE.yaml`, docs/pipelines.md) read into values: its inputs,
// defaults and steps, each with the line it was written on, so that every later check (the plan's
// references and cycles) can point the user at the right place.
//
// Every problem of a file is found in one pass and reported together, each as
// "FILE:LINE: message" (PipelineError), as the configuration loader does. Templates are parsed
// here (syntax only); whether the names they use exist is the plan's check (pipeline_plan.h).
//
// Thread safety: the functions keep no state; the values are plain data.
#pragma once

#include <boost/json/object.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "batch/template.h"

namespace sluice::batch {

// Thrown by the pipeline's loaders and the plan; what() is every problem, one per line.
class PipelineError : public std::runtime_error {
 public:
  explicit PipelineError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

enum class StepType { kChat, kCompletion, kEmbedding, kImage };

// "chat", "completion", "embedding", "image".
std::string_view step_type_name(StepType type);
// The gateway endpoint a step of this type posts to ("/v1/chat/completions").
std::string_view step_target(StepType type);

struct Input {
  std::string name;
  int line = 0;
  bool required = false;  // written `NAME: null` in the file and not given with --set
  std::string text;       // what {{inputs.NAME}} renders: the value, a list's items joined by ", "
  std::optional<std::vector<std::string>> list;  // written as a YAML list (and not --set)
};

// What a foreach step fans out over: a YAML list written in place, or a template rendered when
// the step starts (pipeline_runner.h says how its text becomes items).
struct Foreach {
  int line = 0;
  std::optional<std::vector<std::string>> literal;
  Template source;  // when not literal
};

struct StepSpec {
  std::string name;
  int line = 0;
  StepType type = StepType::kChat;
  std::string model;
  std::optional<Template> system;  // chat only
  int system_line = 0;
  Template
      prompt;  // the user message (chat), the prompt (completion, image), the input (embedding)
  int prompt_line = 0;
  boost::json::object params;      // merged into the request body, in the order written
  std::vector<std::string> needs;  // step or parallel group names, as written
  int needs_line = 0;
  std::optional<Foreach> foreach;
  int max_workers = 0;  // foreach items in flight at once; 0: bounded by the pipeline's only
  std::chrono::milliseconds timeout{0};
  int retries = 0;
  std::string group;  // the parallel group the step is a member of; empty when none
};

struct GroupSpec {
  std::string name;
  int line = 0;
  std::vector<std::string> members;  // step names, in file order
  std::vector<std::string> needs;    // apply to every member
  int needs_line = 0;
};

inline constexpr int kDefaultMaxWorkers = 8;
inline constexpr std::chrono::milliseconds kDefaultStepTimeout{120000};
inline constexpr int kDefaultRetries = 2;
inline constexpr int kMaxRetries = 10;
inline constexpr int kMaxWorkersLimit = 1024;

struct PipelineSpec {
  std::string file;  // as given, for messages
  std::string name;  // `name:`, else the file's name without its extension
  std::vector<Input> inputs;
  int max_workers = kDefaultMaxWorkers;
  std::vector<StepSpec> steps;  // in file order, a group's members where the group is written
  std::vector<GroupSpec> groups;

  const StepSpec* find_step(std::string_view name) const;
  const GroupSpec* find_group(std::string_view name) const;
  const Input* find_input(std::string_view name) const;
  // "FILE:LINE: " for messages.
  std::string at(int line) const;
};

// --set NAME=VALUE, in the order given; a later one wins.
using InputOverrides = std::vector<std::pair<std::string, std::string>>;

// Parses a pipeline from `text`; `file` names it in messages. An override for an input the file
// does not declare, or a required input left without one, is an error too.
PipelineSpec parse_pipeline(std::string_view text, const std::string& file,
                            const InputOverrides& overrides = {});
// Reads the file at `path`; an unreadable file is the problem "PATH: cannot read: REASON".
PipelineSpec load_pipeline(const std::string& path, const InputOverrides& overrides = {});

}  // namespace sluice::batch
