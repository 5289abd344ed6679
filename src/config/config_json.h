// The effective configuration as JSON, in the schema of the YAML file (docs/configuration.md):
// GET /admin/config shows it, and PATCH /admin/config merges a patch into it and loads the result
// with the file's loader, so the JSON form must load back to the same Config.
//
// JSON text is YAML, so the loader reads it as it is; to_text writes it one member per line so
// that the loader's line numbers would point somewhere, and load_json drops the positions from
// the messages (a PATCH user has no file to look at: "cache.ttl: invalid duration ...").
//
// Thread safety: pure functions. load_json reads the environment (getenv) like load_yaml, so it
// must not race with setenv.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "config/config.h"

namespace sluice::config {

// What to_json(config, /*redact=*/true) writes instead of a secret, or instead of the password
// inside a Redis URL ("redis://:<redacted>@cache.internal:6379/0"). An empty secret stays empty:
// it says that none is set.
inline constexpr std::string_view kRedacted = "<redacted>";

// Every key the loader reads, with its effective value (defaults filled in), in the file's order
// and shapes: durations as "30s" / "250ms", sizes as integers, strategies and modes by name.
// String values are written as the file would hold them, "$" as "$$", so interpolation gives them
// back unchanged. Left out only what the loader cannot take back: a Redis section without a URL,
// an empty tls.ca_file, model timeouts of 0 ("keep the provider's"), hash_key unless the strategy
// is consistent-hash; a model's retries, queue and health list only what differs from routing:
// (the defaults they start from), so a change to routing: still reaches them.
//
// With `redact`, secrets are replaced by kRedacted: providers' api_key, auth.admin_key, the
// password of cache.redis.url and limits.redis.url, and provider header values whose name looks
// like a credential (one containing "auth", "cookie", "key", "token", "secret", "password" or
// "credential", case-insensitively).
boost::json::value to_json(const Config& config, bool redact);

// `doc` as JSON text, one member or element per line, indented by two spaces. Numbers are written
// so they read back exactly (doubles in their shortest round-trip form) and strings with JSON
// escapes the YAML loader understands, so the text is both valid JSON and valid YAML.
std::string to_text(const boost::json::value& doc);

// Loads `doc` (a to_json result, perhaps patched) with load_yaml; Config::source is `source`.
// Throws ConfigError whose problems name the key path but no line or column, e.g.
// "cache.ttl: invalid duration \"soon\" (examples: 250ms, 10s, 1.5m, 1h)".
Config load_json(const boost::json::value& doc, const std::string& source);

}  // namespace sluice::config
