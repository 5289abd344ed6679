#include "config/config_json.h"

#include <boost/json.hpp>
#include <boost/url.hpp>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>
#include <utility>
#include <vector>

#include "config/loader.h"
#include "core/strings.h"

namespace sluice::config {

namespace json = boost::json;

namespace {

// ---------------------------------------------------------------------------------------------
// Values as the file would hold them.

// The loader interpolates every scalar value; "$$" is its literal "$".
std::string escape_dollars(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '$') out += '$';
    out += c;
  }
  return out;
}

json::value text(std::string_view value) { return json::value(escape_dollars(value)); }

json::value duration(Duration d) { return json::value(core::format_duration(d)); }

json::value secret(std::string_view value, bool redact) {
  if (redact && !value.empty()) return json::value(kRedacted);
  return text(value);
}

// The URL with only its password replaced; the rest (user, host, port, database) stays visible.
json::value redis_url(const std::string& url, bool redact) {
  if (!redact) return text(url);
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return json::value(kRedacted);  // not a URL after all: hide all of it
  if (!parsed->has_password() || parsed->encoded_password().empty()) return text(url);
  // The views point into `url`, so the password's place in the text is known exactly.
  std::string_view password = parsed->encoded_password();
  std::size_t at = static_cast<std::size_t>(password.data() - url.data());
  std::string out = url.substr(0, at) + std::string(kRedacted) + url.substr(at + password.size());
  return text(out);
}

// Header names that usually carry a credential ("Authorization", "X-Api-Key", "Cookie", ...).
bool is_credential_header(std::string_view name) {
  std::string lower = core::to_lower(name);
  constexpr std::string_view kHints[] = {"auth",   "cookie",   "key",       "token",
                                         "secret", "password", "credential"};
  for (std::string_view hint : kHints) {
    if (lower.find(hint) != std::string::npos) return true;
  }
  return false;
}

std::string listen_text(const Listen& listen) {
  std::string host =
      listen.host.find(':') != std::string::npos ? "[" + listen.host + "]" : listen.host;
  return host + ":" + std::to_string(listen.port);
}

json::value rate_limit(const RateLimit& limit) {
  return json::object{{"rpm", limit.rpm}, {"tpm", limit.tpm}};
}

json::value redis(const std::string& url, Duration timeout, const std::string& key_prefix,
                  bool redact) {
  return json::object{{"url", redis_url(url, redact)},
                      {"timeout", duration(timeout)},
                      {"key_prefix", text(key_prefix)}};
}

json::value limits(const Config& c, bool redact) {
  const ServerLimits& l = c.limits;
  const RateLimits& r = c.rate_limits;
  json::object out{{"max_header_bytes", l.max_header_bytes},
                   {"max_body_bytes", l.max_body_bytes},
                   {"max_response_bytes", l.max_response_bytes},
                   {"header_timeout", duration(l.header_timeout)},
                   {"body_timeout", duration(l.body_timeout)},
                   {"idle_timeout", duration(l.idle_timeout)},
                   {"send_timeout", duration(l.send_timeout)},
                   {"max_connections", l.max_connections},
                   {"backend", r.backend == RateLimits::Backend::kRedis ? "redis" : "local"}};
  // A redis: section must name a URL; without one the timeout and prefix are the defaults.
  if (!r.redis.url.empty()) {
    out["redis"] = redis(r.redis.url, r.redis.timeout, r.redis.key_prefix, redact);
  }
  out["failure_mode"] = r.fail_open ? "open" : "closed";
  out["global"] = rate_limit(r.global);
  out["reserve_output_tokens"] = r.reserve_output_tokens;
  return out;
}

json::value cache(const Cache& c, bool redact) {
  json::array endpoints;
  if (c.chat) endpoints.emplace_back("chat");
  if (c.completions) endpoints.emplace_back("completions");
  if (c.embeddings) endpoints.emplace_back("embeddings");
  if (c.images) endpoints.emplace_back("images");
  json::object out{
      {"enabled", c.enabled},
      {"ttl", duration(c.ttl)},
      {"endpoints", std::move(endpoints)},
      {"only_deterministic", c.only_deterministic},
      {"max_entry_bytes", c.max_entry_bytes},
      {"namespace", text(c.default_namespace)},
      {"memory", json::object{{"max_bytes", c.memory.max_bytes}}},
      {"disk", json::object{{"path", text(c.disk.path)}, {"max_bytes", c.disk.max_bytes}}}};
  if (!c.redis.url.empty()) {
    out["redis"] = redis(c.redis.url, c.redis.timeout, c.redis.key_prefix, redact);
  }
  return out;
}

json::value retries(const Retries& r) {
  return json::object{{"max_attempts", r.max_attempts},
                      {"backoff_base", duration(r.backoff_base)},
                      {"backoff_max", duration(r.backoff_max)},
                      {"max_retry_after", duration(r.max_retry_after)},
                      {"budget", r.budget},
                      {"min_concurrency", r.min_concurrency}};
}

