#include "batch/pipeline_plan.h"

#include <boost/json.hpp>

#include <algorithm>
#include <set>

#include "core/asio.h"
#include "core/strings.h"

namespace sluice::batch {

namespace {

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string names_of(const std::vector<Input>& inputs) {
  std::string out;
  for (const Input& i : inputs) out += (out.empty() ? "" : ", ") + i.name;
  return out.empty() ? "none are declared" : "declared: " + out;
}

class PlanBuilder {
 public:
  explicit PlanBuilder(Plan& plan) : plan_(plan), spec_(plan.spec) {}

  void build() {
    plan_.steps.resize(spec_.steps.size());
    for (std::size_t i = 0; i < spec_.steps.size(); ++i) link(i);
    if (problems_.empty()) find_cycle();
    if (!problems_.empty()) {
      std::stable_sort(problems_.begin(), problems_.end(),
                       [](const auto& a, const auto& b) { return a.first < b.first; });
      std::vector<std::string> out;
      for (auto& p : problems_) out.push_back(std::move(p.second));
      throw PipelineError(std::move(out));
    }
    assign_waves();
  }

 private:
  void report(int line, std::string message) {
    problems_.emplace_back(line, spec_.at(line) + std::move(message));
  }

  void link(std::size_t i) {
    const StepSpec& step = spec_.steps[i];
    std::string where = "step " + quote(step.name);
    std::set<std::size_t> deps;
    std::set<std::string> declared;  // names the step may refer to though written later

    // A group's needs are reported once, with its first member, under the group's name.
    bool quiet = false;
    std::string needs_where = where;
    auto need = [&](const std::string& name, int line) {
      auto report_need = [&](const std::string& message) {
        if (!quiet) report(line, needs_where + ": needs: " + message);
      };
      if (name == step.name) {
        report_need("a step cannot wait for itself");
        return;
      }
      std::size_t d = plan_.index_of(name);
      if (d < spec_.steps.size()) {
        deps.insert(d);
        declared.insert(name);
        return;
      }
      if (const GroupSpec* g = spec_.find_group(name)) {
        if (g->name == step.group) {
          report_need(quote(name) +
                      " is the parallel group this step belongs to; its members run side by side");
          return;
        }
        for (const std::string& member : g->members) {
          deps.insert(plan_.index_of(member));
          declared.insert(member);
        }
        return;
      }
      report_need("unknown step or group " + quote(name));
    };
    for (const std::string& name : step.needs) need(name, step.needs_line);
    if (!step.group.empty()) {
      const GroupSpec* g = spec_.find_group(step.group);
      quiet = g->members.front() != step.name;
      needs_where = "parallel group " + quote(g->name);
      for (const std::string& name : g->needs) need(name, g->needs_line);
    }

    auto check = [&](const Template& t, int line, std::string_view field, bool item_allowed) {
      for (const TemplatePiece& p : t.pieces) {
        std::string prefix = where + ": " + std::string(field) + ": ";
        switch (p.kind) {
          case TemplatePiece::Kind::kText:
            break;
          case TemplatePiece::Kind::kInput:
            if (spec_.find_input(p.text) == nullptr) {
              report(line, prefix + "unknown input " + quote(p.text) + " in {{inputs." + p.text +
                               "}} (" + names_of(spec_.inputs) + ")");
            }
            break;
          case TemplatePiece::Kind::kItem:
          case TemplatePiece::Kind::kIndex:
            if (!item_allowed) {
              report(line, prefix + "{{item}} and {{index}} exist only in a foreach step's " +
                               "prompt and system");
            }
            break;
          case TemplatePiece::Kind::kStepOutput: {
            std::string ref = "{{steps." + p.text + ".output}}";
            if (p.text == step.name) {
              report(line, prefix + ref + " refers to the step's own output");
              break;
            }
            std::size_t d = plan_.index_of(p.text);
            if (d >= spec_.steps.size()) {
              if (spec_.find_group(p.text) != nullptr) {
                report(line, prefix + ref + ": " + quote(p.text) +
                                 " is a parallel group, which has no output of its own; refer to "
                                 "its members");
              } else {
                report(line, prefix + ref + " refers to an unknown step");
              }
              break;
            }
            if (d > i && declared.count(p.text) == 0) {
              report(line, prefix + ref + " refers to a step written later in the file; add " +
                               quote(p.text) + " to this step's needs: to wait for it");
              break;
            }
            deps.insert(d);
            break;
          }
        }
      }
    };
    bool foreach = step.foreach.has_value();
    check(step.prompt, step.prompt_line, "prompt", foreach);
    if (step.system) check(*step.system, step.system_line, "system", foreach);
    if (foreach && !step.foreach->literal) {
      check(step.foreach->source, step.foreach->line, "foreach", false);
    }
    plan_.steps[i].deps.assign(deps.begin(), deps.end());
  }

