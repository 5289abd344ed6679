#include "batch/pipeline_spec.h"

// yaml-cpp's node code trips GCC 12's -Wdangling-pointer once inlined at -O2 (a false positive
// in the library's own headers), as in config/loader.cc.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#include <yaml-cpp/yaml.h>
#pragma GCC diagnostic pop
#include <boost/json.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>

#include "config/loader.h"
#include "core/asio.h"
#include "core/strings.h"

namespace sluice::batch {

namespace {

using config::describe;

constexpr std::string_view kTopLevelKeys[] = {"name", "inputs", "defaults", "max_workers", "steps"};
constexpr std::string_view kDefaultsKeys[] = {"model", "timeout", "retries", "params"};
constexpr std::string_view kStepKeys[] = {"name",    "type",    "model",      "system",
                                          "prompt",  "params",  "needs",      "foreach",
                                          "timeout", "retries", "max_workers"};
constexpr std::string_view kGroupKeys[] = {"name", "needs", "steps"};
constexpr std::string_view kStepTypes[] = {"chat", "completion", "embedding", "image"};
// A step's output file would overwrite the run's manifest.
constexpr std::string_view kReservedNames[] = {"manifest"};

std::string join(std::span<const std::string_view> words) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += i + 1 == words.size() ? " or " : ", ";
    out += words[i];
  }
  return out;
}

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

int line_of(const YAML::Node& node) {
  const YAML::Mark m = node.Mark();
  return m.is_null() ? 1 : m.line + 1;
}

// One key of a mapping; the line is the value's, or the key's when the value is empty (yaml-cpp
// places an empty value at the start of the next line).
struct Entry {
  std::string key;
  YAML::Node value;
  int line = 0;
};

// A plain (unquoted) YAML scalar as JSON: YAML 1.2's core schema for booleans and numbers, so
// `temperature: 0.2` is a number and `stop: "0.2"` a string.
json::value plain_scalar(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  std::string_view digits = s;
  if (!digits.empty() && digits[0] == '+') digits.remove_prefix(1);
  std::int64_t i = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), i);
  if (ec == std::errc() && end == digits.data() + digits.size() && !digits.empty()) return i;
  if (!s.empty() && s.find_first_of("0123456789") != std::string::npos &&
      s.find_first_not_of("0123456789+-.eE") == std::string::npos) {
    char* stop = nullptr;
    double d = std::strtod(s.c_str(), &stop);
    if (stop == s.c_str() + s.size()) return d;
  }
  return json::string(s);
}

class Parser {
 public:
  Parser(const std::string& file, const InputOverrides& overrides)
      : file_(file), overrides_(overrides) {}

