// `sluice keys create|list|show|update|revoke`: manages virtual keys in the control-plane
// database directly (no gateway needs to run; one that runs on the same file sees the change
// within its poll interval). The flags are turned into the admin API's JSON and checked by
// store::parse_key_spec, so a bad value gets the same message here as from POST /admin/keys,
// prefixed with the flag. Errors go to stderr with exit code 1.
#include <boost/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "cli/commands.h"
#include "cli/store_access.h"
#include "cli/table.h"
#include "core/asio.h"
#include "core/clock.h"
#include "core/strings.h"
#include "core/utc.h"
#include "store/keys.h"

namespace sluice::cli {

namespace {

constexpr const char* kCommand = "sluice keys";

// The flags that create and update share; each Option* says whether its flag was given.
struct KeyFlags {
  std::string name, models, rpm, tpm, max_concurrency, budget_daily, budget_monthly, budget_total,
      cache_namespace, expires;
  std::vector<std::string> metadata;
  CLI::Option *name_opt = nullptr, *models_opt = nullptr, *rpm_opt = nullptr, *tpm_opt = nullptr,
              *concurrency_opt = nullptr, *daily_opt = nullptr, *monthly_opt = nullptr,
              *total_opt = nullptr, *namespace_opt = nullptr, *expires_opt = nullptr,
              *metadata_opt = nullptr;
};

struct KeysOptions {
  StoreOptions store;
  KeyFlags flags;
  std::string id;
  bool json = false;
};

// The flag for a field of the admin API's JSON, for messages.
std::string flag_for(std::string_view param) {
  if (param == "name") return "--name";
  if (param == "models") return "--models";
  if (param == "rpm") return "--rpm";
  if (param == "tpm") return "--tpm";
  if (param == "max_concurrency") return "--max-concurrency";
  if (param == "budget.daily") return "--budget-daily";
  if (param == "budget.monthly") return "--budget-monthly";
  if (param == "budget.total") return "--budget-total";
  if (param == "cache_namespace") return "--namespace";
  if (param == "expires_at") return "--expires";
  if (param == "metadata") return "--metadata";
  return "";
}

int fail(const std::string& command, const core::Error& e) {
  std::string flag = flag_for(e.param);
  std::cerr << command << ": " << (flag.empty() ? "" : flag + ": ") << e.message << "\n";
  return 1;
}

bool given(const CLI::Option* o) { return o != nullptr && o->count() > 0; }

// A flag's text as a JSON number when it reads as one, else as a string, so that parse_key_spec
// judges it and says what the API would ("rpm must not be negative", "... not a string").
json::value number_or_text(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (!ec && v.is_number()) return v;
  return json::value(text);
}

// --expires: "never", a duration from now ("30d", "12h", "45m", "90s"), a UTC date
// ("2027-01-01", its midnight) or unix seconds. JSON: unix seconds, or null for never.
core::Result<json::value> expiry_value(const std::string& text, std::int64_t now_ms) {
  auto bad = core::Error(core::Errc::kInvalidRequest,
                         "must be never, a duration from now (30d, 12h, 45m, 90s), a UTC date "
                         "(2027-01-01) or unix seconds, not \"" +
                             text + "\"");
  if (text == "never") return json::value(nullptr);
  if (auto day = core::parse_utc_date(text)) return json::value(*day / 1000);
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 12) return bad;
  std::int64_t n = std::stoll(text.substr(0, digits));
  std::string unit = text.substr(digits);
  std::int64_t unit_ms = 0;
  if (unit.empty()) return json::value(n);
  if (unit == "d") {
    unit_ms = core::kDayMs;
  } else if (unit == "h") {
    unit_ms = 3'600'000;
  } else if (unit == "m") {
    unit_ms = 60'000;
  } else if (unit == "s") {
    unit_ms = 1000;
  } else {
    return bad;
  }
  return json::value((now_ms + n * unit_ms) / 1000);
}

// The flags as the admin API's body.
core::Result<json::object> body_from_flags(const KeyFlags& f, std::int64_t now_ms) {
  json::object body;
  if (given(f.name_opt)) body["name"] = f.name;
  if (given(f.models_opt)) {
    json::array models;
    for (std::string_view one : core::split_trimmed(f.models, ',')) models.emplace_back(one);
    body["models"] = std::move(models);  // '' gives [], every model
  }
  if (given(f.rpm_opt)) body["rpm"] = number_or_text(f.rpm);
  if (given(f.tpm_opt)) body["tpm"] = number_or_text(f.tpm);
  if (given(f.concurrency_opt)) body["max_concurrency"] = number_or_text(f.max_concurrency);
  json::object budget;
  if (given(f.daily_opt)) budget["daily"] = number_or_text(f.budget_daily);
  if (given(f.monthly_opt)) budget["monthly"] = number_or_text(f.budget_monthly);
  if (given(f.total_opt)) budget["total"] = number_or_text(f.budget_total);
  if (!budget.empty()) body["budget"] = std::move(budget);
  if (given(f.namespace_opt)) body["cache_namespace"] = f.cache_namespace;
  if (given(f.expires_opt)) {
    auto at = expiry_value(f.expires, now_ms);
    if (!at) return core::Error(at.error().code, at.error().message, "expires_at");
    body["expires_at"] = std::move(*at);
  }
  if (given(f.metadata_opt)) {
    json::object metadata;
    for (const auto& kv : f.metadata) {
      auto eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        return core::Error(core::Errc::kInvalidRequest, "must be KEY=VALUE, not \"" + kv + "\"",
                           "metadata");
      }
      metadata[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    body["metadata"] = std::move(metadata);
  }
  return body;
}

void add_key_flags(CLI::App& cmd, KeyFlags& f) {
  f.name_opt = cmd.add_option("--name", f.name, "A name for the key, unique among active keys")
                   ->type_name("NAME");
  f.models_opt = cmd.add_option("--models", f.models,
                                "Models it may use, comma-separated globs ('gpt-4o*,mock'); "
                                "'' for every model")
                     ->type_name("GLOBS");
  f.rpm_opt = cmd.add_option("--rpm", f.rpm, "Requests per minute (0: unlimited)")->type_name("N");
  f.tpm_opt = cmd.add_option("--tpm", f.tpm, "Tokens per minute (0: unlimited)")->type_name("N");
  f.concurrency_opt = cmd.add_option("--max-concurrency", f.max_concurrency,
                                     "Requests in flight at once (0: unlimited)")
                          ->type_name("N");
  f.daily_opt = cmd.add_option("--budget-daily", f.budget_daily, "USD per UTC day (0: none)")
                    ->type_name("USD");
  f.monthly_opt =
      cmd.add_option("--budget-monthly", f.budget_monthly, "USD per UTC month (0: none)")
          ->type_name("USD");
  f.total_opt =
      cmd.add_option("--budget-total", f.budget_total, "USD in all (0: none)")->type_name("USD");
  f.namespace_opt = cmd.add_option("--namespace", f.cache_namespace,
                                   "Share this cache namespace ('' for the key's own)")
                        ->type_name("NS");
  f.expires_opt = cmd.add_option("--expires", f.expires,
                                 "When it stops working: 30d, 12h, 2027-01-01, unix seconds, "
                                 "or never")
                      ->type_name("WHEN");
  // One value per flag, so a following positional id is never taken for metadata.
  f.metadata_opt = cmd.add_option("--metadata", f.metadata,
                                  "KEY=VALUE; repeat the flag for more; replaces all of the key's "
                                  "metadata")
                       ->type_name("KEY=VALUE")
                       ->expected(1)
                       ->allow_extra_args(false)
                       ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

std::string usd(double v) {
  char buf[64];
  if (v == static_cast<double>(static_cast<long long>(v))) {
    std::snprintf(buf, sizeof buf, "$%lld", static_cast<long long>(v));
  } else {
    std::snprintf(buf, sizeof buf, v < 0.01 ? "$%.4f" : "$%.2f", v);
  }
  return buf;
}

std::string state(const store::KeyRecord& k, std::int64_t now_ms) {
  if (k.revoked_at_ms != 0) return "revoked";
  if (k.expires_at_ms != 0 && k.expires_at_ms <= now_ms) return "expired";
  return "active";
}

std::string models_text(const store::KeyRecord& k) {
  if (k.models.empty()) return "*";
  std::string out;
  for (const auto& m : k.models) out += (out.empty() ? "" : ",") + m;
  return out;
}

std::string limits_text(const store::KeyRecord& k) {
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : " ") + part; };
  if (k.rpm != 0) add("rpm=" + std::to_string(k.rpm));
  if (k.tpm != 0) add("tpm=" + std::to_string(k.tpm));
  if (k.max_concurrency != 0) add("concurrency=" + std::to_string(k.max_concurrency));
  return out.empty() ? "-" : out;
}

std::string budget_text(const store::KeyRecord& k) {
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : " ") + part; };
  if (k.budget_daily != 0) add(usd(k.budget_daily) + "/day");
  if (k.budget_monthly != 0) add(usd(k.budget_monthly) + "/month");
  if (k.budget_total != 0) add(usd(k.budget_total) + " total");
  return out.empty() ? "-" : out;
}