  // Depth-first over the dependencies, from each step in file order; the first back edge found is
  // the cycle reported.
  void find_cycle() {
    const std::size_t n = spec_.steps.size();
    enum class Mark { kNew, kOnPath, kDone };
    std::vector<Mark> mark(n, Mark::kNew);
    std::vector<std::size_t> path;
    std::vector<std::size_t> next_dep;  // parallel to path: which dependency to visit next
    for (std::size_t root = 0; root < n; ++root) {
      if (mark[root] != Mark::kNew) continue;
      path = {root};
      next_dep = {0};
      mark[root] = Mark::kOnPath;
      while (!path.empty()) {
        std::size_t at = path.back();
        const auto& deps = plan_.steps[at].deps;
        if (next_dep.back() == deps.size()) {
          mark[at] = Mark::kDone;
          path.pop_back();
          next_dep.pop_back();
          continue;
        }
        std::size_t d = deps[next_dep.back()++];
        if (mark[d] == Mark::kOnPath) {
          auto start = std::find(path.begin(), path.end(), d);
          std::string cycle;
          for (auto it = start; it != path.end(); ++it) cycle += spec_.steps[*it].name + " -> ";
          cycle += spec_.steps[d].name;
          report(spec_.steps[d].line,
                 "the steps wait for each other in a cycle: " + cycle +
                     " (each waits for the next, through needs: or {{steps.NAME.output}})");
          return;
        }
        if (mark[d] == Mark::kNew) {
          mark[d] = Mark::kOnPath;
          path.push_back(d);
          next_dep.push_back(0);
        }
      }
    }
  }

  void assign_waves() {
    const std::size_t n = spec_.steps.size();
    std::vector<std::size_t> waiting(n);
    for (std::size_t i = 0; i < n; ++i) {
      waiting[i] = plan_.steps[i].deps.size();
      for (std::size_t d : plan_.steps[i].deps) plan_.steps[d].dependants.push_back(i);
    }
    std::vector<std::size_t> ready;
    for (std::size_t i = 0; i < n; ++i) {
      if (waiting[i] == 0) ready.push_back(i);
    }
    while (!ready.empty()) {
      std::size_t i = ready.back();
      ready.pop_back();
      int wave = 0;
      for (std::size_t d : plan_.steps[i].deps) wave = std::max(wave, plan_.steps[d].wave + 1);
      plan_.steps[i].wave = wave;
      for (std::size_t next : plan_.steps[i].dependants) {
        if (--waiting[next] == 0) ready.push_back(next);
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      auto w = static_cast<std::size_t>(plan_.steps[i].wave);
      if (plan_.waves.size() <= w) plan_.waves.resize(w + 1);
      plan_.waves[w].push_back(i);
    }
  }

  Plan& plan_;
  const PipelineSpec& spec_;
  std::vector<std::pair<int, std::string>> problems_;
};

// "1." "12)" "-" "*" "•" at the start of a list line.
std::string_view strip_marker(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && line[i] >= '0' && line[i] <= '9') ++i;
  // A space must follow, so that "3.14" stays a number.
  if (i > 0 && i + 1 < line.size() && (line[i] == '.' || line[i] == ')') &&
      (line[i + 1] == ' ' || line[i + 1] == '\t')) {
    return core::trim(line.substr(i + 1));
  }
  for (std::string_view marker : {"-", "*", "\xE2\x80\xA2"}) {
    if (line.starts_with(marker) && line.size() > marker.size() &&
        (line[marker.size()] == ' ' || line[marker.size()] == '\t')) {
      return core::trim(line.substr(marker.size()));
    }
  }
  return line;
}

}  // namespace

std::size_t Plan::index_of(std::string_view step) const {
  for (std::size_t i = 0; i < spec.steps.size(); ++i) {
    if (spec.steps[i].name == step) return i;
  }
  return spec.steps.size();
}

Plan build_plan(PipelineSpec spec) {
  Plan plan;
  plan.spec = std::move(spec);
  PlanBuilder(plan).build();
  return plan;
}

std::vector<std::string> split_items(std::string_view text) {
  std::vector<std::string> items;
  std::string_view trimmed = core::trim(text);
  if (trimmed.starts_with('[')) {
    boost::system::error_code ec;
    json::value v = json::parse(trimmed, ec);
    if (!ec && v.is_array()) {
      for (const json::value& e : v.get_array()) {
        items.push_back(e.is_string() ? std::string(e.get_string()) : json::serialize(e));
      }
      return items;
    }
  }
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = strip_marker(core::trim(text.substr(start, end - start)));
    if (!line.empty()) items.emplace_back(line);
    start = end + 1;
  }
  return items;
}

