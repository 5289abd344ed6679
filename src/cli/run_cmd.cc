// `sluice run PIPELINE.yaml [--set NAME=VALUE]... [--dry-run] [-o DIR] [-c CONFIG | --url URL]
// [--api-key KEY]`: runs a pipeline of model calls (docs/pipelines.md) through a gateway — the
// configuration's, started inside the command, or a running one — writing every step's output
// and a manifest to DIR as the steps end. --dry-run prints the plan and a cost estimate, and
// neither sends a request nor starts a gateway.
//
// Exit code 0 when every step succeeded; 1 when the pipeline is invalid (every problem on stderr
// as FILE:LINE: message), the gateway cannot be opened, a step failed, or an output could not be
// written; 130 after SIGINT or SIGTERM (the requests in flight are finished and written, the
// steps not finished are skipped, and the manifest says "interrupted").
#include <cstdio>
#include <iostream>
#include <optional>

#include "batch/pipeline_cost.h"
#include "batch/pipeline_output.h"
#include "batch/pipeline_plan.h"
#include "batch/pipeline_runner.h"
#include "cli/commands.h"
#include "cli/engine.h"
#include "cli/interrupts.h"
#include "cli/table.h"
#include "config/loader.h"

namespace sluice::cli {

namespace {

constexpr const char* kCommand = "sluice run";

struct RunCmdOptions {
  std::string file;
  std::vector<std::string> sets;
  bool dry_run = false;
  std::string out_dir = "./sluice-run";
  std::string config_file;
  std::string url;
  std::string api_key;
};

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string seconds(double ms) { return fixed(ms / 1000, ms < 10000 ? 2 : 1) + "s"; }

// The configuration that prices the dry run: the file's with -c, else the built-in default
// (whose OpenAI models carry their list prices).
config::Config pricing_config(const RunCmdOptions& o) {
  if (!o.config_file.empty()) return config::load_file(o.config_file);
  return config::default_config();
}

int dry_run(const batch::Plan& plan, const RunCmdOptions& o) {
  config::Config config;
  try {
    config = pricing_config(o);
  } catch (const config::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  const batch::PipelineSpec& spec = plan.spec;
  std::cout << "Pipeline \"" << spec.name << "\" (" << spec.file << "): " << spec.steps.size()
            << (spec.steps.size() == 1 ? " step" : " steps") << " in " << plan.waves.size()
            << (plan.waves.size() == 1 ? " wave" : " waves") << ", at most " << spec.max_workers
            << " requests at once.\n";
  for (const std::string& line : batch::describe_waves(plan)) std::cout << "  " << line << "\n";

  batch::CostEstimate estimate = batch::estimate_cost(plan, config);
  std::cout << "\nEstimated cost (prompt tokens counted, completion = max_tokens or "
            << batch::kDefaultCompletionTokens << "; prices from "
            << (o.config_file.empty() ? std::string("list prices") : o.config_file) << "):\n";
  Table t({"STEP", "TYPE", "MODEL", "CALLS", "PROMPT", "COMPLETION", "USD"});
  for (std::size_t c : {3, 4, 5}) t.align_right(c);
  std::vector<std::string> unknown_counts, unpriced;
  for (const auto& wave : plan.waves) {
    for (std::size_t i : wave) {
      const batch::StepSpec& step = spec.steps[i];
      const batch::StepEstimate& e = estimate.steps[i];
      std::string usd;
      if (!e.cost_usd) {
        usd = step.type == batch::StepType::kImage ? "not estimated (images are priced per image)"
                                                   : "no price known for " + step.model;
        unpriced.push_back(step.name);
      } else {
        usd = fixed(*e.cost_usd, 6) + (e.calls ? "" : " per call");
      }
      if (!e.calls) unknown_counts.push_back(step.name);
      std::string prompt = (e.exact_tokens ? "" : "~") + std::to_string(e.prompt_tokens);
      t.add({step.name, std::string(batch::step_type_name(step.type)), step.model,
             e.calls ? std::to_string(*e.calls) : "?", prompt, std::to_string(e.completion_tokens),
             usd});
    }
  }
  t.print(std::cout);
  auto join = [](const std::vector<std::string>& names) {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  };
  std::cout << "Total: " << fixed(estimate.known_usd, 6) << " USD";
  if (!unknown_counts.empty()) {
    std::cout << ", plus the per-call cost of " << join(unknown_counts)
              << " for each of its items (known only when the run gets there)";
  }
  if (!unpriced.empty()) std::cout << "; not priced: " << join(unpriced);
  std::cout << ".\n~ marks an estimate. No request was sent (--dry-run).\n";
  return 0;
}

// One line on stderr as each step ends.
void print_step(const batch::StepSpec& step, const batch::StepResult& r) {
  std::string line;
  switch (r.status) {
    case batch::StepStatus::kOk: {
      line = "ok       " + step.name + " (" + seconds(r.finished_ms - r.started_ms);
      std::size_t hits = 0;
      for (const auto& item : r.items) hits += item.cache == "hit" || item.cache == "coalesced";
      if (step.foreach) {
        line += ", " + std::to_string(r.items.size()) +
                (r.items.size() == 1 ? " item, " : " items, ") + std::to_string(hits) +
                " from the cache";
      } else if (!r.items.empty() && !r.items[0].cache.empty()) {
        line += ", cache " + r.items[0].cache;
      }
      line += ")";
      auto files = batch::step_files(r);
      if (files.size() == 1) line += " -> " + files[0];
      if (files.size() > 1) line += " -> " + step.name + "/";
      break;
    }
    case batch::StepStatus::kFailed:
      line = "failed   " + step.name + ": " + r.error;
      break;
    case batch::StepStatus::kSkipped:
      line = "skipped  " + step.name + ": " + r.error;
      break;
  }
  std::cerr << line << "\n";
}

int run(const RunCmdOptions& o) {
  batch::InputOverrides overrides;
  for (const std::string& s : o.sets) {
    std::size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << kCommand << ": --set " << s << ": expected NAME=VALUE\n";
      return 1;
    }
    overrides.emplace_back(s.substr(0, eq), s.substr(eq + 1));
  }
  std::optional<batch::Plan> plan;
  try {
    plan = batch::build_plan(batch::load_pipeline(o.file, overrides));
  } catch (const batch::PipelineError& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  if (o.dry_run) return dry_run(*plan, o);

  batch::OutputDir out(o.out_dir);
  if (auto created = out.create(); !created) {
    std::cerr << kCommand << ": -o: " << created.error().message << "\n";
    return 1;
  }
  EngineOptions engine_options;
  engine_options.config_file = o.config_file;
  engine_options.url = o.url;
  engine_options.api_key = o.api_key;
  auto engine = Engine::open(engine_options);
  if (!engine) {
    std::cerr << kCommand << ": " << engine.error().message << "\n";
    return 1;
  }
  batch::GatewayClient& client = (*engine)->client();
  const config::Config& config = (*engine)->config();

  std::vector<std::string> write_errors;
  batch::RunnerOptions options;
  options.cost = [&config](const batch::StepSpec& step, std::int64_t prompt,
                           std::int64_t completion) {
    auto price = batch::model_price(config, step.model);
    return price ? batch::cost_usd(*price, prompt, completion) : 0.0;
  };
  options.on_step_done = [&](const batch::StepSpec& step, const batch::StepResult& r) {
    print_step(step, r);
    if (auto written = out.write_step(step, r); !written) {
      write_errors.push_back(written.error().message);
    }
  };
  batch::StepExecutor execute = [&client](const batch::StepRequest& req) {
    return client.post(req.target, req.body, req.timeout);
  };
  options.stop = &interrupted();
  catch_interrupts();
  batch::RunResult result = batch::run_pipeline(*plan, execute, options);
  if (auto written = out.write_manifest(*plan, result); !written) {
    write_errors.push_back(written.error().message);
  }
  for (const std::string& e : write_errors) std::cerr << kCommand << ": " << e << "\n";

  std::size_t ok = 0, failed = 0, skipped = 0, hits = 0;
  double cost = 0;
  for (const batch::StepResult& r : result.steps) {
    ok += r.status == batch::StepStatus::kOk;
    failed += r.status == batch::StepStatus::kFailed;
    skipped += r.status == batch::StepStatus::kSkipped;
    for (const auto& item : r.items) {
      hits += item.cache == "hit" || item.cache == "coalesced";
      cost += item.cost_usd;
    }
  }
  std::cout << plan->spec.name << ": " << ok << " of " << result.steps.size() << " steps ok";
  if (failed > 0) std::cout << ", " << failed << " failed";
  if (skipped > 0) std::cout << ", " << skipped << " skipped";
  std::cout << " in " << seconds(result.duration_ms) << "; " << hits << " answers from the cache; "
            << fixed(cost, 6) << " USD. Outputs and manifest.json in " << out.path().string()
            << "\n";
  if (result.interrupted) {
    std::cerr << kCommand << ": interrupted; through a cache, a re-run asks again only for what "
              << "did not finish\n";
    return kInterruptedExit;
  }
  return result.ok() && write_errors.empty() ? 0 : 1;
}

}  // namespace

void add_run(CLI::App& app, std::function<int()>& run_fn) {
  auto o = std::make_shared<RunCmdOptions>();
  auto* cmd = app.add_subcommand("run", "Run a pipeline of model calls (docs/pipelines.md)");
  cmd->add_option("pipeline", o->file, "The pipeline's YAML file")->required();
  // One value per --set, so that `--set a=b PIPELINE.yaml` leaves the file to the positional.
  cmd->add_option("--set", o->sets, "NAME=VALUE: an input's value (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--dry-run", o->dry_run, "Print the plan and a cost estimate; send nothing");
  cmd->add_option("-o,--output", o->out_dir, "Directory for the outputs and manifest.json")
      ->capture_default_str();
  cmd->add_option("-c,--config", o->config_file,
                  "Run this configuration's gateway inside the command");
  cmd->add_option("--url", o->url, "A running gateway (http://HOST:PORT)");
  cmd->add_option("--api-key", o->api_key,
                  "Key sent to the gateway (default: $SLUICE_API_KEY, then "
                  "$OPENAI_API_KEY)");
  cmd->callback([o, &run_fn] { run_fn = [o] { return run(*o); }; });
}

}  // namespace sluice::cli