void print_key(const store::KeyRecord& k, std::int64_t now_ms) {
  auto unlimited = [](std::uint64_t v) { return v == 0 ? "unlimited" : std::to_string(v); };
  Table t({"", ""});
  t.add({"id", k.id});
  t.add({"name", k.name});
  t.add({"prefix", k.prefix + "..."});
  t.add({"models", k.models.empty() ? "every model" : models_text(k)});
  t.add({"rpm", unlimited(k.rpm)});
  t.add({"tpm", unlimited(k.tpm)});
  t.add({"max concurrency", unlimited(static_cast<std::uint64_t>(k.max_concurrency))});
  t.add({"budget", budget_text(k) == "-" ? "none" : budget_text(k)});
  t.add({"cache namespace",
         k.cache_namespace.empty() ? "its own (" + k.id + ")" : "shared: " + k.cache_namespace});
  t.add({"expires", k.expires_at_ms == 0 ? "never" : core::utc_time(k.expires_at_ms) + " UTC"});
  t.add({"metadata", json::serialize(k.metadata)});
  t.add({"created", core::utc_time(k.created_at_ms) + " UTC"});
  std::string s = state(k, now_ms);
  if (s == "revoked") s += " " + core::utc_time(k.revoked_at_ms) + " UTC";
  t.add({"state", s});
  // The header row of a two-column listing is empty; skip it.
  std::ostringstream out;
  t.print(out);
  std::string text = out.str();
  std::cout << text.substr(text.find('\n') + 1);
}

