#include "config/loader.h"

// yaml-cpp's node code trips GCC 12's -Wdangling-pointer once inlined at -O2 (a false positive
// in the library's own headers).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#include <yaml-cpp/yaml.h>
#pragma GCC diagnostic pop
#include <boost/url.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <span>
#include <utility>

#include "config/prices.h"
#include "core/strings.h"

namespace sluice::config {

namespace {

constexpr std::string_view kTopLevelKeys[] = {
    "listen",    "workers", "drain_timeout", "log_level", "access_log", "limits",
    "data_dir",  "auth",    "cache",         "coalesce",  "metrics",    "routing",
    "providers", "models",  "alerts",        "batch"};
constexpr std::string_view kAlertsKeys[] = {"rules", "webhook"};
constexpr std::string_view kAlertRuleKeys[] = {"name",   "kind",         "threshold",
                                               "window", "min_requests", "deployment"};
constexpr std::string_view kWebhookKeys[] = {"url", "timeout"};
// Windows are differences of the performance API's readings, which go back 15 minutes.
constexpr Duration kMaxAlertWindow = std::chrono::minutes(15);
constexpr std::string_view kAuthKeys[] = {"mode", "admin_key"};
constexpr std::string_view kRateLimitKeys[] = {"rpm", "tpm"};
constexpr std::string_view kCacheKeys[] = {
    "enabled", "ttl",  "endpoints", "only_deterministic", "max_entry_bytes", "namespace",
    "memory",  "disk", "redis"};
constexpr std::string_view kCacheMemoryKeys[] = {"max_bytes"};
constexpr std::string_view kCacheDiskKeys[] = {"path", "max_bytes"};
constexpr std::string_view kRedisKeys[] = {"url", "timeout", "key_prefix"};
constexpr std::string_view kCacheEndpoints[] = {"chat", "completions", "embeddings", "images"};
constexpr std::string_view kCoalesceKeys[] = {"enabled"};
constexpr std::string_view kBatchKeys[] = {"max_file_bytes", "concurrency"};
// More would make batch work crowd out interactive requests rather than share with them.
constexpr int kMaxBatchConcurrency = 1024;
constexpr std::string_view kMetricsKeys[] = {"enabled"};
constexpr std::string_view kAccessLogKeys[] = {"enabled", "path"};
constexpr std::string_view kLimitsKeys[] = {
    "max_header_bytes", "max_body_bytes", "max_response_bytes",   "header_timeout", "body_timeout",
    "idle_timeout",     "send_timeout",   "max_connections",      "backend",        "redis",
    "failure_mode",     "global",         "reserve_output_tokens"};
// The vendors' own endpoints, for kinds whose base_url may be left out.
constexpr std::string_view kAnthropicBaseUrl = "https://api.anthropic.com";
constexpr std::string_view kGeminiBaseUrl = "https://generativelanguage.googleapis.com/v1beta";
constexpr std::string_view kAzureApiVersion = "2024-10-21";
constexpr std::string_view kAnthropicVersion = "2023-06-01";
constexpr std::string_view kProviderKeys[] = {
    "name",     "kind", "base_url", "api_key",         "api_version",          "default_max_tokens",
    "timeouts", "tls",  "headers",  "forward_headers", "max_idle_connections", "pool_idle_timeout",
    "mock"};
constexpr std::string_view kTimeoutKeys[] = {"connect", "first_byte", "idle", "total"};
constexpr std::string_view kTlsKeys[] = {"verify", "ca_file"};
constexpr std::string_view kMockKeys[] = {"first_token_delay", "tokens_per_second",
                                          "fault_rate",        "seed",
                                          "max_tokens",        "embedding_dimensions"};
constexpr std::string_view kModelKeys[] = {
    "name",     "deployments", "strategy", "hash_key", "fallbacks", "context_fallbacks",
    "timeouts", "retries",     "queue",    "hedge",    "health",    "limits"};
constexpr std::string_view kDeploymentKeys[] = {"provider",
                                                "model",
                                                "weight",
                                                "max_concurrency",
                                                "rpm",
                                                "tpm",
                                                "priority",
                                                "input_cost_per_mtok",
                                                "cached_input_cost_per_mtok",
                                                "output_cost_per_mtok",
                                                "adaptive_concurrency"};
constexpr std::string_view kRoutingKeys[] = {"retries", "queue", "health"};
constexpr std::string_view kRetriesKeys[] = {"max_attempts",    "backoff_base", "backoff_max",
                                             "max_retry_after", "budget",       "min_concurrency"};
constexpr std::string_view kQueueKeys[] = {"max_size", "timeout", "status"};
constexpr std::string_view kHedgeKeys[] = {"enabled", "delay", "min_delay"};
constexpr std::string_view kHealthKeys[] = {"outlier", "breaker", "probe", "cooldown",
                                            "max_cooldown"};
constexpr std::string_view kOutlierKeys[] = {"enabled", "consecutive_failures", "base_ejection",
                                             "max_ejection", "max_ejection_percent"};
constexpr std::string_view kBreakerKeys[] = {"enabled", "failure_ratio", "min_requests",
                                             "window",  "open_for",      "half_open_probes"};
constexpr std::string_view kProbeKeys[] = {"enabled",         "path",         "interval", "timeout",
                                           "unhealthy_after", "healthy_after"};
constexpr std::string_view kHashKeyKeys[] = {"source", "header", "bytes", "load_factor"};
constexpr std::string_view kHashSources[] = {"user", "header", "prefix"};
constexpr std::string_view kAdaptiveKeys[] = {"enabled", "initial_limit", "min_limit", "max_limit",
                                              "tolerance"};
constexpr int kMaxAttempts = 10;
constexpr int kMaxWeight = 1000000;
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error", "off"};

// Headers that frame the message or manage the connection. The gateway sets them itself; one
// copied from a client or configuration could desynchronize the upstream connection (request
// smuggling), so configuration may neither add nor forward them.
constexpr std::string_view kReservedHeaders[] = {"connection", "content-length",    "host",
                                                 "keep-alive", "proxy-connection",  "te",
                                                 "trailer",    "transfer-encoding", "upgrade"};

// Suggestions further away than this are more confusing than helpful.
constexpr std::size_t kMaxSuggestionDistance = 2;
// Bounds the recursion of ${A:-${B:-...}} so a hostile file cannot exhaust the stack.
constexpr int kMaxInterpolationDepth = 8;
constexpr int kMaxWorkers = 1024;
constexpr int kMaxMockTokens = 100000;
constexpr int kMaxEmbeddingDimensions = 8192;

// ---------------------------------------------------------------------------------------------
// Small text helpers.

// Quotes a value for a message, escaping what would make the message ambiguous or unreadable.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean "x"?)" for the closest candidate, or "" when none is close enough.
template <class Range>
std::string did_you_mean(std::string_view word, const Range& candidates) {
  std::string_view best;
  std::size_t best_distance = kMaxSuggestionDistance + 1;
  for (std::string_view candidate : candidates) {
    std::size_t d = edit_distance(word, candidate);
    // A distance as long as the word itself means nothing of it survived.
    if (d < best_distance && d < word.size()) {
      best = candidate;
      best_distance = d;
    }
  }
  if (best.empty()) return {};
  return " (did you mean " + quote(best) + "?)";
}

std::string join_alternatives(std::span<const std::string_view> words) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += i + 1 == words.size() ? " or " : ", ";
    out += words[i];
  }
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// RFC 9110 "tchar": the characters of a header field name.
bool is_token_char(char c) {
  return is_alpha(c) || is_digit(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char);
}

// Provider names appear in metrics labels and log lines, so they stay simple.
bool is_simple_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-';
  });
}

bool is_reserved_header(std::string_view lower_name) {
  return std::find(std::begin(kReservedHeaders), std::end(kReservedHeaders), lower_name) !=
         std::end(kReservedHeaders);
}