std::optional<std::vector<std::string>> known_items(const PipelineSpec& spec,
                                                    const StepSpec& step) {
  if (!step.foreach) return std::nullopt;
  if (step.foreach->literal) return *step.foreach->literal;
  const Template& source = step.foreach->source;
  for (const TemplatePiece& p : source.pieces) {
    if (p.kind == TemplatePiece::Kind::kStepOutput) return std::nullopt;
  }
  // A list input is its items; a single input written as text is split at its commas, the form
  // --set gives (`--set topics=rivers,lakes`).
  if (const TemplatePiece* only = source.sole_reference();
      only != nullptr && only->kind == TemplatePiece::Kind::kInput) {
    const Input* input = spec.find_input(only->text);
    if (input == nullptr) return std::vector<std::string>{};
    if (input->list) return *input->list;
    std::vector<std::string> items;
    std::string_view text = input->text;
    std::size_t start = 0;
    while (start <= text.size()) {
      std::size_t comma = text.find(',', start);
      if (comma == std::string_view::npos) comma = text.size();
      std::string_view item = core::trim(text.substr(start, comma - start));
      if (!item.empty()) items.emplace_back(item);
      start = comma + 1;
    }
    return items;
  }
  TemplateValues values;
  values.input = [&](std::string_view name) -> const std::string* {
    const Input* input = spec.find_input(name);
    return input != nullptr ? &input->text : nullptr;
  };
  return split_items(render(source, values));
}

std::vector<std::string> describe_waves(const Plan& plan) {
  std::vector<std::string> lines;
  for (std::size_t w = 0; w < plan.waves.size(); ++w) {
    std::string line = std::to_string(w + 1) + ". ";
    const auto& wave = plan.waves[w];
    for (std::size_t k = 0; k < wave.size(); ++k) {
      const StepSpec& step = plan.spec.steps[wave[k]];
      if (k > 0) line += ", ";
      line += step.name;
      if (!step.foreach) continue;
      auto items = known_items(plan.spec, step);
      line += items ? " ×" + std::to_string(items->size()) : std::string(" ×?");
      line += " (foreach over ";
      if (step.foreach->literal) {
        line += "a list";
      } else if (const TemplatePiece* only = step.foreach->source.sole_reference()) {
        line += only->kind == TemplatePiece::Kind::kInput ? "inputs." + only->text
                                                          : "steps." + only->text + ".output";
      } else {
        line += quote(core::trim(step.foreach->source.source));
      }
      if (step.max_workers > 0) line += ", " + std::to_string(step.max_workers) + " at once";
      line += ")";
    }
    if (wave.size() > 1) line += " \xE2\x80\x96 parallel";
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace sluice::batch
