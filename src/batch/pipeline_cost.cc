#include "batch/pipeline_cost.h"

#include <boost/json.hpp>

#include "core/asio.h"
#include "core/strings.h"
#include "tokenizer/prompt_tokens.h"

namespace sluice::batch {

namespace {

// The model entry `name` selects: the exact name, else the longest pattern that matches.
const config::Model* find_model(const config::Config& config, std::string_view name) {
  const config::Model* best = nullptr;
  for (const config::Model& m : config.models) {
    if (m.name == name) return &m;
    if (m.name.ends_with('*') && core::glob_match(m.name, name) &&
        (best == nullptr || m.name.size() > best->name.size())) {
      best = &m;
    }
  }
  return best;
}

// The deployment a request for the model would most likely go to first.
const config::Deployment* first_deployment(const config::Model& model) {
  const config::Deployment* best = nullptr;
  for (const config::Deployment& d : model.deployments) {
    if (best == nullptr || d.priority < best->priority) best = &d;
  }
  return best;
}

// The name the provider sees, which picks the tokenizer's encoding.
std::string upstream_name(const config::Config& config, const std::string& model) {
  const config::Model* m = find_model(config, model);
  const config::Deployment* d = m != nullptr ? first_deployment(*m) : nullptr;
  return d != nullptr && !d->model.empty() ? d->model : model;
}

std::int64_t completion_estimate(const StepSpec& step) {
  if (step.type == StepType::kEmbedding || step.type == StepType::kImage) return 0;
  for (std::string_view key : {"max_completion_tokens", "max_tokens"}) {
    const json::value* v = step.params.if_contains(key);
    if (v != nullptr && v->is_int64() && v->get_int64() > 0) return v->get_int64();
  }
  return kDefaultCompletionTokens;
}

std::int64_t count_text(const StepSpec& step, const std::string& model, std::string_view system,
                        std::string_view prompt, bool& exact) {
  tokenizer::PromptTokens t;
  if (step.type == StepType::kChat) {
    json::array messages;
    if (!system.empty()) messages.push_back(json::object{{"role", "system"}, {"content", system}});
    messages.push_back(json::object{{"role", "user"}, {"content", prompt}});
    t = tokenizer::count_prompt_tokens(model, messages);
  } else {
    t = tokenizer::count_prompt_tokens(model, prompt);
  }
  exact = exact && t.exact;
  return static_cast<std::int64_t>(t.tokens);
}

}  // namespace

std::optional<config::Price> model_price(const config::Config& config, std::string_view model) {
  if (const config::Model* m = find_model(config, model)) {
    if (const config::Deployment* d = first_deployment(*m)) {
      return config::Price{d->input_cost_per_mtok, d->cached_input_cost_per_mtok,
                           d->output_cost_per_mtok};
    }
  }
  return config::list_price(model);
}

double cost_usd(const config::Price& price, std::int64_t prompt_tokens,
                std::int64_t completion_tokens) {
  return (static_cast<double>(prompt_tokens) * price.input +
          static_cast<double>(completion_tokens) * price.output) /
         1e6;
}

CostEstimate estimate_cost(const Plan& plan, const config::Config& config) {
  const PipelineSpec& spec = plan.spec;
  CostEstimate out;
  out.steps.resize(spec.steps.size());
  // In dependency order, so that a step's estimated output size is known to the steps after it.
  std::vector<std::int64_t> output_tokens(spec.steps.size(), 0);
  for (const auto& wave : plan.waves) {
    for (std::size_t i : wave) {
      const StepSpec& step = spec.steps[i];
      StepEstimate& e = out.steps[i];
      std::string model = upstream_name(config, step.model);
      bool exact = true;
      // Earlier steps' outputs are unknown: their estimated size is added instead.
      std::int64_t unknown = 0;
      auto add_unknowns = [&](const Template& t) {
        for (const TemplatePiece& p : t.pieces) {
          if (p.kind == TemplatePiece::Kind::kStepOutput) {
            unknown += output_tokens[plan.index_of(p.text)];
            exact = false;
          }
        }
      };
      add_unknowns(step.prompt);
      if (step.system) add_unknowns(*step.system);

      TemplateValues values;
      values.input = [&](std::string_view name) -> const std::string* {
        const Input* input = spec.find_input(name);
        return input != nullptr ? &input->text : nullptr;
      };
      auto count_one = [&](const std::string* item, std::size_t index) {
        values.item = item;
        values.index = index;
        std::string system = step.system ? render(*step.system, values) : std::string();
        return count_text(step, model, system, render(step.prompt, values), exact) + unknown;
      };

      std::int64_t per_call_completion = completion_estimate(step);
      auto items = step.foreach ? known_items(spec, step) : std::nullopt;
      if (!step.foreach) {
        e.calls = 1;
        e.prompt_tokens = count_one(nullptr, 0);
      } else if (items) {
        e.calls = items->size();
        for (std::size_t k = 0; k < items->size(); ++k) {
          e.prompt_tokens += count_one(&(*items)[k], k + 1);
        }
      } else {
        std::string placeholder;
        e.prompt_tokens = count_one(&placeholder, 1) + kUnknownItemTokens;
        exact = false;
      }
      std::int64_t calls = e.calls ? static_cast<std::int64_t>(*e.calls) : 1;
      e.completion_tokens = per_call_completion * calls;
      e.exact_tokens = exact;
      // What {{steps.NAME.output}} of this step will roughly weigh: every call's completion.
      output_tokens[i] = e.completion_tokens;

      auto price = step.type == StepType::kImage ? std::nullopt : model_price(config, step.model);
      if (price) {
        e.cost_usd = cost_usd(*price, e.prompt_tokens, e.completion_tokens);
        if (e.calls) out.known_usd += *e.cost_usd;
      }
    }
  }
  return out;
}

}  // namespace sluice::batch