template <class Int>
std::optional<Int> parse_integer(std::string_view text) {
  Int value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// ---------------------------------------------------------------------------------------------
// Values that have their own grammar.

// "host:port" or "[v6-address]:port".
std::optional<Listen> parse_listen_text(std::string_view text, std::string& error) {
  Listen out;
  std::string_view port_text;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      error = "missing ']' after the IPv6 address";
      return std::nullopt;
    }
    std::string_view host = text.substr(1, close - 1);
    if (!boost::urls::parse_ipv6_address(host)) {
      error = "invalid IPv6 address " + quote(host);
      return std::nullopt;
    }
    std::string_view rest = text.substr(close + 1);
    if (!rest.starts_with(':')) {
      error = "expected \"[address]:port\", e.g. \"[::1]:8080\"";
      return std::nullopt;
    }
    out.host = std::string(host);
    port_text = rest.substr(1);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      error = "expected \"host:port\", e.g. \"127.0.0.1:8080\"";
      return std::nullopt;
    }
    std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) {
      error = "an IPv6 address must be in brackets, e.g. \"[::1]:8080\"";
      return std::nullopt;
    }
    if (host.empty()) {
      error = "missing host (use 0.0.0.0 to listen on every interface)";
      return std::nullopt;
    }
    bool valid = std::all_of(host.begin(), host.end(), [](char c) {
      return is_alpha(c) || is_digit(c) || c == '.' || c == '-';
    });
    if (!valid) {
      error = "invalid host " + quote(host);
      return std::nullopt;
    }
    out.host = std::string(host);
    port_text = text.substr(colon + 1);
  }
  auto port = parse_integer<std::uint32_t>(port_text);  // rejects "", "-1" and "80x"
  if (!port || *port > 65535) {
    error = "invalid port " + quote(port_text) + " (expected 0 to 65535)";
    return std::nullopt;
  }
  out.port = static_cast<std::uint16_t>(*port);
  return out;
}

std::optional<Url> parse_base_url(std::string_view text, std::string& error) {
  // parse_uri rather than parse_absolute_uri so a fragment gets its own message below.
  auto parsed = boost::urls::parse_uri(text);
  if (!parsed) {
    // A malformed URL may still hold "user:password@"; messages end up in logs.
    std::string shown = text.find('@') == std::string_view::npos ? " " + quote(text) : "";
    error = "invalid URL" + shown + " (expected e.g. \"http://127.0.0.1:8000/v1\")";
    return std::nullopt;
  }
  const boost::urls::url_view& u = *parsed;
  Url out;
  if (u.scheme_id() == boost::urls::scheme::https) {
    out.tls = true;
  } else if (u.scheme_id() != boost::urls::scheme::http) {
    error = "unsupported scheme " + quote(u.scheme()) + " (expected http or https)";
    return std::nullopt;
  }
  if (u.has_userinfo()) {
    // The URL is not quoted: it holds a credential, and messages end up in logs.
    error = "must not contain credentials (user:password@); use api_key or headers instead";
    return std::nullopt;
  }
  if (u.has_query() || u.has_fragment()) {
    // Not quoted: some APIs take their key as a query parameter ("?key=...").
    error = "must not have a query or fragment (\"?...\" or \"#...\")";
    return std::nullopt;
  }
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
      out.host = u.host_address();  // without the brackets of an IPv6 literal
      break;
    case boost::urls::host_type::name: {
      std::string_view host = u.encoded_host();
      bool valid = std::all_of(host.begin(), host.end(), [](char c) {
        return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_';
      });
      if (!valid) {
        error = "invalid host " + quote(host);
        return std::nullopt;
      }
      out.host = std::string(host);
      break;
    }
    default:
      break;
  }
  if (out.host.empty()) {
    error = "missing host";
    return std::nullopt;
  }
  out.port = out.tls ? 443 : 80;
  if (u.has_port()) {
    std::string_view port_text = u.port();
    // Boost.URL's port_number() wraps ports above 65535 around, so the digits are read here.
    auto port = parse_integer<std::uint32_t>(port_text);
    if (!port || *port == 0 || *port > 65535) {
      error = "invalid port " + quote(port_text) + " (expected 1 to 65535)";
      return std::nullopt;
    }
    out.port = static_cast<std::uint16_t>(*port);
  }
  std::string_view path = u.encoded_path();
  while (path.ends_with('/')) path.remove_suffix(1);
  out.base_path = std::string(path);
  out.text = std::string(text);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Interpolation.

bool is_var_start(char c) { return is_alpha(c) || c == '_'; }
bool is_var_char(char c) { return is_var_start(c) || is_digit(c); }

// The '}' closing a "${" whose body starts at `pos`, skipping nested "${...}" (a default may
// hold a reference) and "$$"; npos when there is none.
std::size_t find_closing_brace(std::string_view text, std::size_t pos) {
  int depth = 0;
  for (std::size_t i = pos; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && (text[i + 1] == '$' || text[i + 1] == '{')) {
      if (text[i + 1] == '{') ++depth;
      ++i;
    } else if (text[i] == '}') {
      if (depth == 0) return i;
      --depth;
    }
  }
  return std::string_view::npos;
}

bool interpolate_into(std::string_view text, const EnvLookup& lookup, int depth, std::string& out,
                      std::string& error) {
  if (depth > kMaxInterpolationDepth) {
    error = "${...} nested too deeply";
    return false;
  }
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$' || i + 1 == text.size() || (text[i + 1] != '$' && text[i + 1] != '{')) {
      out += text[i++];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    std::size_t close = find_closing_brace(text, i + 2);
    if (close == std::string_view::npos) {
      error = "unterminated \"${\" (write \"$$\" for a literal \"$\")";
      return false;
    }
    std::string_view expr = text.substr(i + 2, close - i - 2);
    std::size_t name_end = 0;
    if (!expr.empty() && is_var_start(expr[0])) {
      name_end = 1;
      while (name_end < expr.size() && is_var_char(expr[name_end])) ++name_end;
    }
    std::string_view name = expr.substr(0, name_end);
    std::string_view rest = expr.substr(name_end);
    if (name.empty()) {
      error = "invalid variable name in " + quote(text.substr(i, close - i + 1)) +
              " (expected letters, digits and '_', not starting with a digit)";
      return false;
    }
    std::optional<std::string> value = lookup(name);
    bool has_value = value && !value->empty();
    if (rest.empty()) {
      if (value) out += *value;
    } else if (rest.starts_with(":-")) {
      if (has_value) {
        out += *value;
      } else if (!interpolate_into(rest.substr(2), lookup, depth + 1, out, error)) {
        return false;
      }
    } else if (rest.starts_with(":?")) {
      if (!has_value) {
        std::string_view message = rest.substr(2);
        error = std::string(name) + ": " +
                (message.empty() ? std::string("required variable is unset or empty")
                                 : std::string(message));
        return false;
      }
      out += *value;
    } else {
      error = "unsupported expression " + quote(text.substr(i, close - i + 1)) +
              " (expected ${VAR}, ${VAR:-default} or ${VAR:?message})";
      return false;
    }
    i = close + 1;
  }
  return true;
}