int create(KeysOptions& o) {
  const std::string command = std::string(kCommand) + " create";
  std::int64_t now = core::SteadyClock::instance().unix_ms();
  auto body = body_from_flags(o.flags, now);
  if (!body) return fail(command, body.error());
  auto spec = store::parse_key_spec(*body, store::SpecMode::kCreate);
  if (!spec) return fail(command, spec.error());
  auto db = open_store(o.store, command, /*create=*/true);
  if (!db) return 1;
  auto created = store::KeyStore(*db).create(*spec, now);
  if (!created) return fail(command, created.error());
  if (o.json) {
    json::object out = store::key_json(created->key);
    out["secret"] = created->secret;
    std::cout << json::serialize(out) << "\n";
    return 0;
  }
  std::cout << "Created " << created->key.id << " (" << created->key.name << ").\n"
            << "secret: " << created->secret << "\n"
            << "This secret will not be shown again: store it now. Sluice keeps only its hash.\n";
  return 0;
}

int list(KeysOptions& o) {
  const std::string command = std::string(kCommand) + " list";
  auto db = open_store(o.store, command, /*create=*/false);
  if (!db) return 1;
  auto keys = store::KeyStore(*db).try_list();
  if (!keys) return fail(command, keys.error());
  if (o.json) {
    json::array data;
    for (const auto& k : *keys) data.push_back(store::key_json(k));
    std::cout << json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}})
              << "\n";
    return 0;
  }
  std::int64_t now = core::SteadyClock::instance().unix_ms();
  Table t({"ID", "NAME", "PREFIX", "MODELS", "LIMITS", "BUDGET", "STATE"});
  for (const auto& k : *keys) {
    t.add({k.id, k.name, k.prefix + "...", models_text(k), limits_text(k), budget_text(k),
           state(k, now)});
  }
  t.print(std::cout);
  return 0;
}

