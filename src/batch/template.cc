#include "batch/template.h"

#include <algorithm>

#include "core/strings.h"

namespace sluice::batch {

namespace {

constexpr std::string_view kOpen = "{{";
constexpr std::string_view kClose = "}}";

core::Error invalid(std::string message) {
  return core::Error(core::Errc::kInvalidRequest, std::move(message));
}

// What a user may write inside the braces, for the message about anything else.
constexpr std::string_view kKnownForms =
    "use {{inputs.NAME}}, {{steps.NAME.output}}, {{item}} or {{index}}";

// Splits "steps.outline.output" at its dots.
std::vector<std::string_view> split_dots(std::string_view s) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

core::Result<TemplatePiece> parse_reference(std::string_view expr) {
  using Kind = TemplatePiece::Kind;
  std::string shown = "{{ " + std::string(expr) + " }}";
  if (expr == "item") return TemplatePiece{Kind::kItem, {}};
  if (expr == "index") return TemplatePiece{Kind::kIndex, {}};
  auto parts = split_dots(expr);
  if (parts[0] == "inputs") {
    if (parts.size() != 2 || !is_template_name(parts[1])) {
      return invalid("bad reference " + shown + ": an input is written {{inputs.NAME}}");
    }
    return TemplatePiece{Kind::kInput, std::string(parts[1])};
  }
  if (parts[0] == "steps") {
    if (parts.size() < 2 || !is_template_name(parts[1])) {
      return invalid("bad reference " + shown + ": a step's output is written " +
                     "{{steps.NAME.output}}");
    }
    if (parts.size() != 3 || parts[2] != "output") {
      return invalid("bad reference " + shown + ": a step has only an output, written {{steps." +
                     std::string(parts[1]) + ".output}}");
    }
    return TemplatePiece{Kind::kStepOutput, std::string(parts[1])};
  }
  return invalid("unknown reference " + shown + ": " + std::string(kKnownForms));
}

}  // namespace

bool is_template_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

bool Template::uses_item() const {
  return std::any_of(pieces.begin(), pieces.end(), [](const TemplatePiece& p) {
    return p.kind == TemplatePiece::Kind::kItem || p.kind == TemplatePiece::Kind::kIndex;
  });
}

const TemplatePiece* Template::sole_reference() const {
  const TemplatePiece* found = nullptr;
  for (const TemplatePiece& p : pieces) {
    if (p.kind == TemplatePiece::Kind::kText) {
      if (!core::trim(p.text).empty()) return nullptr;
      continue;
    }
    if (found != nullptr) return nullptr;
    found = &p;
  }
  return found;
}

core::Result<Template> parse_template(std::string_view text) {
  Template t;
  t.source = std::string(text);
  std::size_t pos = 0;
  auto add_text = [&](std::string_view s) {
    if (s.empty()) return;
    if (!t.pieces.empty() && t.pieces.back().kind == TemplatePiece::Kind::kText) {
      t.pieces.back().text += s;
    } else {
      t.pieces.push_back(TemplatePiece{TemplatePiece::Kind::kText, std::string(s)});
    }
  };
  while (pos < text.size()) {
    std::size_t open = text.find(kOpen, pos);
    if (open == std::string_view::npos) {
      add_text(text.substr(pos));
      break;
    }
    add_text(text.substr(pos, open - pos));
    std::size_t close = text.find(kClose, open + kOpen.size());
    // A "{{" before the closing braces means the first one was never closed.
    std::size_t next_open = text.find(kOpen, open + kOpen.size());
    if (close == std::string_view::npos ||
        (next_open != std::string_view::npos && next_open < close)) {
      std::string_view rest = text.substr(open, 24);
      return invalid("unclosed {{ at \"" + std::string(rest) +
                     (text.size() - open > 24 ? "..." : "") + "\" (a }} is missing)");
    }
    std::string_view expr =
        core::trim(text.substr(open + kOpen.size(), close - open - kOpen.size()));
    if (expr.empty()) return invalid("empty {{ }}: " + std::string(kKnownForms));
    auto piece = parse_reference(expr);
    if (!piece) return piece.error();
    t.pieces.push_back(std::move(*piece));
    pos = close + kClose.size();
  }
  return t;
}

std::string render(const Template& t, const TemplateValues& values) {
  std::string out;
  for (const TemplatePiece& p : t.pieces) {
    switch (p.kind) {
      case TemplatePiece::Kind::kText:
        out += p.text;
        break;
      case TemplatePiece::Kind::kInput:
        if (values.input) {
          if (const std::string* v = values.input(p.text)) out += *v;
        }
        break;
      case TemplatePiece::Kind::kStepOutput:
        if (values.step_output) {
          if (const std::string* v = values.step_output(p.text)) out += *v;
        }
        break;
      case TemplatePiece::Kind::kItem:
        if (values.item != nullptr) out += *values.item;
        break;
      case TemplatePiece::Kind::kIndex:
        if (values.item != nullptr) out += std::to_string(values.index);
        break;
    }
  }
  return out;
}

}  // namespace sluice::batch