std::optional<std::string> getenv_lookup(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// ---------------------------------------------------------------------------------------------
// The loader: walks the YAML tree once, filling a Config and collecting problems.

std::string child_path(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string out(parent);
  out += '.';
  out += key;
  return out;
}

std::string index_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

// One key of a mapping.
struct Entry {
  std::string key;
  std::string path;  // e.g. "providers[0].kind"
  YAML::Node key_node;
  YAML::Node value;

  // yaml-cpp places an empty value at the start of the next line, which would point the user at
  // the wrong key; the key's own position is the useful one then.
  YAML::Mark mark() const { return value.IsNull() ? key_node.Mark() : value.Mark(); }
};

// A mapping whose keys were checked against the schema.
struct Section {
  std::string path;
  YAML::Node node;
  std::vector<Entry> entries;

  const Entry* find(std::string_view key) const {
    for (const Entry& e : entries) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }
  // The entry for `key`, or nullptr when it is absent or null: an empty value means "default".
  const Entry* value(std::string_view key) const {
    const Entry* e = find(key);
    return e != nullptr && !e->value.IsNull() ? e : nullptr;
  }
  std::string where() const { return path.empty() ? "top level" : path; }
};

class Loader {
 public:
  Loader(const std::string& source, const EnvLookup& lookup) : source_(source), lookup_(lookup) {}

  Config load(std::string_view text) {
    Config config;
    config.source = source_;
    try {
      std::vector<YAML::Node> documents = YAML::LoadAll(std::string(text));
      if (documents.size() > 1) {
        report(documents[1].Mark(), "only one YAML document is allowed in a configuration file");
      }
      read_config(documents.empty() ? YAML::Node() : documents[0], config);
    } catch (const YAML::Exception& e) {
      report(e.mark, e.msg);
    }
    return config;
  }

  std::vector<std::string> take_problems() {
    std::stable_sort(problems_.begin(), problems_.end(), [](const Problem& a, const Problem& b) {
      return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    std::vector<std::string> out;
    out.reserve(problems_.size());
    for (Problem& p : problems_) out.push_back(std::move(p.text));
    return out;
  }

 private:
  struct Problem {
    int line;
    int column;
    std::string text;
  };

  static Mark to_mark(const YAML::Mark& m) {
    if (m.is_null()) return Mark{1, 1};
    return Mark{m.line + 1, m.column + 1};
  }

  void report(const YAML::Mark& at, std::string_view message) {
    Mark m = to_mark(at);
    problems_.push_back(Problem{m.line, m.column,
                                source_ + ":" + std::to_string(m.line) + ":" +
                                    std::to_string(m.column) + ": " + std::string(message)});
  }

  void report(const Entry& e, std::string_view message) {
    report(e.mark(), e.path + ": " + std::string(message));
  }

  // Checks that `node` is a mapping whose keys are all in `known` (any key when `known` is
  // empty) and appear once. Reports and returns nullopt when it is not a mapping.
  std::optional<Section> section(const YAML::Node& node, const YAML::Mark& mark,
                                 const std::string& path, std::span<const std::string_view> known) {
    if (!node.IsMap()) {
      report(mark, (path.empty() ? std::string("top level") : path) +
                       ": expected a mapping (key: value), got " + std::string(describe(node)));
      return std::nullopt;
    }
    Section s{path, node, {}};
    for (auto it = node.begin(); it != node.end(); ++it) {
      // Copies, not references: yaml-cpp's operator-> returns a temporary proxy.
      YAML::Node key = it->first;
      YAML::Node value = it->second;
      if (!key.IsScalar()) {
        report(key.Mark(), "keys must be plain strings in " + s.where());
        continue;
      }
      const std::string& name = key.Scalar();
      if (const Entry* first = s.find(name)) {
        Mark m = to_mark(first->key_node.Mark());
        report(key.Mark(), "duplicate key " + quote(name) + " in " + s.where() +
                               " (first at line " + std::to_string(m.line) + ")");
        continue;
      }
      if (!known.empty() && std::find(known.begin(), known.end(), name) == known.end()) {
        report(key.Mark(),
               "unknown key " + quote(name) + " in " + s.where() + did_you_mean(name, known));
      }
      s.entries.push_back(Entry{name, child_path(path, name), key, value});
    }
    return s;
  }

  std::optional<Section> subsection(const Section& parent, std::string_view key,
                                    std::span<const std::string_view> known) {
    const Entry* e = parent.value(key);
    if (e == nullptr) return std::nullopt;
    return section(e->value, e->mark(), e->path, known);
  }

  // Reports a missing required key; true when the key has a value.
  bool require(const Section& s, std::string_view key, std::string_view why = {}) {
    if (s.value(key) != nullptr) return true;
    if (const Entry* e = s.find(key)) {
      report(*e, "missing value");
    } else {
      std::string message = "missing key " + quote(key) + " in " + s.where();
      if (!why.empty()) message += " (" + std::string(why) + ")";
      report(s.node.Mark(), message);
    }
    return false;
  }

  // The interpolated text of a scalar; nullopt (after reporting) for anything else.
  std::optional<std::string> scalar(const Entry& e, std::string_view expected = "a string") {
    return scalar(e.value, e.mark(), e.path, expected);
  }

  std::optional<std::string> scalar(const YAML::Node& node, const YAML::Mark& mark,
                                    const std::string& path, std::string_view expected) {
    if (!node.IsScalar()) {
      report(mark,
             path + ": expected " + std::string(expected) + ", got " + std::string(describe(node)));
      return std::nullopt;
    }
    std::string error;
    std::string text = interpolate(node.Scalar(), lookup_, &error);
    if (!error.empty()) {
      report(mark, path + ": " + error);
      return std::nullopt;
    }
    return text;
  }

  // The readers below leave `out` unchanged when the key is absent, null or invalid.

  void read_string(const Section& s, std::string_view key, std::string& out) {
    const Entry* e = s.value(key);
    if (e == nullptr) return;
    if (auto text = scalar(*e)) out = std::move(*text);
  }

  void read_bool(const Section& s, std::string_view key, bool& out) {
    const Entry* e = s.value(key);
    if (e == nullptr) return;
    auto text = scalar(*e, "true or false");
    if (!text) return;
    std::string lower = core::to_lower(*text);
    if (lower == "true" || lower == "yes" || lower == "on") {
      out = true;
    } else if (lower == "false" || lower == "no" || lower == "off") {
      out = false;
    } else {
      report(*e, "expected true or false, got " + quote(*text));
    }
  }

  template <class Int>
  void read_int(const Section& s, std::string_view key, Int& out, std::int64_t min,
                std::int64_t max) {
    const Entry* e = s.value(key);
    if (e == nullptr) return;
    auto text = scalar(*e, "an integer");
    if (!text) return;
    auto value = parse_integer<std::int64_t>(*text);
    if (!value) {
      report(*e, "expected an integer, got " + quote(*text));
    } else if (*value < min || *value > max) {
      // A bound that only guards the type's range is not worth mentioning unless it is hit.
      bool unbounded = max >= std::numeric_limits<int>::max();
      std::string rule = !unbounded
                             ? "between " + std::to_string(min) + " and " + std::to_string(max)
                         : *value < min ? "at least " + std::to_string(min)
                                        : "at most " + std::to_string(max);
      report(*e, "must be " + rule + ", got " + *text);
    } else {
      out = static_cast<Int>(*value);
    }
  }

  void read_uint64(const Section& s, std::string_view key, std::uint64_t& out) {
    const Entry* e = s.value(key);
    if (e == nullptr) return;
    auto text = scalar(*e, "an integer");
    if (!text) return;
    if (auto value = parse_integer<std::uint64_t>(*text)) {
      out = *value;
    } else {
      report(*e, "expected an integer from 0 to 18446744073709551615, got " + quote(*text));
    }
  }

  void read_double(const Section& s, std::string_view key, double& out, double min, double max) {
    const Entry* e = s.value(key);
    if (e == nullptr) return;
    auto text = scalar(*e, "a number");
    if (!text) return;
    double value = 0;
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || end != text->data() + text->size() || !std::isfinite(value)) {
      report(*e, "expected a number, got " + quote(*text));
    } else if (value < min || value > max) {
      std::string range = max == std::numeric_limits<double>::max()
                              ? "at least " + format_number(min)
                              : "between " + format_number(min) + " and " + format_number(max);
      report(*e, "must be " + range + ", got " + *text);
    } else {
      out = value;
    }
  }

  static std::string format_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }

  // Durations must be positive unless `allow_zero`: a zero timeout would fail every request.
  void read_duration(const Section& s, std::string_view key, Duration& out,
                     bool allow_zero = false) {
    const Entry* e = s.value(key);
    if (e == nullptr) return;
    auto text = scalar(*e, "a duration");
    if (!text) return;
    auto value = core::parse_duration(*text);
    if (!value) {
      report(*e, "invalid duration " + quote(*text) + " (examples: 250ms, 10s, 1.5m, 1h)");
    } else if (!allow_zero && value->count() <= 0) {
      report(*e, "must be greater than 0, got " + quote(*text));
    } else {
      out = *value;
    }
  }

  void read_bytes(const Section& s, std::string_view key, std::uint64_t& out) {
    const Entry* e = s.value(key);
    if (e == nullptr) return;
    auto text = scalar(*e, "a size");
    if (!text) return;
    auto value = core::parse_bytes(*text);
    if (!value) {
      report(*e, "invalid size " + quote(*text) + " (examples: 1024, 64KiB, 16MiB, 1GiB, 10MB)");
    } else if (*value == 0) {
      report(*e, "must be greater than 0");
    } else {
      out = *value;
    }
  }

  // The elements of a list; nullopt (after reporting) when the value is not a list.
  std::optional<YAML::Node> list(const Entry& e) {
    if (!e.value.IsSequence()) {
      report(e, "expected a list, got " + std::string(describe(e.value)));
      return std::nullopt;
    }
    return e.value;
  }

  // ---- the schema ----

  void read_config(const YAML::Node& root, Config& config) {
    std::optional<Section> top;
    if (root.IsNull()) {
      // An empty file is a mapping without keys: the required ones are reported as missing.
      top = Section{"", root, {}};
    } else {
      top = section(root, root.Mark(), "", kTopLevelKeys);
      if (!top) return;
    }
    const Section& s = *top;

    if (const Entry* e = s.value("listen")) {
      if (auto text = scalar(*e)) {
        std::string error;
        if (auto listen = parse_listen_text(*text, error)) {
          config.listen = std::move(*listen);
        } else {
          report(*e, error);
        }
      }
    }
    if (const Entry* e = s.value("workers")) {
      if (auto text = scalar(*e, "\"auto\" or an integer")) {
        auto n = parse_integer<std::int64_t>(*text);
        if (*text == "auto") {
          config.workers = 0;
        } else if (n && *n >= 1 && *n <= kMaxWorkers) {
          config.workers = static_cast<int>(*n);
        } else {
          report(*e, "expected \"auto\" or an integer from 1 to " + std::to_string(kMaxWorkers) +
                         ", got " + quote(*text));
        }
      }
    }
    read_duration(s, "drain_timeout", config.drain_timeout);
    if (const Entry* e = s.value("log_level")) {
      if (auto text = scalar(*e)) {
        if (std::find(std::begin(kLogLevels), std::end(kLogLevels), *text) ==
            std::end(kLogLevels)) {
          report(*e, "unknown log level " + quote(*text) + " (expected " +
                         join_alternatives(kLogLevels) + ")" + did_you_mean(*text, kLogLevels));
        } else {
          config.log_level = std::move(*text);
        }
      }
    }
    if (auto access_log = subsection(s, "access_log", kAccessLogKeys)) {
      read_bool(*access_log, "enabled", config.access_log.enabled);
      if (const Entry* e = access_log->value("path")) {
        if (auto text = scalar(*e)) {
          if (text->empty()) {
            report(*e, "must not be empty (use stdout, stderr or a file path)");
          } else {
            config.access_log.path = std::move(*text);
          }
        }
      }
    }
    if (auto limits = subsection(s, "limits", kLimitsKeys)) {
      read_limits(*limits, config.limits);
      read_rate_limits(*limits, config.rate_limits);
    }
    read_string(s, "data_dir", config.data_dir);
    if (auto auth = subsection(s, "auth", kAuthKeys)) {
      if (const Entry* e = auth->value("mode")) {
        if (auto text = scalar(*e)) {
          constexpr std::string_view kModes[] = {"none", "keys"};
          if (*text == "none") {
            config.auth.mode = Auth::Mode::kNone;
          } else if (*text == "keys") {
            config.auth.mode = Auth::Mode::kKeys;
            if (config.data_dir.empty()) {
              report(*e, "auth.mode keys needs data_dir (where the keys are stored)");
            }
          } else {
            report(*e, "unknown mode " + quote(*text) + " (expected " + join_alternatives(kModes) +
                           ")" + did_you_mean(*text, kModes));
          }
        }
      }
      read_string(*auth, "admin_key", config.auth.admin_key);
    }
    if (auto cache = subsection(s, "cache", kCacheKeys)) read_cache(*cache, config.cache);
    if (auto coalesce = subsection(s, "coalesce", kCoalesceKeys)) {
      read_bool(*coalesce, "enabled", config.coalesce.enabled);
    }
    if (auto metrics = subsection(s, "metrics", kMetricsKeys)) {
      read_bool(*metrics, "enabled", config.metrics.enabled);
    }
    // Before the models: each model starts from these defaults.
    if (auto routing = subsection(s, "routing", kRoutingKeys)) {
      if (auto r = subsection(*routing, "retries", kRetriesKeys)) {
        read_retries(*r, config.routing.retries);
      }
      if (auto q = subsection(*routing, "queue", kQueueKeys)) read_queue(*q, config.routing.queue);
      if (auto h = subsection(*routing, "health", kHealthKeys)) {
        read_health(*h, config.routing.health);
      }
    }

    if (require(s, "providers")) {
      const Entry& e = *s.value("providers");
      if (auto items = list(e)) {
        if (items->size() == 0) report(e, "must list at least one provider");
        for (std::size_t i = 0; i < items->size(); ++i) {
          read_provider(std::as_const(*items)[i], index_path(e.path, i), config.providers);
        }
      }
    }
    if (require(s, "models")) {
      const Entry& e = *s.value("models");
      if (auto items = list(e)) {
        if (items->size() == 0) report(e, "must list at least one model");
        for (std::size_t i = 0; i < items->size(); ++i) {
          read_model(std::as_const(*items)[i], index_path(e.path, i), config);
        }
      }
      check_fallbacks(config);
    }
    // After the models: a rule may name one of their deployments.
    if (auto alerts = subsection(s, "alerts", kAlertsKeys)) read_alerts(*alerts, config);
    if (auto batch = subsection(s, "batch", kBatchKeys)) {
      read_bytes(*batch, "max_file_bytes", config.batch.max_file_bytes);
      read_int(*batch, "concurrency", config.batch.concurrency, 1, kMaxBatchConcurrency);
    }
  }

  void read_alerts(const Section& s, Config& config) {
    if (auto webhook = subsection(s, "webhook", kWebhookKeys)) {
      Alerts::Webhook& w = config.alerts.webhook;
      if (require(*webhook, "url")) {
        const Entry& e = *webhook->value("url");
        if (auto text = scalar(e)) {
          std::string error;
          if (auto url = parse_base_url(*text, error)) {
            w.url = std::move(*url);
          } else {
            report(e, error);
          }
        }
      }
      read_duration(*webhook, "timeout", w.timeout);
    }
    const Entry* e = s.value("rules");
    if (e == nullptr) return;
    auto items = list(*e);
    if (!items) return;
    std::set<std::string> deployments;
    for (const Model& m : config.models) {
      for (const Deployment& d : m.deployments) {
        deployments.insert(d.provider + "/" + (d.model.empty() ? m.name : d.model));
      }
    }
    for (std::size_t i = 0; i < items->size(); ++i) {
      const YAML::Node node = std::as_const(*items)[i];
      auto rule = section(node, node.Mark(), index_path(e->path, i), kAlertRuleKeys);
      if (rule) read_alert_rule(*rule, deployments, config.alerts.rules);
    }
  }

  void read_alert_rule(const Section& s, const std::set<std::string>& deployments,
                       std::vector<AlertRule>& rules) {
    AlertRule rule;
    rule.mark = to_mark(s.node.Mark());
    bool valid = true;
    if (require(s, "name")) {
      const Entry& e = *s.value("name");
      if (auto text = scalar(e)) {
        if (!is_simple_name(*text)) {
          report(e, "must be letters, digits, '_', '.' or '-', got " + quote(*text));
          valid = false;
        }
        for (const AlertRule& other : rules) {
          if (other.name == *text) {
            report(e, "duplicate alert name " + quote(*text) + " (first at line " +
                          std::to_string(other.mark.line) + ")");
            valid = false;
          }
        }
        rule.name = std::move(*text);
      }
    }
    if (!require(s, "kind")) return;
    const Entry& kind_entry = *s.value("kind");
    auto kind_text = scalar(kind_entry);
    if (!kind_text) return;
    auto kind = parse_alert_kind(*kind_text);
    if (!kind) {
      std::vector<std::string_view> names;
      for (AlertRule::Kind k : kAlertKinds) names.push_back(alert_kind_name(k));
      report(kind_entry, "unknown kind " + quote(*kind_text) + " (expected " +
                             join_alternatives(names) + ")" + did_you_mean(*kind_text, names));
      return;
    }
    rule.kind = *kind;
    const std::string kind_name(alert_kind_name(rule.kind));

    // The threshold's unit depends on the kind.
    const Entry* threshold = s.value("threshold");
    switch (rule.kind) {
      case AlertRule::Kind::kCacheHitRate:
      case AlertRule::Kind::kErrorRate:
      case AlertRule::Kind::kRateLimitedShare:
        if (require(s, "threshold", "a share from 0 to 1")) {
          read_double(s, "threshold", rule.threshold, 0, 1);
        }
        break;
      case AlertRule::Kind::kP99Latency:
        if (require(s, "threshold", "seconds, or a duration such as 500ms")) {
          if (auto text = scalar(*threshold, "seconds or a duration")) {
            double seconds = 0;
            auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), seconds);
            if (ec == std::errc() && end == text->data() + text->size()) {
              if (!(seconds > 0) || !std::isfinite(seconds)) {
                report(*threshold, "must be greater than 0, got " + *text);
                valid = false;
              }
              rule.threshold = seconds;
            } else if (auto d = core::parse_duration(*text); d && d->count() > 0) {
              rule.threshold = std::chrono::duration<double>(*d).count();
            } else {
              report(*threshold, "expected seconds or a duration (examples: 0.5, 500ms, 2s), got " +
                                     quote(*text));
              valid = false;
            }
          }
        }
        break;
      case AlertRule::Kind::kMemory:
        if (require(s, "threshold", "resident bytes, such as 512MiB")) {
          std::uint64_t bytes = 0;
          read_bytes(s, "threshold", bytes);
          rule.threshold = static_cast<double>(bytes);
        }
        break;
      case AlertRule::Kind::kDeploymentEjected:
        if (threshold != nullptr) {
          report(*threshold,
                 "deployment_ejected takes no threshold (it fires while the "
                 "deployment is out of rotation)");
          valid = false;
        }
        break;
    }
    if (alert_kind_has_window(rule.kind)) {
      read_duration(s, "window", rule.window);
      if (const Entry* w = s.value("window"); w != nullptr && rule.window > kMaxAlertWindow) {
        report(*w, "must be at most 15m (the performance API keeps 15 minutes of readings)");
        valid = false;
      }
      read_uint64(s, "min_requests", rule.min_requests);
      if (const Entry* m = s.value("min_requests"); m != nullptr && rule.min_requests == 0) {
        report(*m, "must be at least 1");
        valid = false;
      }
    } else {
      for (std::string_view key : {"window", "min_requests"}) {
        if (const Entry* x = s.value(key)) {
          report(*x, kind_name + " takes no " + std::string(key) + " (it is read at each tick)");
          valid = false;
        }
      }
    }
    if (const Entry* d = s.value("deployment")) {
      if (rule.kind != AlertRule::Kind::kDeploymentEjected) {
        report(*d, "only deployment_ejected takes a deployment");
        valid = false;
      } else if (auto text = scalar(*d)) {
        if (deployments.count(*text) == 0) {
          report(*d, "no model has the deployment " + quote(*text) +
                         " (deployments are named provider/model)" +
                         did_you_mean(*text, deployments));
          valid = false;
        }
        rule.deployment = std::move(*text);
      }
    }
    if (valid) rules.push_back(std::move(rule));
  }

  void read_retries(const Section& s, Retries& r) {
    read_int(s, "max_attempts", r.max_attempts, 1, kMaxAttempts);
    read_duration(s, "backoff_base", r.backoff_base, /*allow_zero=*/true);
    read_duration(s, "backoff_max", r.backoff_max, /*allow_zero=*/true);
    read_duration(s, "max_retry_after", r.max_retry_after, /*allow_zero=*/true);
    read_double(s, "budget", r.budget, 0, 1);
    read_int(s, "min_concurrency", r.min_concurrency, 0, std::numeric_limits<int>::max());
    if (r.backoff_max < r.backoff_base) {
      report(s.node.Mark(), s.where() + ": backoff_max must not be less than backoff_base");
    }
  }

  void read_queue(const Section& s, Queue& q) {
    read_int(s, "max_size", q.max_size, 0, std::numeric_limits<int>::max());
    read_duration(s, "timeout", q.timeout);
    if (const Entry* e = s.value("status")) {
      int status = q.status;
      read_int(s, "status", status, 0, 999);
      if (status != 429 && status != 503) {
        report(*e, "must be 429 or 503");
      } else {
        q.status = status;
      }
    }
  }

  void read_health(const Section& s, Health& h) {
    if (auto o = subsection(s, "outlier", kOutlierKeys)) {
      read_bool(*o, "enabled", h.outlier.enabled);
      read_int(*o, "consecutive_failures", h.outlier.consecutive_failures, 1, 1000000);
      read_duration(*o, "base_ejection", h.outlier.base_ejection);
      read_duration(*o, "max_ejection", h.outlier.max_ejection);
      read_int(*o, "max_ejection_percent", h.outlier.max_ejection_percent, 0, 100);
      if (h.outlier.max_ejection < h.outlier.base_ejection) {
        report(o->node.Mark(), o->where() + ": max_ejection must not be less than base_ejection");
      }
    }
    if (auto b = subsection(s, "breaker", kBreakerKeys)) {
      read_bool(*b, "enabled", h.breaker.enabled);
      read_double(*b, "failure_ratio", h.breaker.failure_ratio, 0.01, 1);
      read_int(*b, "min_requests", h.breaker.min_requests, 1, 1000000);
      read_duration(*b, "window", h.breaker.window);
      read_duration(*b, "open_for", h.breaker.open_for);
      read_int(*b, "half_open_probes", h.breaker.half_open_probes, 1, 1000);
    }
    if (auto p = subsection(s, "probe", kProbeKeys)) {
      read_bool(*p, "enabled", h.probe.enabled);
      if (const Entry* e = p->value("path")) {
        if (auto text = scalar(*e)) {
          if (text->empty() || text->front() != '/' ||
              text->find_first_of(" \r\n\t?#") != std::string::npos) {
            report(*e, "expected a path starting with '/', such as /models, got " + quote(*text));
          } else {
            h.probe.path = std::move(*text);
          }
        }
      }
      read_duration(*p, "interval", h.probe.interval);
      read_duration(*p, "timeout", h.probe.timeout);
      read_int(*p, "unhealthy_after", h.probe.unhealthy_after, 1, 1000);
      read_int(*p, "healthy_after", h.probe.healthy_after, 1, 1000);
    }
    read_duration(s, "cooldown", h.cooldown);
    read_duration(s, "max_cooldown", h.max_cooldown);
    if (h.max_cooldown < h.cooldown) {
      report(s.node.Mark(), s.where() + ": max_cooldown must not be less than cooldown");
    }
  }

  void read_hash_key(const Entry& e, HashKey& key) {
    // Shorthand: "user", "header:x-session-id", "prefix:2048".
    if (e.value.IsScalar()) {
      auto text = scalar(e);
      if (!text) return;
      std::string_view t = *text;
      std::string_view source = t.substr(0, t.find(':'));
      std::string_view arg = source.size() < t.size() ? t.substr(source.size() + 1) : "";
      if (source == "user" && arg.empty()) {
        key.source = HashKey::Source::kUser;
      } else if (source == "header" && is_token(arg)) {
        key.source = HashKey::Source::kHeader;
        key.header = core::to_lower(arg);
      } else if (auto n = core::parse_bytes(arg); source == "prefix" && n && *n > 0) {
        key.source = HashKey::Source::kPrefix;
        key.prefix_bytes = static_cast<std::size_t>(*n);
      } else {
        report(e, "expected user, header:NAME or prefix:BYTES, got " + quote(*text));
      }
      return;
    }
    auto s = section(e.value, e.mark(), e.path, kHashKeyKeys);
    if (!s) return;
    if (require(*s, "source")) {
      const Entry& src = *s->value("source");
      if (auto text = scalar(src)) {
        if (*text == "user") {
          key.source = HashKey::Source::kUser;
        } else if (*text == "header") {
          key.source = HashKey::Source::kHeader;
          if (require(*s, "header", "required for source header")) {
            const Entry& h = *s->value("header");
            if (auto name = scalar(h)) {
              if (is_token(*name)) {
                key.header = core::to_lower(*name);
              } else {
                report(h, "invalid header name " + quote(*name));
              }
            }
          }
        } else if (*text == "prefix") {
          key.source = HashKey::Source::kPrefix;
          key.prefix_bytes = 1024;
          read_bytes(*s, "bytes", key.prefix_bytes);
        } else {
          report(src, "unknown source " + quote(*text) + " (expected " +
                          join_alternatives(kHashSources) + ")" +
                          did_you_mean(*text, kHashSources));
        }
      }
    }
    read_double(*s, "load_factor", key.load_factor, 1, 100);
  }

  void read_name_list(const Entry& e, std::vector<std::string>& out) {
    auto items = list(e);
    if (!items) return;
    for (std::size_t i = 0; i < items->size(); ++i) {
      YAML::Node item = std::as_const(*items)[i];
      if (auto name = scalar(item, item.Mark(), index_path(e.path, i), "a model name")) {
        fallback_marks_.push_back({item.Mark(), index_path(e.path, i)});
        out.push_back(std::move(*name));
      }
    }
  }

  // Fallbacks name models defined anywhere in the file, so they are checked once all are read.
  void check_fallbacks(const Config& config) {
    std::vector<std::string_view> exact;
    for (const Model& m : config.models) {
      if (!m.name.empty() && m.name.back() != '*') exact.push_back(m.name);
    }
    std::size_t next = 0;
    for (const Model& m : config.models) {
      for (const auto* list : {&m.fallbacks, &m.context_fallbacks}) {
        std::set<std::string_view> seen;
        for (const std::string& name : *list) {
          const auto& [mark, path] = fallback_marks_[next++];
          if (name == m.name) {
            report(mark, path + ": a model cannot fall back to itself");
          } else if (!seen.insert(name).second) {
            report(mark, path + ": " + quote(name) + " is listed twice");
          } else if (std::find(exact.begin(), exact.end(), name) == exact.end()) {
            report(mark, path + ": unknown model " + quote(name) +
                             " (fallbacks name models defined in this file, without '*')" +
                             did_you_mean(name, exact));
          }
        }
      }
    }
  }

  void read_limits(const Section& s, ServerLimits& limits) {
    read_bytes(s, "max_header_bytes", limits.max_header_bytes);
    read_bytes(s, "max_body_bytes", limits.max_body_bytes);
    read_bytes(s, "max_response_bytes", limits.max_response_bytes);
    read_duration(s, "header_timeout", limits.header_timeout);
    read_duration(s, "body_timeout", limits.body_timeout);
    read_duration(s, "idle_timeout", limits.idle_timeout);
    read_duration(s, "send_timeout", limits.send_timeout);
    read_int(s, "max_connections", limits.max_connections, 1, std::numeric_limits<int>::max());
  }

  // A `redis:` section (the cache's lower tier, the distributed limits): url required.
  void read_redis(const Section& redis, std::string& url, Duration& timeout,
                  std::string& key_prefix) {
    if (require(redis, "url")) {
      const Entry& e = *redis.value("url");
      if (auto text = scalar(e)) {
        std::string error = check_redis_url(*text);
        if (error.empty()) {
          url = std::move(*text);
        } else {
          report(e, error);
        }
      }
    }
    read_duration(redis, "timeout", timeout);
    read_string(redis, "key_prefix", key_prefix);
  }

  void read_rate_limit(const Section& s, RateLimit& limit) {
    read_uint64(s, "rpm", limit.rpm);
    read_uint64(s, "tpm", limit.tpm);
  }

  void read_rate_limits(const Section& s, RateLimits& limits) {
    if (const Entry* e = s.value("backend")) {
      if (auto text = scalar(*e)) {
        constexpr std::string_view kBackends[] = {"local", "redis"};
        if (*text == "local") {
          limits.backend = RateLimits::Backend::kLocal;
        } else if (*text == "redis") {
          limits.backend = RateLimits::Backend::kRedis;
        } else {
          report(*e, "unknown backend " + quote(*text) + " (expected " +
                         join_alternatives(kBackends) + ")" + did_you_mean(*text, kBackends));
        }
      }
    }
    if (auto redis = subsection(s, "redis", kRedisKeys)) {
      read_redis(*redis, limits.redis.url, limits.redis.timeout, limits.redis.key_prefix);
    }
    if (limits.backend == RateLimits::Backend::kRedis && limits.redis.url.empty()) {
      if (const Entry* e = s.value("backend")) report(*e, "backend redis needs redis.url");
    }
    if (const Entry* e = s.value("failure_mode")) {
      if (auto text = scalar(*e)) {
        constexpr std::string_view kModes[] = {"open", "closed"};
        if (*text == "open" || *text == "closed") {
          limits.fail_open = *text == "open";
        } else {
          report(*e, "unknown failure_mode " + quote(*text) + " (expected " +
                         join_alternatives(kModes) + ")" + did_you_mean(*text, kModes));
        }
      }
    }
    if (auto g = subsection(s, "global", kRateLimitKeys)) read_rate_limit(*g, limits.global);
    read_uint64(s, "reserve_output_tokens", limits.reserve_output_tokens);
  }

  void read_cache(const Section& s, Cache& cache) {
    read_bool(s, "enabled", cache.enabled);
    read_duration(s, "ttl", cache.ttl);
    if (const Entry* e = s.value("endpoints")) {
      if (auto items = list(*e)) {
        cache.chat = cache.completions = cache.embeddings = cache.images = false;
        for (std::size_t i = 0; i < items->size(); ++i) {
          YAML::Node item = std::as_const(*items)[i];
          std::string path = index_path(e->path, i);
          auto name = scalar(item, item.Mark(), path, "an endpoint name");
          if (!name) continue;
          if (*name == "chat") {
            cache.chat = true;
          } else if (*name == "completions") {
            cache.completions = true;
          } else if (*name == "embeddings") {
            cache.embeddings = true;
          } else if (*name == "images") {
            cache.images = true;
          } else {
            report(item.Mark(), path + ": unknown endpoint " + quote(*name) + " (expected " +
                                    join_alternatives(kCacheEndpoints) + ")" +
                                    did_you_mean(*name, kCacheEndpoints));
          }
        }
      }
    }
    read_bool(s, "only_deterministic", cache.only_deterministic);
    read_bytes(s, "max_entry_bytes", cache.max_entry_bytes);
    if (const Entry* e = s.value("namespace")) {
      if (auto text = scalar(*e)) {
        if (!is_simple_name(*text)) {
          report(*e,
                 "invalid namespace " + quote(*text) + " (use letters, digits, '_', '.' and '-')");
        } else {
          cache.default_namespace = std::move(*text);
        }
      }
    }
    if (auto memory = subsection(s, "memory", kCacheMemoryKeys)) {
      read_bytes(*memory, "max_bytes", cache.memory.max_bytes);
    }
    if (auto disk = subsection(s, "disk", kCacheDiskKeys)) {
      if (require(*disk, "path")) read_string(*disk, "path", cache.disk.path);
      read_bytes(*disk, "max_bytes", cache.disk.max_bytes);
    }
    if (auto redis = subsection(s, "redis", kRedisKeys)) {
      read_redis(*redis, cache.redis.url, cache.redis.timeout, cache.redis.key_prefix);
    }
  }

  // A URL the Redis tier can connect to; the message never repeats the URL (it may carry a
  // password).
  static std::string check_redis_url(std::string_view text) {
    auto url = boost::urls::parse_uri(text);
    if (!url || url->scheme() != "redis") {
      return "expected a URL such as redis://127.0.0.1:6379/0";
    }
    if (!url->has_authority() || url->host().empty()) return "the URL has no host";
    if (url->has_port()) {
      auto port = parse_integer<std::uint16_t>(url->port());
      if (!port || *port == 0) return "invalid port";
    }
    std::string_view path = url->encoded_path();
    if (!path.empty() && path.front() != '/') return "invalid port";
    if (!path.empty() && path != "/") {
      auto db = parse_integer<int>(path.substr(1));
      if (!db || *db < 0) return "the path must be a database number, such as /0";
    }
    return {};
  }

  void read_provider(const YAML::Node& node, const std::string& path,
                     std::vector<Provider>& providers) {
    auto s = section(node, node.Mark(), path, kProviderKeys);
    if (!s) return;
    Provider p;
    p.mark = to_mark(node.Mark());

    if (require(*s, "name")) {
      const Entry& e = *s->value("name");
      if (auto name = scalar(e)) {
        attempted_provider_names_.insert(*name);
        if (!is_simple_name(*name)) {
          report(e, "invalid name " + quote(*name) + " (use letters, digits, '_', '.' and '-')");
        } else if (const Provider* first = find_by_name(providers, *name)) {
          report(e, "duplicate provider name " + quote(*name) + " (first defined at line " +
                        std::to_string(first->mark.line) + ")");
        } else {
          p.name = std::move(*name);
        }
      }
    }

    std::optional<ProviderKind> kind;
    if (require(*s, "kind")) {
      const Entry& e = *s->value("kind");
      if (auto text = scalar(e)) {
        kind = parse_provider_kind(*text);
        if (!kind) {
          report(e, "unknown kind " + quote(*text) +
                        " (expected openai, azure, anthropic, gemini or mock)");
        }
      }
    }
    if (kind) p.kind = *kind;

    if (kind == ProviderKind::kMock && s->value("base_url") != nullptr) {
      report(*s->value("base_url"),
             "not allowed for kind mock (the mock provider answers in-process)");
    } else if ((kind != ProviderKind::kOpenAI && kind != ProviderKind::kAzure) ||
               require(*s, "base_url",
                       "required for kind " + std::string(provider_kind_name(*kind)))) {
      std::optional<std::string> text;
      const Entry* e = s->value("base_url");
      if (e != nullptr) {
        text = scalar(*e);
      } else if (kind == ProviderKind::kAnthropic) {
        text = std::string(kAnthropicBaseUrl);
      } else if (kind == ProviderKind::kGemini) {
        text = std::string(kGeminiBaseUrl);
      }
      if (text) {
        std::string error;
        if (auto url = parse_base_url(*text, error)) {
          p.base_url = std::move(*url);
        } else if (e != nullptr) {
          report(*e, error);
        }
      }
    }

    // The version the vendor's API is asked for: a query parameter for Azure, a header for
    // Anthropic. Defaults are versions both document as current and stable.
    if (kind == ProviderKind::kAzure || kind == ProviderKind::kAnthropic) {
      p.api_version = kind == ProviderKind::kAzure ? kAzureApiVersion : kAnthropicVersion;
      read_string(*s, "api_version", p.api_version);
      if (p.api_version.empty()) report(*s->value("api_version"), "must not be empty");
    } else if (s->value("api_version") != nullptr) {
      report(*s->value("api_version"), "only allowed for kinds azure and anthropic");
    }
    if (kind == ProviderKind::kAnthropic) {
      read_uint64(*s, "default_max_tokens", p.default_max_tokens);
      if (p.default_max_tokens == 0) report(*s->value("default_max_tokens"), "must be at least 1");
    } else if (s->value("default_max_tokens") != nullptr) {
      report(*s->value("default_max_tokens"), "only allowed for kind anthropic");
    }

    read_string(*s, "api_key", p.api_key);
    if (auto t = subsection(*s, "timeouts", kTimeoutKeys)) {
      read_duration(*t, "connect", p.timeouts.connect);
      read_duration(*t, "first_byte", p.timeouts.first_byte);
      read_duration(*t, "idle", p.timeouts.idle);
      read_duration(*t, "total", p.timeouts.total);
    }
    if (auto tls = subsection(*s, "tls", kTlsKeys)) {
      read_bool(*tls, "verify", p.tls_verify);
      if (const Entry* e = tls->value("ca_file")) {
        if (auto file = scalar(*e)) {
          std::string error = check_readable(*file);
          if (error.empty()) {
            p.ca_file = std::move(*file);
          } else {
            report(*e, error);
          }
        }
      }
    }
    if (auto headers = subsection(*s, "headers", {})) read_headers(*headers, p.headers);
    if (const Entry* e = s->value("forward_headers")) {
      if (auto items = list(*e)) read_forward_headers(*e, *items, p.forward_headers);
    }
    read_int(*s, "max_idle_connections", p.max_idle_connections, 0,
             std::numeric_limits<int>::max());
    read_duration(*s, "pool_idle_timeout", p.pool_idle_timeout);

    if (kind != ProviderKind::kMock && s->value("mock") != nullptr) {
      report(*s->value("mock"), "only allowed for kind mock");
    } else if (auto m = subsection(*s, "mock", kMockKeys)) {
      read_duration(*m, "first_token_delay", p.mock.first_token_delay, /*allow_zero=*/true);
      read_double(*m, "tokens_per_second", p.mock.tokens_per_second, 0,
                  std::numeric_limits<double>::max());
      read_double(*m, "fault_rate", p.mock.fault_rate, 0, 1);
      read_uint64(*m, "seed", p.mock.seed);
      read_int(*m, "max_tokens", p.mock.max_tokens, 1, kMaxMockTokens);
      read_int(*m, "embedding_dimensions", p.mock.embedding_dimensions, 1, kMaxEmbeddingDimensions);
    }
    providers.push_back(std::move(p));
  }

  static const Provider* find_by_name(const std::vector<Provider>& providers,
                                      std::string_view name) {
    for (const Provider& p : providers) {
      if (p.name == name) return &p;
    }
    return nullptr;
  }

  // A CA file that cannot be read would only fail at the first TLS handshake, long after the
  // operator has moved on; reading one byte now turns that into a message at startup.
  static std::string check_readable(const std::string& path) {
    if (path.empty()) return "must not be empty";
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return "cannot read " + quote(path) + ": " + std::strerror(errno);
    errno = 0;
    int c = std::fgetc(f);
    std::string error;
    if (c == EOF && std::ferror(f)) {
      error = "cannot read " + quote(path) + ": " + std::strerror(errno);
    } else if (c == EOF) {
      error = quote(path) + " is empty";
    }
    std::fclose(f);
    return error;
  }

  void read_headers(const Section& s, std::vector<std::pair<std::string, std::string>>& out) {
    for (const Entry& e : s.entries) {
      std::string lower = core::to_lower(e.key);
      if (!is_token(e.key)) {
        report(e.key_node.Mark(), e.path + ": invalid header name " + quote(e.key));
        continue;
      }
      if (is_reserved_header(lower)) {
        report(e.key_node.Mark(), e.path + ": " + quote(e.key) + " is set by the gateway");
        continue;
      }
      if (e.value.IsNull()) {
        report(e, "missing value (write \"\" for an empty header)");
        continue;
      }
      auto value = scalar(e);
      if (!value) continue;
      // The value is not quoted: headers often carry credentials.
      if (value->find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
        report(e, "header value must not contain line breaks or NUL characters");
        continue;
      }
      out.emplace_back(e.key, std::move(*value));
    }
  }

  void read_forward_headers(const Entry& e, const YAML::Node& items,
                            std::vector<std::string>& out) {
    for (std::size_t i = 0; i < items.size(); ++i) {
      YAML::Node item = items[i];
      std::string path = index_path(e.path, i);
      auto text = scalar(item, item.Mark(), path, "a header name");
      if (!text) continue;
      std::string name = core::to_lower(*text);
      std::string_view prefix = name;
      if (prefix.ends_with('*')) prefix.remove_suffix(1);
      if (prefix.empty()) {
        report(item.Mark(), path + ": " + quote(*text) +
                                " would forward every header, including the client's "
                                "credentials; list names or prefixes such as \"x-trace-*\"");
      } else if (!is_token(prefix) || prefix.find('*') != std::string_view::npos) {
        report(item.Mark(), path + ": invalid header name " + quote(*text) +
                                " (a '*' is allowed only at the end)");
      } else if (is_reserved_header(name)) {
        report(item.Mark(), path + ": " + quote(*text) + " is set by the gateway");
      } else {
        out.push_back(std::move(name));
      }
    }
  }

  void read_model(const YAML::Node& node, const std::string& path, Config& config) {
    auto s = section(node, node.Mark(), path, kModelKeys);
    if (!s) return;
    Model m;
    m.mark = to_mark(node.Mark());
    m.retries = config.routing.retries;
    m.queue = config.routing.queue;
    m.health = config.routing.health;
    if (require(*s, "name")) {
      const Entry& e = *s->value("name");
      if (auto name = scalar(e)) {
        std::string_view body = *name;
        if (body.ends_with('*')) body.remove_suffix(1);
        bool control = std::any_of(name->begin(), name->end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        });
        if (name->empty()) {
          report(e, "must not be empty");
        } else if (body.find('*') != std::string_view::npos) {
          report(e, "invalid name " + quote(*name) +
                        " ('*' is a wildcard only at the end, as in \"gpt-*\")");
        } else if (control) {
          report(e, "invalid name " + quote(*name) + " (control characters)");
        } else if (auto first = model_marks_.find(*name); first != model_marks_.end()) {
          report(e, "duplicate model " + quote(*name) + " (first defined at line " +
                        std::to_string(first->second.line) + ")");
        } else {
          model_marks_.emplace(*name, m.mark);
          m.name = std::move(*name);
        }
      }
    }
    if (require(*s, "deployments")) {
      const Entry& e = *s->value("deployments");
      if (auto items = list(e)) {
        if (items->size() == 0) report(e, "must list at least one deployment");
        for (std::size_t i = 0; i < items->size(); ++i) {
          YAML::Node item = std::as_const(*items)[i];
          if (auto d = read_deployment(item, index_path(e.path, i), config.providers)) {
            m.deployments.push_back(std::move(*d));
          }
        }
      }
    }
    if (const Entry* e = s->value("strategy")) {
      if (auto text = scalar(*e)) {
        if (auto strategy = parse_strategy(*text)) {
          m.strategy = *strategy;
        } else {
          std::vector<std::string_view> names;
          for (Strategy st : kStrategies) names.push_back(strategy_name(st));
          report(*e, "unknown strategy " + quote(*text) + " (expected " + join_alternatives(names) +
                         ")" + did_you_mean(*text, names));
        }
      }
    }
    if (const Entry* e = s->value("hash_key")) {
      read_hash_key(*e, m.hash_key);
      if (m.strategy != Strategy::kConsistentHash) {
        report(*e, "only used by strategy consistent-hash (this model's strategy is " +
                       std::string(strategy_name(m.strategy)) + ")");
      }
    }
    // Fallback lists are read even when empty so that their marks line up with check_fallbacks.
    if (const Entry* e = s->value("fallbacks")) read_name_list(*e, m.fallbacks);
    if (const Entry* e = s->value("context_fallbacks")) read_name_list(*e, m.context_fallbacks);
    if (auto t = subsection(*s, "timeouts", kTimeoutKeys)) {
      read_duration(*t, "connect", m.timeouts.connect);
      read_duration(*t, "first_byte", m.timeouts.first_byte);
      read_duration(*t, "idle", m.timeouts.idle);
      read_duration(*t, "total", m.timeouts.total);
    }
    if (auto r = subsection(*s, "retries", kRetriesKeys)) read_retries(*r, m.retries);
    if (auto q = subsection(*s, "queue", kQueueKeys)) read_queue(*q, m.queue);
    if (auto h = subsection(*s, "hedge", kHedgeKeys)) {
      read_bool(*h, "enabled", m.hedge.enabled);
      read_duration(*h, "delay", m.hedge.delay, /*allow_zero=*/true);
      read_duration(*h, "min_delay", m.hedge.min_delay, /*allow_zero=*/true);
    }
    if (auto h = subsection(*s, "health", kHealthKeys)) read_health(*h, m.health);
    if (auto l = subsection(*s, "limits", kRateLimitKeys)) read_rate_limit(*l, m.limits);
    // A deployment that names a well-known model and no prices takes its list price, so that
    // costs are recorded and `strategy: cost` works without copying a price list.
    for (Deployment& d : m.deployments) {
      if (d.input_cost_per_mtok != 0 || d.cached_input_cost_per_mtok != 0 ||
          d.output_cost_per_mtok != 0) {
        continue;
      }
      const std::string& upstream = d.model.empty() ? m.name : d.model;
      if (auto price = list_price(upstream); price && !upstream.ends_with('*')) {
        d.input_cost_per_mtok = price->input;
        d.cached_input_cost_per_mtok = price->cached_input;
        d.output_cost_per_mtok = price->output;
      }
    }
    config.models.push_back(std::move(m));
  }

  std::optional<Deployment> read_deployment(const YAML::Node& node, const std::string& path,
                                            const std::vector<Provider>& providers) {
    auto s = section(node, node.Mark(), path, kDeploymentKeys);
    if (!s) return std::nullopt;
    Deployment d;
    d.mark = to_mark(node.Mark());
    if (require(*s, "provider")) {
      const Entry& e = *s->value("provider");
      if (auto name = scalar(e)) {
        if (find_by_name(providers, *name) != nullptr) {
          d.provider = std::move(*name);
        } else if (attempted_provider_names_.count(*name) == 0) {
          std::vector<std::string_view> names;
          for (const Provider& p : providers) {
            if (!p.name.empty()) names.push_back(p.name);
          }
          report(e, "unknown provider " + quote(*name) + did_you_mean(*name, names));
        }
      }
    }
    read_string(*s, "model", d.model);
    read_int(*s, "weight", d.weight, 1, kMaxWeight);
    read_int(*s, "max_concurrency", d.max_concurrency, 0, std::numeric_limits<int>::max());
    read_uint64(*s, "rpm", d.rpm);
    read_uint64(*s, "tpm", d.tpm);
    read_int(*s, "priority", d.priority, 0, 1000);
    read_double(*s, "input_cost_per_mtok", d.input_cost_per_mtok, 0,
                std::numeric_limits<double>::max());
    read_double(*s, "cached_input_cost_per_mtok", d.cached_input_cost_per_mtok, 0,
                std::numeric_limits<double>::max());
    read_double(*s, "output_cost_per_mtok", d.output_cost_per_mtok, 0,
                std::numeric_limits<double>::max());
    if (auto a = subsection(*s, "adaptive_concurrency", kAdaptiveKeys)) {
      AdaptiveConcurrency& ac = d.adaptive;
      ac.enabled = true;  // writing the section turns it on unless it says otherwise
      read_bool(*a, "enabled", ac.enabled);
      read_int(*a, "initial_limit", ac.initial_limit, 1, 1000000);
      read_int(*a, "min_limit", ac.min_limit, 1, 1000000);
      read_int(*a, "max_limit", ac.max_limit, 1, 1000000);
      read_double(*a, "tolerance", ac.tolerance, 1, 100);
      if (ac.min_limit > ac.max_limit) {
        report(a->node.Mark(), a->where() + ": min_limit must not be greater than max_limit");
      } else {
        ac.initial_limit = std::clamp(ac.initial_limit, ac.min_limit, ac.max_limit);
      }
    }
    return d;
  }

  std::string source_;
  const EnvLookup& lookup_;
  std::vector<Problem> problems_;
  std::map<std::string, Mark, std::less<>> model_marks_;
  // Where each fallback name was written, in the order read_model met them.
  std::vector<std::pair<YAML::Mark, std::string>> fallback_marks_;
  // Every provider name written in the file, valid or not. A deployment naming a provider whose
  // entry was rejected is not reported again: the follow-on message would bury the real one.
  std::set<std::string, std::less<>> attempted_provider_names_;
};

}  // namespace

