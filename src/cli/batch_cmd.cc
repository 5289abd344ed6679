// `sluice batch INPUT.jsonl -o OUTPUT.jsonl [-c CONFIG | --url URL]`: every line of an OpenAI
// batch input file through the gateway, results in OpenAI's batch output format (docs/batch.md).
// The input is checked whole first (bad lines, duplicate custom_ids, with their line numbers) and
// nothing is sent if it has a problem; then batch::Runner sends what the output file does not
// hold yet, so running the same command again after a crash continues where it stopped.
//
// Progress goes to stderr: a live bar on a terminal, a plain line every --progress-every seconds
// otherwise, nothing with --quiet. The summary goes to stdout. Exit 0 when every line succeeded,
// 1 when any failed or the input has problems, 130 after SIGINT or SIGTERM (what was in flight
// is finished and written first; a second signal ends the command at once).
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "batch/pipeline_cost.h"
#include "batch/runner.h"
#include "cli/commands.h"
#include "cli/engine.h"
#include "cli/interrupts.h"
#include "config/prices.h"

namespace sluice::cli {

namespace {

struct BatchOptions {
  std::string input;
  std::string output;
  std::string errors;
  EngineOptions engine;
  std::string concurrency = "auto";
  int max_concurrency = 256;
  int retries = 3;
  double timeout_s = 600;
  double progress_every_s = 0;  // 0: 0.25 s on a terminal, 10 s otherwise
  bool quiet = false;
};

// 1234 → "1234", 45100 → "45.1K", 2300000 → "2.3M".
std::string short_count(double n) {
  char buf[32];
  if (n < 10000) {
    std::snprintf(buf, sizeof buf, "%.0f", n);
  } else if (n < 1e6) {
    std::snprintf(buf, sizeof buf, "%.1fK", n / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.1fM", n / 1e6);
  }
  return buf;
}

std::string clock_time(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

std::string money(double usd) {
  char buf[32];
  std::snprintf(buf, sizeof buf, usd < 1 ? "$%.4f" : "$%.2f", usd);
  return buf;
}

// One progress line: what a bar shows, or what a log line says.
std::string describe(const batch::Progress& p, bool bar) {
  std::uint64_t todo = p.total - p.resumed;
  double rate = p.elapsed_s > 0 ? p.done / p.elapsed_s : 0;
  double eta = rate > 0 ? (todo - p.done) / rate : NAN;
  std::uint64_t finished = p.resumed + p.done;
  double fraction = p.total > 0 ? static_cast<double>(finished) / p.total : 1;
  char head[160];
  std::string out;
  if (bar) {
    constexpr int kWidth = 24;
    int filled = static_cast<int>(fraction * kWidth);
    out += '[';
    for (int i = 0; i < kWidth; ++i) out += i < filled ? "█" : "░";
    out += "] ";
  }
  std::snprintf(head, sizeof head, "%llu/%llu %.1f%% %.0f/s ETA %s",
                static_cast<unsigned long long>(finished), static_cast<unsigned long long>(p.total),
                fraction * 100, rate, clock_time(eta).c_str());
  out += head;
  out += " errors " + std::to_string(p.failed);
  if (p.done > 0) {
    out += " cache " + std::to_string(static_cast<int>(100.0 * p.cache_hits / p.done + 0.5)) + "%";
  }
  out += " tokens " + short_count(static_cast<double>(p.prompt_tokens + p.completion_tokens));
  out += " " + money(p.cost_usd);
  out += " c=" + std::to_string(p.concurrency);
  return out;
}

void print_summary(const BatchOptions& opts, const batch::Progress& p) {
  double rate = p.elapsed_s > 0 ? p.done / p.elapsed_s : 0;
  std::printf("sluice batch: %llu requests in %.1f s (%.0f/s): %llu ok, %llu failed",
              static_cast<unsigned long long>(p.done), p.elapsed_s, rate,
              static_cast<unsigned long long>(p.done - p.failed),
              static_cast<unsigned long long>(p.failed));
  if (p.resumed > 0) {
    std::printf(", %llu already done", static_cast<unsigned long long>(p.resumed));
  }
  std::printf("\n  cache hits %llu (%.1f%%), saved %s\n",
              static_cast<unsigned long long>(p.cache_hits),
              p.done > 0 ? 100.0 * p.cache_hits / p.done : 0.0, money(p.saved_usd).c_str());
  std::printf("  tokens %lld prompt + %lld completion, cost %s, retries %llu\n",
              static_cast<long long>(p.prompt_tokens), static_cast<long long>(p.completion_tokens),
              money(p.cost_usd).c_str(), static_cast<unsigned long long>(p.retries));
  std::printf("  output %s", opts.output.c_str());
  if (!opts.errors.empty()) std::printf(", errors %s", opts.errors.c_str());
  std::printf("\n");
  std::fflush(stdout);
}

int run_batch(BatchOptions opts) {
  batch::RunOptions run;
  run.input_path = opts.input;
  run.output_path = opts.output;
  run.error_path = opts.errors;
  run.retries = opts.retries;
  run.max_concurrency = opts.max_concurrency;
  if (opts.concurrency != "auto") {
    int n = 0;
    auto [end, ec] = std::from_chars(opts.concurrency.data(),
                                     opts.concurrency.data() + opts.concurrency.size(), n);
    if (ec != std::errc() || end != opts.concurrency.data() + opts.concurrency.size() || n < 1) {
      std::cerr << "sluice batch: --concurrency must be a positive number or auto, not \""
                << opts.concurrency << "\"\n";
      return 1;
    }
    run.concurrency = n;
  }
  if (opts.output == opts.input || (!opts.errors.empty() && opts.errors == opts.input)) {
    std::cerr << "sluice batch: the output must not be the input file\n";
    return 1;
  }

  // Everything wrong with the input, before a single request.
  auto plan = batch::Runner::check(run);
  if (!plan) {
    std::cerr << "sluice batch: " << plan.error().message << "\n";
    return 1;
  }
  if (!plan->problems.empty()) {
    constexpr std::size_t kShown = 50;
    for (std::size_t i = 0; i < plan->problems.size() && i < kShown; ++i) {
      std::cerr << opts.input << ":" << plan->problems[i].line << ": " << plan->problems[i].message
                << "\n";
    }
    if (plan->problems.size() > kShown) {
      std::cerr << "... and " << plan->problems.size() - kShown << " more\n";
    }
    std::cerr << "sluice batch: " << plan->problems.size()
              << " problem(s) in the input; nothing was sent\n";
    return 1;
  }

  opts.engine.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(opts.timeout_s * 1000));
  auto engine = Engine::open(opts.engine);
  if (!engine) {
    std::cerr << "sluice batch: " << engine.error().message << "\n";
    return 1;
  }
  const config::Config& cfg = (*engine)->config();
  if ((*engine)->in_process()) {
    // The gateway's own ceilings: `auto` paces itself under them instead of hitting them.
    run.rpm = static_cast<double>(cfg.rate_limits.global.rpm);
    run.tpm = static_cast<double>(cfg.rate_limits.global.tpm);
  }
  if (!opts.engine.config_file.empty()) {
    run.cost = [&cfg](std::string_view requested, std::string_view answered, std::int64_t prompt,
                      std::int64_t completion) {
      auto price = batch::model_price(cfg, requested);
      if (!price && !answered.empty()) price = config::list_price(answered);
      return price ? batch::cost_usd(*price, prompt, completion) : 0.0;
    };
  }

  const bool terminal = ::isatty(STDERR_FILENO) == 1;
  double every = opts.progress_every_s > 0 ? opts.progress_every_s : terminal ? 0.25 : 10;
  run.progress_every = std::chrono::milliseconds(static_cast<std::int64_t>(every * 1000));
  bool drew = false;
  auto on_progress = [&](const batch::Progress& p) {
    if (opts.quiet) return;
    if (terminal) {
      std::fprintf(stderr, "\r\033[K%s", describe(p, true).c_str());
      drew = true;
    } else {
      std::fprintf(stderr, "sluice batch: %s\n", describe(p, false).c_str());
    }
    std::fflush(stderr);
  };
  if (!opts.quiet && plan->already_done > 0) {
    std::fprintf(stderr, "sluice batch: %llu of %llu already in %s; sending the rest\n",
                 static_cast<unsigned long long>(plan->already_done),
                 static_cast<unsigned long long>(plan->total), opts.output.c_str());
  }
  catch_interrupts();
  auto result = batch::Runner::run((*engine)->client(), run, on_progress, &interrupted());
  if (drew) std::fprintf(stderr, "\n");
  engine->reset();
  if (!result) {
    std::cerr << "sluice batch: " << result.error().message << "\n";
    return 1;
  }
  print_summary(opts, *result);
  if (interrupted().load()) {
    std::cerr << "sluice batch: interrupted; what finished is in " << opts.output
              << ", and the same command continues from there\n";
    return kInterruptedExit;
  }
  return result->failed == 0 ? 0 : 1;
}

}  // namespace

void add_batch(CLI::App& app, std::function<int()>& run) {
  auto opts = std::make_shared<BatchOptions>();
  auto* cmd = app.add_subcommand(
      "batch", "Run an OpenAI batch input file (JSONL) through the gateway, resumably");
  cmd->add_option("input", opts->input, "The batch input file (JSONL)")->required();
  cmd->add_option("-o,--output", opts->output, "Where the results go (appended; resumes)")
      ->required();
  cmd->add_option("--errors", opts->errors,
                  "Write failed results here instead of to the output (as OpenAI's error file)");
  cmd->add_option("-c,--config", opts->engine.config_file,
                  "Run this configuration's gateway in-process");
  cmd->add_option("--url", opts->engine.url, "Send to a running gateway instead");
  cmd->add_option("--api-key", opts->engine.api_key,
                  "Key for the gateway (default: $SLUICE_API_KEY, then $OPENAI_API_KEY)");
  cmd->add_option("--concurrency", opts->concurrency, "Requests in flight: a number, or auto")
      ->capture_default_str();
  cmd->add_option("--max-concurrency", opts->max_concurrency, "The most auto goes up to")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--retries", opts->retries, "Tries after the first, on 429, 5xx or no answer")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  cmd->add_option("--timeout", opts->timeout_s, "Seconds for one request, whole")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--progress-every", opts->progress_every_s,
                  "Seconds between progress reports (default: 0.25 on a terminal, 10 otherwise)")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("-q,--quiet", opts->quiet, "No progress, only the summary");
  cmd->callback([opts, &run] { run = [opts] { return run_batch(*opts); }; });
}

}  // namespace sluice::cli