int show_one(const std::string& command, const core::Result<store::KeyRecord>& key, bool as_json) {
  if (!key) return fail(command, key.error());
  if (as_json) {
    std::cout << json::serialize(store::key_json(*key)) << "\n";
  } else {
    print_key(*key, core::SteadyClock::instance().unix_ms());
  }
  return 0;
}

int show(KeysOptions& o) {
  const std::string command = std::string(kCommand) + " show";
  auto db = open_store(o.store, command, /*create=*/false);
  if (!db) return 1;
  return show_one(command, store::KeyStore(*db).get(o.id), o.json);
}

int update(KeysOptions& o) {
  const std::string command = std::string(kCommand) + " update";
  auto body = body_from_flags(o.flags, core::SteadyClock::instance().unix_ms());
  if (!body) return fail(command, body.error());
  if (body->empty()) {
    std::cerr << command << ": nothing to change (see --help for the flags)\n";
    return 1;
  }
  auto spec = store::parse_key_spec(*body, store::SpecMode::kPatch);
  if (!spec) return fail(command, spec.error());
  auto db = open_store(o.store, command, /*create=*/false);
  if (!db) return 1;
  return show_one(command, store::KeyStore(*db).update(o.id, *spec), o.json);
}

int revoke(KeysOptions& o) {
  const std::string command = std::string(kCommand) + " revoke";
  auto db = open_store(o.store, command, /*create=*/false);
  if (!db) return 1;
  std::int64_t now = core::SteadyClock::instance().unix_ms();
  store::KeyStore keys(*db);
  auto before = keys.get(o.id);
  if (!before) return fail(command, before.error());
  auto key = keys.revoke(o.id, now);
  if (!key) return fail(command, key.error());
  if (o.json) {
    std::cout << json::serialize(store::key_json(*key)) << "\n";
  } else if (before->revoked_at_ms != 0) {
    std::cout << key->id << " (" << key->name << ") was already revoked at "
              << core::utc_time(key->revoked_at_ms) << " UTC.\n";
  } else {
    std::cout << "Revoked " << key->id << " (" << key->name
              << "). Gateways using this database refuse it within a second.\n";
  }
  return 0;
}

}  // namespace

void add_keys(CLI::App& app, std::function<int()>& run) {
  auto* cmd = app.add_subcommand("keys", "Manage virtual keys in the control-plane database");
  cmd->require_subcommand(1);
  // One set of options per subcommand: the flags remember their own CLI::Option.
  auto add = [&](const char* name, const char* help, int (*action)(KeysOptions&), bool with_id,
                 bool with_flags, const char* json_help) {
    auto o = std::make_shared<KeysOptions>();
    auto* sub = cmd->add_subcommand(name, help);
    add_store_options(*sub, o->store);
    if (with_id) sub->add_option("id", o->id, "The key's id (key_...)")->required();
    if (with_flags) add_key_flags(*sub, o->flags);
    sub->add_flag("--json", o->json, json_help);
    sub->callback([o, action, &run] { run = [o, action] { return action(*o); }; });
  };
  add("create", "Create a key and print its secret (shown only once)", create, false, true,
      "Print the key as JSON, with its secret");
  add("list", "List every key, revoked ones included", list, false, false, "Print JSON");
  add("show", "Show one key", show, true, false, "Print JSON");
  add("update", "Change a key's name, models, limits, budget, namespace, expiry or metadata",
      update, true, true, "Print the key as JSON");
  add("revoke", "Revoke a key; running gateways refuse it within a second", revoke, true, false,
      "Print the key as JSON");
}

}  // namespace sluice::cli