json::value queue(const Queue& q) {
  return json::object{
      {"max_size", q.max_size}, {"timeout", duration(q.timeout)}, {"status", q.status}};
}

json::value health(const Health& h) {
  const OutlierDetection& o = h.outlier;
  const CircuitBreaker& b = h.breaker;
  const ActiveProbe& p = h.probe;
  return json::object{{"outlier", json::object{{"enabled", o.enabled},
                                               {"consecutive_failures", o.consecutive_failures},
                                               {"base_ejection", duration(o.base_ejection)},
                                               {"max_ejection", duration(o.max_ejection)},
                                               {"max_ejection_percent", o.max_ejection_percent}}},
                      {"breaker", json::object{{"enabled", b.enabled},
                                               {"failure_ratio", b.failure_ratio},
                                               {"min_requests", b.min_requests},
                                               {"window", duration(b.window)},
                                               {"open_for", duration(b.open_for)},
                                               {"half_open_probes", b.half_open_probes}}},
                      {"probe", json::object{{"enabled", p.enabled},
                                             {"path", text(p.path)},
                                             {"interval", duration(p.interval)},
                                             {"timeout", duration(p.timeout)},
                                             {"unhealthy_after", p.unhealthy_after},
                                             {"healthy_after", p.healthy_after}}},
                      {"cooldown", duration(h.cooldown)},
                      {"max_cooldown", duration(h.max_cooldown)}};
}

// The members of `value` that differ from `base`, nested objects compared member by member.
json::object difference(const json::object& value, const json::object& base) {
  json::object out;
  for (const auto& [key, v] : value) {
    const json::value* b = base.if_contains(key);
    if (b != nullptr && v.is_object() && b->is_object()) {
      json::object nested = difference(v.get_object(), b->get_object());
      if (!nested.empty()) out[key] = std::move(nested);
    } else if (b == nullptr || *b != v) {
      out[key] = v;
    }
  }
  return out;
}

json::value provider(const Provider& p, bool redact) {
  json::object out{{"name", text(p.name)}, {"kind", provider_kind_name(p.kind)}};
  if (p.kind != ProviderKind::kMock) out["base_url"] = text(p.base_url.text);
  out["api_key"] = secret(p.api_key, redact);
  if (p.kind == ProviderKind::kAzure || p.kind == ProviderKind::kAnthropic) {
    out["api_version"] = text(p.api_version);
  }
  if (p.kind == ProviderKind::kAnthropic) out["default_max_tokens"] = p.default_max_tokens;
  out["timeouts"] = json::object{{"connect", duration(p.timeouts.connect)},
                                 {"first_byte", duration(p.timeouts.first_byte)},
                                 {"idle", duration(p.timeouts.idle)},
                                 {"total", duration(p.timeouts.total)}};
  json::object tls{{"verify", p.tls_verify}};
  if (!p.ca_file.empty()) tls["ca_file"] = text(p.ca_file);  // the loader refuses an empty one
  out["tls"] = std::move(tls);
  json::object headers;
  for (const auto& [name, value] : p.headers) {
    // Names are keys, which the loader does not interpolate: written as they are.
    headers[name] = is_credential_header(name) ? secret(value, redact) : text(value);
  }
  out["headers"] = std::move(headers);
  json::array forward;
  for (const std::string& name : p.forward_headers) forward.push_back(text(name));
  out["forward_headers"] = std::move(forward);
  out["max_idle_connections"] = p.max_idle_connections;
  out["pool_idle_timeout"] = duration(p.pool_idle_timeout);
  if (p.kind == ProviderKind::kMock) {
    const MockSettings& m = p.mock;
    out["mock"] = json::object{{"first_token_delay", duration(m.first_token_delay)},
                               {"tokens_per_second", m.tokens_per_second},
                               {"fault_rate", m.fault_rate},
                               {"seed", m.seed},
                               {"max_tokens", m.max_tokens},
                               {"embedding_dimensions", m.embedding_dimensions}};
  }
  return out;
}

json::value deployment(const Deployment& d) {
  const AdaptiveConcurrency& a = d.adaptive;
  return json::object{{"provider", text(d.provider)},
                      {"model", text(d.model)},
                      {"weight", d.weight},
                      {"max_concurrency", d.max_concurrency},
                      {"rpm", d.rpm},
                      {"tpm", d.tpm},
                      {"priority", d.priority},
                      {"input_cost_per_mtok", d.input_cost_per_mtok},
                      {"cached_input_cost_per_mtok", d.cached_input_cost_per_mtok},
                      {"output_cost_per_mtok", d.output_cost_per_mtok},
                      {"adaptive_concurrency", json::object{{"enabled", a.enabled},
                                                            {"initial_limit", a.initial_limit},
                                                            {"min_limit", a.min_limit},
                                                            {"max_limit", a.max_limit},
                                                            {"tolerance", a.tolerance}}}};
}