ConfigError::ConfigError(std::vector<std::string> problems)
    : std::runtime_error([&] {
        std::string text;
        for (const std::string& p : problems) {
          if (!text.empty()) text += '\n';
          text += p;
        }
        return text;
      }()),
      problems_(std::move(problems)) {}

std::string interpolate(std::string_view text, const EnvLookup& lookup, std::string* error) {
  std::string ignored;
  std::string& message = error != nullptr ? *error : ignored;
  message.clear();
  std::string out;
  if (!interpolate_into(text, lookup, 0, out, message)) return {};
  return out;
}

Config load_yaml(std::string_view text, const std::string& source) {
  EnvLookup lookup = getenv_lookup;
  Loader loader(source, lookup);
  Config config = loader.load(text);
  std::vector<std::string> problems = loader.take_problems();
  if (!problems.empty()) throw ConfigError(std::move(problems));
  return config;
}

Config load_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw ConfigError({path + ": cannot read: " + std::strerror(errno)});
  std::string text;
  char buf[64 * 1024];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  // fopen succeeds on a directory; the read is what fails (EISDIR).
  bool failed = std::ferror(f) != 0;
  int read_errno = errno;
  std::fclose(f);
  if (failed) throw ConfigError({path + ": cannot read: " + std::strerror(read_errno)});
  return load_yaml(text, path);
}

core::Result<Listen> parse_listen(std::string_view text) {
  std::string error;
  if (auto listen = parse_listen_text(text, error)) return *listen;
  return core::fail(core::Errc::kInvalidRequest, error);
}

std::string_view describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a scalar";
    default:
      return "nothing";
  }
}

core::Result<Url> parse_url(std::string_view text) {
  std::string error;
  if (auto url = parse_base_url(text, error)) return *url;
  return core::fail(core::Errc::kInvalidRequest, error);
}

}  // namespace sluice::config