  PipelineSpec parse(std::string_view text) {
    PipelineSpec spec;
    spec.file = file_;
    spec.name = std::filesystem::path(file_).stem().string();
    try {
      std::vector<YAML::Node> documents = YAML::LoadAll(std::string(text));
      if (documents.size() > 1) {
        report(line_of(documents[1]), "only one YAML document is allowed in a pipeline file");
      }
      if (documents.empty() || documents[0].IsNull()) {
        report(1, "the file is empty: a pipeline needs at least `steps:`");
      } else {
        read_pipeline(documents[0], spec);
      }
    } catch (const YAML::Exception& e) {
      report(e.mark.is_null() ? 1 : e.mark.line + 1, e.msg);
    }
    if (!problems_.empty()) {
      std::stable_sort(problems_.begin(), problems_.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      std::vector<std::string> out;
      for (auto& p : problems_) out.push_back(std::move(p.second));
      throw PipelineError(std::move(out));
    }
    return spec;
  }

 private:
  void report(int line, std::string_view message) {
    problems_.emplace_back(line, file_ + ":" + std::to_string(line) + ": " + std::string(message));
  }
  // Problems that belong to no line of the file (--set) sort first.
  void report_unplaced(std::string message) { problems_.emplace_back(0, std::move(message)); }

  // The keys of a mapping, checked against `known`; nullopt (after reporting) when `node` is not
  // a mapping.
  std::optional<std::vector<Entry>> mapping(const YAML::Node& node, int line,
                                            const std::string& where,
                                            std::span<const std::string_view> known) {
    if (!node.IsMap()) {
      report(line, where + ": expected a mapping (key: value), got " + std::string(describe(node)));
      return std::nullopt;
    }
    std::vector<Entry> entries;
    for (auto it = node.begin(); it != node.end(); ++it) {
      // Copies, not references: yaml-cpp's operator-> returns a temporary proxy.
      YAML::Node key = it->first;
      YAML::Node value = it->second;
      if (!key.IsScalar()) {
        report(line_of(key), where + ": keys must be plain strings");
        continue;
      }
      const std::string& name = key.Scalar();
      int at = value.IsNull() ? line_of(key) : line_of(value);
      if (std::any_of(entries.begin(), entries.end(),
                      [&](const Entry& e) { return e.key == name; })) {
        report(line_of(key), where + ": duplicate key " + quote(name));
        continue;
      }
      if (!known.empty() && std::find(known.begin(), known.end(), name) == known.end()) {
        report(line_of(key),
               where + ": unknown key " + quote(name) + " (expected " + join(known) + ")");
        continue;
      }
      entries.push_back(Entry{name, value, at});
    }
    return entries;
  }

  static const Entry* find(const std::vector<Entry>& entries, std::string_view key) {
    for (const Entry& e : entries) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }

  std::optional<std::string> string(const Entry& e, const std::string& where) {
    if (!e.value.IsScalar()) {
      report(e.line,
             where + ": " + e.key + ": expected a string, got " + std::string(describe(e.value)));
      return std::nullopt;
    }
    return e.value.Scalar();
  }

  std::optional<int> integer(const Entry& e, const std::string& where, int min, int max) {
    auto s = string(e, where);
    if (!s) return std::nullopt;
    int v = 0;
    auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc() || end != s->data() + s->size() || v < min || v > max) {
      report(e.line, where + ": " + e.key + ": expected a whole number from " +
                         std::to_string(min) + " to " + std::to_string(max) + ", got " + quote(*s));
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::chrono::milliseconds> duration(const Entry& e, const std::string& where) {
    auto s = string(e, where);
    if (!s) return std::nullopt;
    auto d = core::parse_duration(*s);
    if (!d || d->count() <= 0) {
      report(e.line,
             where + ": " + e.key + ": expected a duration such as 30s or 500ms, got " + quote(*s));
      return std::nullopt;
    }
    return d;
  }

  std::optional<Template> text_template(const Entry& e, const std::string& where) {
    auto s = string(e, where);
    if (!s) return std::nullopt;
    auto t = parse_template(*s);
    if (!t) {
      report(e.line, where + ": " + e.key + ": " + t.error().message);
      return std::nullopt;
    }
    return std::move(*t);
  }

  // A YAML value as JSON; a mapping's keys must be scalars.
  json::value to_json(const YAML::Node& node, const std::string& where) {
    switch (node.Type()) {
      case YAML::NodeType::Scalar:
        // yaml-cpp tags a quoted or block scalar "!" and a plain one "?".
        if (node.Tag() == "!") return json::string(node.Scalar());
        return plain_scalar(node.Scalar());
      case YAML::NodeType::Sequence: {
        json::array a;
        for (const YAML::Node& item : node) a.push_back(to_json(item, where));
        return a;
      }
      case YAML::NodeType::Map: {
        json::object o;
        for (auto it = node.begin(); it != node.end(); ++it) {
          YAML::Node key = it->first;
          YAML::Node value = it->second;
          if (!key.IsScalar()) {
            report(line_of(key), where + ": keys must be plain strings");
            continue;
          }
          o.insert_or_assign(key.Scalar(), to_json(value, where));
        }
        return o;
      }
      default:
        return nullptr;
    }
  }

  std::optional<json::object> params(const Entry& e, const std::string& where) {
    if (!e.value.IsMap()) {
      report(e.line, where + ": params: expected a mapping of request fields, got " +
                         std::string(describe(e.value)));
      return std::nullopt;
    }
    json::value v = to_json(e.value, where + ": params");
    return std::move(v.as_object());
  }

  std::optional<std::vector<std::string>> names(const Entry& e, const std::string& where) {
    std::vector<std::string> out;
    auto add = [&](const YAML::Node& n) {
      if (!n.IsScalar() || !is_template_name(n.Scalar())) {
        report(line_of(n), where + ": " + e.key + ": expected step or group names, got " +
                               (n.IsScalar() ? quote(n.Scalar()) : std::string(describe(n))));
        return false;
      }
      out.push_back(n.Scalar());
      return true;
    };
    if (e.value.IsScalar()) {
      if (!add(e.value)) return std::nullopt;
    } else if (e.value.IsSequence()) {
      for (const YAML::Node& n : e.value) {
        if (!add(n)) return std::nullopt;
      }
    } else {
      report(e.line, where + ": " + e.key + ": expected a name or a list of names, got " +
                         std::string(describe(e.value)));
      return std::nullopt;
    }
    return out;
  }

  void read_pipeline(const YAML::Node& root, PipelineSpec& spec) {
    auto top = mapping(root, line_of(root), "top level", kTopLevelKeys);
    if (!top) return;
    if (const Entry* e = find(*top, "name")) {
      if (auto s = string(*e, "top level")) {
        if (s->empty()) {
          report(e->line, "name: must not be empty");
        } else {
          spec.name = *s;
        }
      }
    }
    if (const Entry* e = find(*top, "max_workers")) {
      if (auto v = integer(*e, "top level", 1, kMaxWorkersLimit)) spec.max_workers = *v;
    }
    if (const Entry* e = find(*top, "inputs"); e != nullptr && !e->value.IsNull()) {
      read_inputs(*e, spec);
    }
    apply_overrides(spec);
    if (const Entry* e = find(*top, "defaults"); e != nullptr && !e->value.IsNull()) {
      read_defaults(*e);
    }
    const Entry* steps = find(*top, "steps");
    if (steps == nullptr || !steps->value.IsSequence() || steps->value.size() == 0) {
      report(steps != nullptr ? steps->line : line_of(root),
             "steps: a pipeline needs a list of at least one step");
      return;
    }
    for (const YAML::Node& node : steps->value) {
      if (node.IsMap() && node["parallel"]) {
        read_group(node, spec);
      } else {
        read_step(node, "", spec);
      }
    }
  }

  void read_inputs(const Entry& e, PipelineSpec& spec) {
    auto entries = mapping(e.value, e.line, "inputs", {});
    if (!entries) return;
    for (const Entry& in : *entries) {
      if (!is_template_name(in.key)) {
        report(in.line, "inputs: " + quote(in.key) +
                            " is not a usable name (letters, digits, '_' and '-' only)");
        continue;
      }
      Input input{in.key, in.line};
      if (in.value.IsNull()) {
        input.required = true;
      } else if (in.value.IsScalar()) {
        input.text = in.value.Scalar();
      } else if (in.value.IsSequence()) {
        std::vector<std::string> items;
        for (const YAML::Node& n : in.value) {
          if (!n.IsScalar()) {
            report(line_of(n), "inputs: " + in.key + ": a list input holds plain values, got " +
                                   std::string(describe(n)));
            continue;
          }
          items.push_back(n.Scalar());
        }
        std::string text;
        for (const std::string& item : items) text += (text.empty() ? "" : ", ") + item;
        input.text = std::move(text);
        input.list = std::move(items);
      } else {
        report(in.line, "inputs: " + in.key +
                            ": expected a value, a list or null (required), got " +
                            std::string(describe(in.value)));
        continue;
      }
      spec.inputs.push_back(std::move(input));
    }
  }

  void apply_overrides(PipelineSpec& spec) {
    for (const auto& [name, value] : overrides_) {
      auto it = std::find_if(spec.inputs.begin(), spec.inputs.end(),
                             [&](const Input& i) { return i.name == name; });
      if (it == spec.inputs.end()) {
        std::string known;
        for (const Input& i : spec.inputs) known += (known.empty() ? "" : ", ") + i.name;
        report_unplaced("--set " + name + ": " + file_ + " has no input " + quote(name) +
                        (known.empty() ? " (it declares none)" : " (its inputs: " + known + ")"));
        continue;
      }
      it->text = value;
      it->list.reset();
      it->required = false;
    }
    for (const Input& i : spec.inputs) {
      if (i.required) {
        report(i.line, "input " + quote(i.name) + " is required: pass --set " + i.name + "=VALUE");
      }
    }
  }

  void read_defaults(const Entry& e) {
    auto entries = mapping(e.value, e.line, "defaults", kDefaultsKeys);
    if (!entries) return;
    for (const Entry& d : *entries) {
      if (d.key == "model") {
        if (auto s = string(d, "defaults")) default_model_ = *s;
      } else if (d.key == "timeout") {
        if (auto t = duration(d, "defaults")) default_timeout_ = *t;
      } else if (d.key == "retries") {
        if (auto r = integer(d, "defaults", 0, kMaxRetries)) default_retries_ = *r;
      } else if (d.key == "params") {
        if (auto p = params(d, "defaults")) default_params_ = std::move(*p);
      }
    }
  }

  void read_group(const YAML::Node& node, PipelineSpec& spec) {
    int line = line_of(node);
    if (node.size() != 1) {
      report(line,
             "a parallel group is written `- parallel: {name: ..., steps: [...]}`, with no "
             "other key beside `parallel`");
      return;
    }
    YAML::Node body = node["parallel"];
    auto entries = mapping(body, body.IsNull() ? line : line_of(body), "parallel", kGroupKeys);
    if (!entries) return;
    GroupSpec group;
    group.line = line;
    const Entry* name = find(*entries, "name");
    if (name == nullptr) {
      report(line, "parallel: a group needs a name (`needs:` refers to it)");
      return;
    }
    auto n = string(*name, "parallel");
    if (!n) return;
    if (!check_name(*n, name->line, spec)) return;
    group.name = *n;
    std::string where = "parallel group " + quote(group.name);
    if (const Entry* needs = find(*entries, "needs")) {
      if (auto v = names(*needs, where)) group.needs = std::move(*v);
      group.needs_line = needs->line;
    }
    const Entry* steps = find(*entries, "steps");
    if (steps == nullptr || !steps->value.IsSequence() || steps->value.size() == 0) {
      report(steps != nullptr ? steps->line : line, where + ": steps: a list of at least one step");
      return;
    }
    // Registered before its members so that a member named like the group is a duplicate.
    spec.groups.push_back(group);
    std::size_t group_index = spec.groups.size() - 1;
    for (const YAML::Node& member : steps->value) {
      if (member.IsMap() && member["parallel"]) {
        report(line_of(member), where + ": parallel groups do not nest");
        continue;
      }
      if (auto step_name = read_step(member, group.name, spec)) {
        spec.groups[group_index].members.push_back(*step_name);
      }
    }
  }

  bool check_name(const std::string& name, int line, const PipelineSpec& spec) {
    if (!is_template_name(name)) {
      report(line, "name " + quote(name) +
                       ": use letters, digits, '_' and '-' only (it names the output file and "
                       "{{steps.NAME.output}})");
      return false;
    }
    if (std::find(std::begin(kReservedNames), std::end(kReservedNames), name) !=
        std::end(kReservedNames)) {
      report(line, "name " + quote(name) + " is reserved (the run writes manifest.json)");
      return false;
    }
    int first = 0;
    if (const StepSpec* s = spec.find_step(name)) first = s->line;
    if (const GroupSpec* g = spec.find_group(name)) first = g->line;
    if (first != 0) {
      report(line, "duplicate name " + quote(name) + " (first at line " + std::to_string(first) +
                       "): step and group names must be unique");
      return false;
    }
    return true;
  }

  // Reads one step; returns its name when it was added to the spec.
  std::optional<std::string> read_step(const YAML::Node& node, const std::string& group,
                                       PipelineSpec& spec) {
    int line = line_of(node);
    // Named in messages from the start when it has a usable name.
    YAML::Node name_node = node.IsMap() ? node["name"] : YAML::Node();
    std::string where = name_node && name_node.IsScalar() ? "step " + quote(name_node.Scalar())
                                                          : std::string("step");
    auto entries = mapping(node, line, where, kStepKeys);
    if (!entries) return std::nullopt;
    StepSpec step;
    step.line = line;
    step.group = group;
    const Entry* name = find(*entries, "name");
    if (name == nullptr) {
      report(line, "step: missing key \"name\" (every step needs a name)");
      return std::nullopt;
    }
    auto n = string(*name, "step");
    if (!n || !check_name(*n, name->line, spec)) return std::nullopt;
    step.name = *n;

    if (const Entry* e = find(*entries, "type")) {
      auto t = string(*e, where);
      auto it =
          t ? std::find(std::begin(kStepTypes), std::end(kStepTypes), *t) : std::end(kStepTypes);
      if (it == std::end(kStepTypes)) {
        if (t) {
          report(e->line, where + ": type: unknown type " + quote(*t) + " (expected " +
                              join(kStepTypes) + ")");
        }
      } else {
        step.type = static_cast<StepType>(it - std::begin(kStepTypes));
      }
    }

    step.model = default_model_;
    if (const Entry* e = find(*entries, "model")) {
      if (auto s = string(*e, where)) step.model = *s;
    }
    if (step.model.empty()) {
      report(line, where + ": no model (set `model:` on the step or in `defaults:`)");
    }

    if (const Entry* e = find(*entries, "system")) {
      if (step.type != StepType::kChat) {
        report(e->line, where + ": system: only chat steps have a system message");
      } else if (auto t = text_template(*e, where)) {
        step.system = std::move(*t);
        step.system_line = e->line;
      }
    }

    if (const Entry* e = find(*entries, "prompt")) {
      if (auto t = text_template(*e, where)) {
        if (t->empty()) report(e->line, where + ": prompt: must not be empty");
        step.prompt = std::move(*t);
        step.prompt_line = e->line;
      }
    } else {
      report(line, where + ": missing key \"prompt\"");
    }

    if (step.type == StepType::kChat || step.type == StepType::kCompletion) {
      step.params = default_params_;
    }
    if (const Entry* e = find(*entries, "params")) {
      if (auto p = params(*e, where)) {
        for (auto& [k, v] : *p) step.params.insert_or_assign(k, v);
      }
    }
    check_params(step, find(*entries, "params"), where);

    if (const Entry* e = find(*entries, "needs")) {
      if (auto v = names(*e, where)) {
        step.needs = std::move(*v);
        step.needs_line = e->line;
      }
    }

    if (const Entry* e = find(*entries, "foreach")) {
      Foreach f;
      f.line = e->line;
      if (e->value.IsSequence()) {
        std::vector<std::string> items;
        for (const YAML::Node& item : e->value) {
          if (item.IsScalar()) {
            items.push_back(item.Scalar());
          } else {
            // Structured items are passed as their JSON text.
            items.push_back(json::serialize(to_json(item, where)));
          }
        }
        f.literal = std::move(items);
        step.foreach = std::move(f);
      } else if (auto t = text_template(*e, where)) {
        if (t->empty() || t->uses_item()) {
          report(e->line, where + ": foreach: expected a list, {{inputs.NAME}} or " +
                              "{{steps.NAME.output}}");
        } else {
          f.source = std::move(*t);
          step.foreach = std::move(f);
        }
      }
    }

    if (const Entry* e = find(*entries, "max_workers")) {
      if (!step.foreach) {
        report(e->line, where + ": max_workers: only a foreach step has items to run at once " +
                            "(the pipeline's own max_workers bounds everything)");
      } else if (auto v = integer(*e, where, 1, kMaxWorkersLimit)) {
        step.max_workers = *v;
      }
    }

    step.timeout = default_timeout_;
    if (const Entry* e = find(*entries, "timeout")) {
      if (auto t = duration(*e, where)) step.timeout = *t;
    }
    step.retries = default_retries_;
    if (const Entry* e = find(*entries, "retries")) {
      if (auto r = integer(*e, where, 0, kMaxRetries)) step.retries = *r;
    }

    // A step with problems is still registered (when it has a name), so later steps that refer to
    // it are not reported as referring to an unknown step as well.
    spec.steps.push_back(std::move(step));
    return spec.steps.back().name;
  }

  // Fields the step writes itself may not come from params.
  void check_params(const StepSpec& step, const Entry* params_entry, const std::string& where) {
    std::vector<std::string_view> owned = {"model", "stream"};
    switch (step.type) {
      case StepType::kChat:
        owned.push_back("messages");
        break;
      case StepType::kCompletion:
        owned.push_back("prompt");
        break;
      case StepType::kEmbedding:
        owned.push_back("input");
        break;
      case StepType::kImage:
        owned.push_back("prompt");
        break;
    }
    int line = params_entry != nullptr ? params_entry->line : step.line;
    for (std::string_view key : owned) {
      if (step.params.contains(key)) {
        report(line, where + ": params: " + std::string(key) +
                         " is set by the step itself and may not be a param");
      }
    }
    if (step.type == StepType::kImage) {
      const json::value* f = step.params.if_contains("response_format");
      if (f != nullptr && !(f->is_string() && f->get_string() == "b64_json")) {
        report(line, where +
                         ": params: response_format: an image step asks for b64_json (the "
                         "image is written to a file)");
      }
    }
  }

  std::string file_;
  const InputOverrides& overrides_;
  std::vector<std::pair<int, std::string>> problems_;
  std::string default_model_;
  std::chrono::milliseconds default_timeout_ = kDefaultStepTimeout;
  int default_retries_ = kDefaultRetries;
  json::object default_params_;
};

std::string join_problems(const std::vector<std::string>& problems) {
  std::string out;
  for (const std::string& p : problems) {
    if (!out.empty()) out += '\n';
    out += p;
  }
  return out;
}

}  // namespace

PipelineError::PipelineError(std::vector<std::string> problems)
    : std::runtime_error(join_problems(problems)), problems_(std::move(problems)) {}

std::string_view step_type_name(StepType type) {
  return kStepTypes[static_cast<std::size_t>(type)];
}

std::string_view step_target(StepType type) {
  switch (type) {
    case StepType::kChat:
      return "/v1/chat/completions";
    case StepType::kCompletion:
      return "/v1/completions";
    case StepType::kEmbedding:
      return "/v1/embeddings";
    case StepType::kImage:
      return "/v1/images/generations";
  }
  return "/v1/chat/completions";
}

const StepSpec* PipelineSpec::find_step(std::string_view name) const {
  for (const StepSpec& s : steps) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const GroupSpec* PipelineSpec::find_group(std::string_view name) const {
  for (const GroupSpec& g : groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

const Input* PipelineSpec::find_input(std::string_view name) const {
  for (const Input& i : inputs) {
    if (i.name == name) return &i;
  }
  return nullptr;
}

std::string PipelineSpec::at(int line) const { return file + ":" + std::to_string(line) + ": "; }

PipelineSpec parse_pipeline(std::string_view text, const std::string& file,
                            const InputOverrides& overrides) {
  return Parser(file, overrides).parse(text);
}

PipelineSpec load_pipeline(const std::string& path, const InputOverrides& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw PipelineError({path + ": cannot read: " + std::string(std::strerror(errno))});
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_pipeline(ss.str(), path, overrides);
}

}  // namespace sluice::batch
