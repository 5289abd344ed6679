// `sluice compare --models a,b,c --prompt TEXT [--runs N]`: the same chat prompt on several
// models, side by side: a table of latency (first token and total, medians over the runs),
// tokens, cost and cache, then each model's answer in its own column (docs/batch.md, "Comparing
// models").
//
// Every run streams (so the first token's time is real) and asks for the usage chunk. The
// models of one run go out at once, each from its own thread, and the runs one after the other,
// so a model is never measured while it waits behind itself. The cache is bypassed
// (`Cache-Control: no-store`) unless --cache: repeated runs would otherwise time the cache.
#include <sys/ioctl.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include "api/json_text.h"
#include "batch/pipeline_cost.h"
#include "cli/commands.h"
#include "cli/engine.h"
#include "cli/table.h"
#include "config/prices.h"
#include "core/strings.h"
#include "http/sse.h"

namespace sluice::cli {

namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

struct CompareOptions {
  std::string models;
  std::string prompt;
  std::string system;
  int runs = 1;
  int max_tokens = 0;
  double temperature = -1;
  bool cache = false;
  bool as_json = false;
  EngineOptions engine;
};

// One streamed answer.
struct Sample {
  int status = 0;
  std::string error;
  std::string text;
  double first_token_ms = -1;  // to the first content delta
  double total_ms = 0;
  std::int64_t prompt_tokens = 0, completion_tokens = 0;
  std::string answered_model;
  std::string cache;
};

std::string request_body(const CompareOptions& o, const std::string& model) {
  std::string body = R"({"model":)";
  api::append_json_string(body, model);
  body += R"(,"stream":true,"stream_options":{"include_usage":true},"messages":[)";
  if (!o.system.empty()) {
    body += R"({"role":"system","content":)";
    api::append_json_string(body, o.system);
    body += "},";
  }
  body += R"({"role":"user","content":)";
  api::append_json_string(body, o.prompt);
  body += "}]";
  if (o.max_tokens > 0) {
    body += R"(,"max_tokens":)";
    api::append_int(body, o.max_tokens);
  }
  if (o.temperature >= 0) {
    body += R"(,"temperature":)";
    api::append_double(body, o.temperature);
  }
  body += "}";
  return body;
}

// Reads one chunk's content, usage and model into `s`.
void read_chunk(std::string_view data, Sample& s, Clock::time_point start) {
  boost::system::error_code ec;
  json::value v = json::parse(data, ec);
  if (ec || !v.is_object()) return;
  const json::object& o = v.get_object();
  if (const json::value* m = o.if_contains("model"); m && m->is_string()) {
    s.answered_model = m->get_string();
  }
  if (const json::value* choices = o.if_contains("choices"); choices && choices->is_array()) {
    for (const json::value& c : choices->get_array()) {
      const json::value* delta = c.is_object() ? c.get_object().if_contains("delta") : nullptr;
      const json::value* content =
          delta && delta->is_object() ? delta->get_object().if_contains("content") : nullptr;
      if (content && content->is_string() && !content->get_string().empty()) {
        if (s.first_token_ms < 0) {
          s.first_token_ms =
              std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        }
        s.text += content->get_string();
      }
    }
  }
  if (const json::value* u = o.if_contains("usage"); u && u->is_object()) {
    auto count = [&](std::string_view name) -> std::int64_t {
      const json::value* n = u->get_object().if_contains(name);
      return n && n->is_int64() ? n->get_int64() : 0;
    };
    s.prompt_tokens = count("prompt_tokens");
    s.completion_tokens = count("completion_tokens");
  }
}

Sample ask(batch::GatewayClient& client, const std::string& body) {
  Sample s;
  std::string pending;  // stream bytes not yet split into events
  http::SseSplitter splitter;
  std::string error_body;
  auto start = Clock::now();
  batch::Reply reply = client.post_stream("/v1/chat/completions", body, [&](std::string_view d) {
    pending.append(d);
    std::size_t complete = splitter.complete_prefix(pending);
    http::SseEventReader reader(std::string_view(pending).substr(0, complete));
    http::SseEvent ev;
    while (reader.next(ev)) {
      if (ev.has_data && ev.data != "[DONE]") read_chunk(ev.data, s, start);
    }
    pending.erase(0, complete);
    splitter.consumed(complete);
  });
  s.status = reply.status;
  s.cache = reply.cache;
  // Both times from the same start (the client's own start is a little later).
  s.total_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  if (reply.status == 0) {
    s.error = reply.error;
  } else if (reply.status != 200) {
    // An error answer is JSON, not a stream: what is left in `pending` is its body.
    boost::system::error_code ec;
    json::value v = json::parse(pending, ec);
    const json::value* message = nullptr;
    if (!ec && v.is_object()) {
      if (const json::value* e = v.get_object().if_contains("error"); e && e->is_object()) {
        message = e->get_object().if_contains("message");
      }
    }
    s.error = "HTTP " + std::to_string(reply.status) +
              (message && message->is_string() ? ": " + std::string(message->get_string()) : "");
  }
  return s;
}

double median(std::vector<double> xs) {
  if (xs.empty()) return -1;
  std::sort(xs.begin(), xs.end());
  std::size_t n = xs.size();
  return n % 2 ? xs[n / 2] : (xs[n / 2 - 1] + xs[n / 2]) / 2;
}

std::string ms(double v) {
  if (v < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f ms", v);
  return buf;
}

// Words of `text` wrapped to `width` columns (long words are cut).
std::vector<std::string> wrap(const std::string& text, std::size_t width) {
  std::vector<std::string> lines;
  std::istringstream paragraphs(text);
  std::string paragraph;
  while (std::getline(paragraphs, paragraph)) {
    std::istringstream words(paragraph);
    std::string word, line;
    while (words >> word) {
      while (word.size() > width) {
        if (!line.empty()) lines.push_back(std::move(line));
        line.clear();
        lines.push_back(word.substr(0, width));
        word.erase(0, width);
      }
      if (!line.empty() && line.size() + 1 + word.size() > width) {
        lines.push_back(std::move(line));
        line.clear();
      }
      if (!line.empty()) line += ' ';
      line += word;
    }
    lines.push_back(line);
  }
  return lines;
}

// Display width of UTF-8 text: code points, not bytes (wide characters count as one).
std::size_t columns(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

void print_side_by_side(const std::vector<std::string>& titles,
                        const std::vector<std::string>& texts) {
  winsize ws{};
  std::size_t total = 120;
  if (::isatty(STDOUT_FILENO) && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    total = ws.ws_col;
  }
  std::size_t n = titles.size();
  std::size_t width = n > 0 ? std::max<std::size_t>(20, (total - 3 * (n - 1)) / n) : total;
  std::vector<std::vector<std::string>> cols;
  std::size_t rows = 0;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::string> col = {titles[i], std::string(std::min(width, titles[i].size()), '-')};
    for (auto& l : wrap(texts[i], width)) col.push_back(std::move(l));
    rows = std::max(rows, col.size());
    cols.push_back(std::move(col));
  }
  for (std::size_t r = 0; r < rows; ++r) {
    std::string line;
    for (std::size_t i = 0; i < n; ++i) {
      std::string cell = r < cols[i].size() ? cols[i][r] : "";
      if (i + 1 < n) cell += std::string(width - std::min(width, columns(cell)), ' ') + " | ";
      line += cell;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  }
}

int compare(CompareOptions opts) {
  std::vector<std::string> models;
  for (std::string_view name : core::split_trimmed(opts.models, ',')) {
    if (!name.empty()) models.emplace_back(name);
  }
  if (models.empty()) {
    std::cerr << "sluice compare: --models needs at least one model name\n";
    return 1;
  }
  if (!opts.cache) opts.engine.headers.emplace_back("cache-control", "no-store");
  auto engine = Engine::open(opts.engine);
  if (!engine) {
    std::cerr << "sluice compare: " << engine.error().message << "\n";
    return 1;
  }
  const config::Config& cfg = (*engine)->config();
  std::vector<std::vector<Sample>> samples(models.size());
  for (int run = 0; run < opts.runs; ++run) {
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < models.size(); ++i) {
      threads.emplace_back([&, i] {
        samples[i].push_back(ask((*engine)->client(), request_body(opts, models[i])));
      });
    }
    for (auto& t : threads) t.join();
  }

  auto cost_of = [&](const std::string& model, const Sample& s) -> double {
    auto price = batch::model_price(cfg, model);
    if (!price && !s.answered_model.empty()) price = config::list_price(s.answered_model);
    return price ? batch::cost_usd(*price, s.prompt_tokens, s.completion_tokens) : 0.0;
  };

  bool any_failed = false;
  json::array report;
  Table table({"model", "first token", "total", "prompt tok", "completion tok", "cost", "ok"});
  for (std::size_t c = 1; c <= 5; ++c) table.align_right(c);
  std::vector<std::string> titles, texts;
  for (std::size_t i = 0; i < models.size(); ++i) {
    std::vector<double> first, total;
    int ok = 0;
    double cost = 0;
    const Sample* last_ok = nullptr;
    std::string error;
    for (const Sample& s : samples[i]) {
      if (s.status == 200) {
        ++ok;
        first.push_back(s.first_token_ms);
        total.push_back(s.total_ms);
        cost += cost_of(models[i], s);
        last_ok = &s;
      } else {
        error = s.error;
      }
    }
    any_failed |= ok < opts.runs;
    char cost_text[32];
    std::snprintf(cost_text, sizeof cost_text, "$%.6f", ok > 0 ? cost / ok : 0.0);
    table.add({models[i], ms(median(first)), ms(median(total)),
               last_ok ? std::to_string(last_ok->prompt_tokens) : "-",
               last_ok ? std::to_string(last_ok->completion_tokens) : "-", cost_text,
               std::to_string(ok) + "/" + std::to_string(opts.runs)});
    titles.push_back(models[i]);
    texts.push_back(last_ok ? last_ok->text : "(failed: " + error + ")");
    json::array runs;
    for (const Sample& s : samples[i]) {
      json::object r{{"status", s.status},
                     {"first_token_ms", s.first_token_ms},
                     {"total_ms", s.total_ms},
                     {"prompt_tokens", s.prompt_tokens},
                     {"completion_tokens", s.completion_tokens},
                     {"cost_usd", s.status == 200 ? cost_of(models[i], s) : 0.0},
                     {"cache", s.cache},
                     {"output", s.text}};
      if (!s.error.empty()) r["error"] = s.error;
      runs.push_back(std::move(r));
    }
    report.push_back(json::object{{"model", models[i]},
                                  {"first_token_ms_median", median(first)},
                                  {"total_ms_median", median(total)},
                                  {"runs", std::move(runs)}});
  }
  if (opts.as_json) {
    std::cout << json::serialize(json::object{{"prompt", opts.prompt}, {"models", report}}) << "\n";
  } else {
    table.print(std::cout);
    std::cout << "\n";
    print_side_by_side(titles, texts);
  }
  return any_failed ? 1 : 0;
}

}  // namespace

void add_compare(CLI::App& app, std::function<int()>& run) {
  auto opts = std::make_shared<CompareOptions>();
  auto* cmd = app.add_subcommand("compare", "The same prompt on several models, side by side");
  cmd->add_option("--models", opts->models, "Comma-separated model names")->required();
  cmd->add_option("--prompt", opts->prompt, "The user message")->required();
  cmd->add_option("--system", opts->system, "A system message");
  cmd->add_option("--runs", opts->runs, "Times to ask each model (medians over them)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--max-tokens", opts->max_tokens, "max_tokens of each request")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--temperature", opts->temperature, "temperature of each request")
      ->check(CLI::Range(0.0, 2.0));
  cmd->add_flag("--cache", opts->cache, "Let the cache answer (default: bypass it)");
  cmd->add_flag("--json", opts->as_json, "Print the results as JSON");
  cmd->add_option("-c,--config", opts->engine.config_file,
                  "Run this configuration's gateway in-process");
  cmd->add_option("--url", opts->engine.url, "Send to a running gateway instead");
  cmd->add_option("--api-key", opts->engine.api_key,
                  "Key for the gateway (default: $SLUICE_API_KEY, then $OPENAI_API_KEY)");
  cmd->callback([opts, &run] { run = [opts] { return compare(*opts); }; });
}

}  // namespace sluice::cli
