// `sluice usage [--group-by key|model|day] [--from X] [--to Y] [--key ID] [--json]`: the usage
// report that GET /admin/usage gives, read from the control-plane database directly, as a table
// with a total line or as the API's JSON. --from and --to take unix seconds or a UTC date
// (YYYY-MM-DD; --to is exclusive), checked by the same parser as the API's query string.
#include <boost/json.hpp>

#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/store_access.h"
#include "cli/table.h"
#include "core/asio.h"
#include "store/usage.h"

namespace sluice::cli {

namespace {

constexpr const char* kCommand = "sluice usage";

struct UsageOptions {
  StoreOptions store;
  std::string group_by = "key";
  std::string from, to, key;
  bool json = false;
};

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::vector<std::string> figures(const store::UsageGroup& g) {
  return {std::to_string(g.requests),
          std::to_string(g.errors),
          std::to_string(g.cache_hits),
          std::to_string(g.prompt_tokens),
          std::to_string(g.completion_tokens),
          std::to_string(g.cached_tokens),
          fixed(g.cost_usd, 6),
          fixed(g.saved_usd, 6),
          fixed(g.avg_latency_ms, 1)};
}

void print_table(const store::UsageQuery& q, const std::vector<store::UsageGroup>& groups) {
  bool by_key = q.group_by == store::UsageQuery::GroupBy::kKey;
  std::vector<std::string> headers;
  if (q.group_by == store::UsageQuery::GroupBy::kKey) headers = {"KEY", "NAME"};
  if (q.group_by == store::UsageQuery::GroupBy::kModel) headers = {"MODEL"};
  if (q.group_by == store::UsageQuery::GroupBy::kDay) headers = {"DAY (UTC)"};
  const std::size_t first_figure = headers.size();
  for (const char* h : {"REQUESTS", "ERRORS", "CACHE HITS", "PROMPT", "COMPLETION", "CACHED",
                        "COST USD", "SAVED USD", "AVG MS"}) {
    headers.emplace_back(h);
  }
  Table t(headers);
  for (std::size_t c = first_figure; c < headers.size(); ++c) t.align_right(c);
  auto add = [&](std::vector<std::string> lead, const store::UsageGroup& g) {
    auto f = figures(g);
    lead.insert(lead.end(), f.begin(), f.end());
    t.add(std::move(lead));
  };
  for (const auto& g : groups) {
    std::string group = g.group.empty() && by_key ? "(no key)" : g.group;
    add(by_key ? std::vector<std::string>{group, g.key_name} : std::vector<std::string>{group}, g);
  }
  add(by_key ? std::vector<std::string>{"total", ""} : std::vector<std::string>{"total"},
      store::usage_total(groups));
  t.print(std::cout);
}

int usage(const UsageOptions& o) {
  auto q = store::parse_usage_query(o.group_by, o.from, o.to);
  if (!q) {
    // The API's parameter names are the flags' names without the dashes.
    std::string flag = q.error().param == "group_by" ? "--group-by" : "--" + q.error().param;
    std::cerr << kCommand << ": " << flag << ": " << q.error().message << "\n";
    return 1;
  }
  q->key_id = o.key;
  auto db = open_store(o.store, kCommand, /*create=*/false);
  if (!db) return 1;
  auto groups = store::UsageStore(*db).try_report(*q);
  if (!groups) {
    std::cerr << kCommand << ": " << groups.error().message << "\n";
    return 1;
  }
  if (o.json) {
    std::cout << json::serialize(store::usage_report_json(*q, *groups)) << "\n";
  } else {
    print_table(*q, *groups);
  }
  return 0;
}

}  // namespace

void add_usage(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<UsageOptions>();
  auto* cmd = app.add_subcommand("usage", "Report usage and cost from the usage ledger");
  add_store_options(*cmd, o->store);
  cmd->add_option("--group-by", o->group_by, "key, model or day")->capture_default_str();
  cmd->add_option("--from", o->from, "From this time: unix seconds or a UTC date YYYY-MM-DD");
  cmd->add_option("--to", o->to, "Up to this time, exclusive: unix seconds or YYYY-MM-DD");
  cmd->add_option("--key", o->key, "Only this key's requests (its id)");
  cmd->add_flag("--json", o->json, "Print the API's JSON report");
  cmd->callback([o, &run] { run = [o] { return usage(*o); }; });
}

}  // namespace sluice::cli
