// Loading Sluice's configuration from YAML into the typed structs of config.h, with environment
// interpolation and validation. Every problem is reported as "FILE:LINE:COLUMN: message" so a
// user can jump to it, and all problems of a file are reported at once (not just the first).
// docs/configuration.md documents the schema.
//
// Loading happens at startup and on reload, never on the request path, so these functions throw
// (ConfigError) instead of returning a Result.
//
// Thread safety: the functions keep no state and may run concurrently, but load_file, load_yaml
// and default_config read the process environment (getenv), so they must not race with setenv.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/error.h"

namespace YAML {
class Node;
}

namespace sluice::config {

// Thrown by the loaders; what() is all problems joined by newlines.
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  std::vector<std::string> problems_;
};

// Reads and validates the file at `path`; Config::source is set to `path`. An unreadable file
// gives the single problem "PATH: cannot read: <reason>".
Config load_file(const std::string& path);

// Parses and validates `text`; `source` names it in messages and becomes Config::source.
// Environment variables are read with getenv.
Config load_yaml(std::string_view text, const std::string& source);

// The configuration `sluice serve` uses with no file: works offline at once. A mock provider
// "sim" serves the model "mock"; when OPENAI_API_KEY is set and non-empty, a provider "openai"
// also serves OpenAI's current model names and, as a catch-all, every other name.
Config default_config();

// Parses a listen address: "host:port" or "[v6-address]:port".
core::Result<Listen> parse_listen(std::string_view text);

// What a YAML node is, for messages: "a mapping", "a list", "a scalar" or "nothing".
std::string_view describe(const YAML::Node& node);

// Parses an http:// or https:// URL as a provider's base_url is (no credentials, query or
// fragment); the message says what is wrong.
core::Result<Url> parse_url(std::string_view text);

// Returns the value of an environment variable, or nullopt when it is unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;

// Replaces ${VAR}, ${VAR:-default} and ${VAR:?message} in a scalar. An unset ${VAR} becomes
// empty; ${VAR:?msg} with VAR unset or empty is an error; "$$" is a literal "$". A '$' followed
// by anything else is kept as written. A default may itself contain ${...}; substituted values
// are never expanded again.
//
// On success returns the result and clears *error; on failure sets *error to a message (which
// never contains a variable's value) and returns an empty string. `error` may be null.
std::string interpolate(std::string_view text, const EnvLookup& lookup, std::string* error);

}  // namespace sluice::config
