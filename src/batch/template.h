// The prompt templates of a pipeline (`sluice run`, docs/pipelines.md): text with references in
// double braces, parsed once into pieces and rendered per request.
//
//   {{ inputs.NAME }}         an input's value (--set wins over the file)
//   {{ steps.NAME.output }}   an earlier step's output
//   {{ item }}, {{ index }}   in a foreach step: the current item, and its number (1-based)
//
// Whitespace inside the braces is allowed. There is no escape: a template cannot contain a
// literal "{{". A lone "}}" is plain text. Whether the names exist (inputs, steps, whether the
// step may use item) is checked by the plan (pipeline_plan.h), which knows the whole pipeline;
// this file checks only the syntax.
//
// Thread safety: values; parse_template and render are pure.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace sluice::batch {

struct TemplatePiece {
  enum class Kind { kText, kInput, kStepOutput, kItem, kIndex };
  Kind kind = Kind::kText;
  std::string text;  // kText: the literal text; kInput and kStepOutput: the name referred to
};

struct Template {
  std::vector<TemplatePiece> pieces;
  std::string source;  // as written, for messages and the dry-run's print

  bool empty() const { return pieces.empty(); }
  bool uses_item() const;  // {{item}} or {{index}}
  // The single reference the template consists of, surrounding whitespace aside; nullptr when it
  // has literal text or several references ("{{inputs.topics}}" -> that piece).
  const TemplatePiece* sole_reference() const;
};

// Parses `text`. Errors (kInvalidRequest) say what is wrong without saying where: the caller
// knows the file, line and field. "unclosed {{ ...", "empty {{ }}", "unknown reference
// {{ foo }} ...".
core::Result<Template> parse_template(std::string_view text);

// What a template's references stand for when it is rendered. A lookup that returns nullptr
// renders as nothing (the plan has checked every name, so that happens only in the dry run,
// where earlier steps have no output yet).
struct TemplateValues {
  std::function<const std::string*(std::string_view name)> input;
  std::function<const std::string*(std::string_view name)> step_output;
  const std::string* item = nullptr;
  std::size_t index = 0;  // 1-based; rendered only when item is set
};

std::string render(const Template& t, const TemplateValues& values);

// Whether `name` is usable as a step, group or input name: letters, digits, '_' and '-', so that
// it is a file name and reads unambiguously inside a reference.
bool is_template_name(std::string_view name);

}  // namespace sluice::batch