json::value hash_key(const HashKey& k) {
  json::object out;
  switch (k.source) {
    case HashKey::Source::kUser:
      out["source"] = "user";
      break;
    case HashKey::Source::kHeader:
      out["source"] = "header";
      out["header"] = text(k.header);
      break;
    case HashKey::Source::kPrefix:
      out["source"] = "prefix";
      out["bytes"] = k.prefix_bytes;
      break;
  }
  out["load_factor"] = k.load_factor;
  return out;
}

json::array names(const std::vector<std::string>& list) {
  json::array out;
  for (const std::string& name : list) out.push_back(text(name));
  return out;
}

json::value model(const Model& m, const Routing& routing) {
  json::array deployments;
  for (const Deployment& d : m.deployments) deployments.push_back(deployment(d));
  json::object out{{"name", text(m.name)},
                   {"deployments", std::move(deployments)},
                   {"strategy", std::string(strategy_name(m.strategy))}};
  // The loader refuses a hash_key under any other strategy.
  if (m.strategy == Strategy::kConsistentHash) out["hash_key"] = hash_key(m.hash_key);
  out["fallbacks"] = names(m.fallbacks);
  out["context_fallbacks"] = names(m.context_fallbacks);
  // 0 means "the provider's", which the loader takes as a key left out (it refuses "0s").
  json::object timeouts;
  if (m.timeouts.connect.count() != 0) timeouts["connect"] = duration(m.timeouts.connect);
  if (m.timeouts.first_byte.count() != 0) timeouts["first_byte"] = duration(m.timeouts.first_byte);
  if (m.timeouts.idle.count() != 0) timeouts["idle"] = duration(m.timeouts.idle);
  if (m.timeouts.total.count() != 0) timeouts["total"] = duration(m.timeouts.total);
  out["timeouts"] = std::move(timeouts);
  out["retries"] =
      difference(retries(m.retries).get_object(), retries(routing.retries).get_object());
  out["queue"] = difference(queue(m.queue).get_object(), queue(routing.queue).get_object());
  out["hedge"] = json::object{{"enabled", m.hedge.enabled},
                              {"delay", duration(m.hedge.delay)},
                              {"min_delay", duration(m.hedge.min_delay)}};
  out["health"] = difference(health(m.health).get_object(), health(routing.health).get_object());
  out["limits"] = rate_limit(m.limits);
  return out;
}

// ---------------------------------------------------------------------------------------------
// The text.

void write_string(std::string_view s, std::string& out) {
  out += '"';
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto u = static_cast<unsigned char>(s[i]);
    switch (s[i]) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      default:
        break;
    }
    char buf[8];
    if (u < 0x20 || u == 0x7f) {
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else if (u == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x85) {
      // U+0085 (NEL): a line break to YAML 1.1, so it is escaped like '\n'.
      out += "\\u0085";
      ++i;
    } else if (u == 0xe2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(s[i + 2]) == 0xa8 ||
                static_cast<unsigned char>(s[i + 2]) == 0xa9)) {
      // U+2028 and U+2029, the line and paragraph separators: line breaks to YAML too.
      std::snprintf(buf, sizeof buf, "\\u%04x",
                    0x2000 + static_cast<unsigned char>(s[i + 2]) - 0x80);
      out += buf;
      i += 2;
    } else if (u == 0xef && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xbb &&
               static_cast<unsigned char>(s[i + 2]) == 0xbf) {
      // U+FEFF, the byte order mark, which a YAML reader may drop.
      out += "\\ufeff";
      i += 2;
    } else {
      out += s[i];
    }
  }
  out += '"';
}

void write_double(double d, std::string& out) {
  if (!std::isfinite(d)) {
    // Not JSON; a string makes the loader say "expected a number" instead of taking a default.
    write_string(std::isnan(d) ? "nan" : d > 0 ? "inf" : "-inf", out);
    return;
  }
  char buf[32];
  // The shortest text that reads back as the same double ("0.1", not "0.1000000000000000055").
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view number(buf, ec == std::errc() ? end : buf);
  out += number;
  // "10.0", not "10": a JSON reader then sees a double, as the value was.
  if (number.find_first_of(".e") == std::string_view::npos) out += ".0";
}

void write_value(const json::value& v, int depth, std::string& out) {
  auto newline = [&](int level) {
    out += '\n';
    out.append(static_cast<std::size_t>(level) * 2, ' ');
  };
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      break;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      break;
    case json::kind::int64:
      out += std::to_string(v.get_int64());
      break;
    case json::kind::uint64:
      out += std::to_string(v.get_uint64());
      break;
    case json::kind::double_:
      write_double(v.get_double(), out);
      break;
    case json::kind::string:
      write_string(v.get_string(), out);
      break;
    case json::kind::array: {
      const json::array& a = v.get_array();
      if (a.empty()) {
        out += "[]";
        break;
      }
      out += '[';
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (i > 0) out += ',';
        newline(depth + 1);
        write_value(a[i], depth + 1, out);
      }
      newline(depth);
      out += ']';
      break;
    }
    case json::kind::object: {
      const json::object& o = v.get_object();
      if (o.empty()) {
        out += "{}";
        break;
      }
      out += '{';
      bool first = true;
      for (const auto& [key, value] : o) {
        if (!first) out += ',';
        first = false;
        newline(depth + 1);
        write_string(key, out);
        out += ": ";
        write_value(value, depth + 1, out);
      }
      newline(depth);
      out += '}';
      break;
    }
  }
}

// "SOURCE:LINE:COLUMN: message" -> "message"; anything else unchanged.
std::string without_position(const std::string& problem, const std::string& source) {
  std::string_view rest = problem;
  if (!rest.starts_with(source + ":")) return problem;
  rest.remove_prefix(source.size() + 1);
  for (int field = 0; field < 2; ++field) {
    std::size_t digits = 0;
    while (digits < rest.size() && std::isdigit(static_cast<unsigned char>(rest[digits]))) {
      ++digits;
    }
    if (digits == 0 || digits == rest.size() || rest[digits] != ':') return problem;
    rest.remove_prefix(digits + 1);
  }
  if (rest.starts_with(' ')) rest.remove_prefix(1);
  return std::string(rest);
}

}  // namespace

// The webhook only when set (a url is required); each rule with the keys its kind takes.
json::object alerts(const Alerts& a) {
  json::object out;
  if (!a.webhook.url.host.empty()) {
    out["webhook"] =
        json::object{{"url", text(a.webhook.url.text)}, {"timeout", duration(a.webhook.timeout)}};
  }
  json::array rules;
  for (const AlertRule& r : a.rules) {
    json::object o{{"name", text(r.name)}, {"kind", alert_kind_name(r.kind)}};
    if (r.kind == AlertRule::Kind::kMemory) {
      o["threshold"] = static_cast<std::uint64_t>(r.threshold);
    } else if (r.kind != AlertRule::Kind::kDeploymentEjected) {
      o["threshold"] = r.threshold;
    }
    if (alert_kind_has_window(r.kind)) {
      o["window"] = duration(r.window);
      o["min_requests"] = r.min_requests;
    }
    if (!r.deployment.empty()) o["deployment"] = text(r.deployment);
    rules.push_back(std::move(o));
  }
  out["rules"] = std::move(rules);
  return out;
}

json::value to_json(const Config& c, bool redact) {
  json::object out{
      {"listen", listen_text(c.listen)},
      {"workers", c.workers == 0 ? json::value("auto") : json::value(c.workers)},
      {"drain_timeout", duration(c.drain_timeout)},
      {"log_level", text(c.log_level)},
      {"access_log",
       json::object{{"enabled", c.access_log.enabled}, {"path", text(c.access_log.path)}}},
      {"limits", limits(c, redact)},
      {"data_dir", text(c.data_dir)},
      {"auth", json::object{{"mode", c.auth.mode == Auth::Mode::kKeys ? "keys" : "none"},
                            {"admin_key", secret(c.auth.admin_key, redact)}}},
      {"cache", cache(c.cache, redact)},
      {"coalesce", json::object{{"enabled", c.coalesce.enabled}}},
      {"metrics", json::object{{"enabled", c.metrics.enabled}}},
      {"routing", json::object{{"retries", retries(c.routing.retries)},
                               {"queue", queue(c.routing.queue)},
                               {"health", health(c.routing.health)}}}};
  json::array providers;
  for (const Provider& p : c.providers) providers.push_back(provider(p, redact));
  out["providers"] = std::move(providers);
  json::array models;
  for (const Model& m : c.models) models.push_back(model(m, c.routing));
  out["models"] = std::move(models);
  out["alerts"] = alerts(c.alerts);
  out["batch"] = json::object{{"max_file_bytes", c.batch.max_file_bytes},
                              {"concurrency", c.batch.concurrency}};
  return out;
}

std::string to_text(const json::value& doc) {
  std::string out;
  write_value(doc, 0, out);
  out += '\n';
  return out;
}

Config load_json(const json::value& doc, const std::string& source) {
  try {
    return load_yaml(to_text(doc), source);
  } catch (const ConfigError& e) {
    std::vector<std::string> problems;
    for (const std::string& p : e.problems()) problems.push_back(without_position(p, source));
    throw ConfigError(std::move(problems));
  }
}

}  // namespace sluice::config
