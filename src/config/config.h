// Sluice's configuration as typed structs, loaded from YAML (loader.h) or built as the offline
// default. A Config is immutable once loaded and shared as std::shared_ptr<const Config>; a
// reload builds a new one (DESIGN.md, "Process model").
//
// Every field has a default that works; docs/configuration.md documents each key.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::config {

using Duration = std::chrono::milliseconds;
using namespace std::chrono_literals;

// Where a value came from, for messages ("sluice.yaml:12:5").
struct Mark {
  int line = 0;    // 1-based; 0 when the value was not read from a file
  int column = 0;  // 1-based
};

enum class ProviderKind {
  kOpenAI,  // any OpenAI-compatible HTTP API (OpenAI, vLLM, llama.cpp, Ollama, Groq, ...)
  kMock,    // the built-in simulated provider, answering in-process
};

// An upstream base URL split into the parts the HTTP client needs.
struct Url {
  bool tls = false;        // https
  std::string host;        // name or address, without brackets for IPv6
  std::uint16_t port = 0;  // explicit or the scheme's default
  std::string base_path;   // path prefix without a trailing slash, e.g. "/v1"
  std::string text;        // as written, for messages
};

struct UpstreamTimeouts {
  Duration connect = 5s;       // TCP connect plus TLS handshake
  Duration first_byte = 300s;  // request sent -> response headers received
  Duration idle = 120s;        // between two reads of the response body (stream events)
  Duration total = 600s;       // the whole exchange
};

struct MockSettings {
  Duration first_token_delay = 0ms;  // before the first byte of an answer
  double tokens_per_second = 0;      // stream pacing; 0 sends every token at once
  double fault_rate = 0;             // share of requests answered with a 500, in [0, 1]
  std::uint64_t seed = 0;            // seeds the fault sequence
  int max_tokens = 64;               // answer length when the request sets no max_tokens
  int embedding_dimensions = 256;    // when the request sets no `dimensions`
};

struct Provider {
  Mark mark;
  std::string name;
  ProviderKind kind = ProviderKind::kOpenAI;
  Url base_url;         // kOpenAI only
  std::string api_key;  // sent upstream as "Authorization: Bearer <api_key>" when set
  UpstreamTimeouts timeouts;
  bool tls_verify = true;  // verify the upstream certificate and host name
  std::string ca_file;     // PEM bundle to trust instead of the system store
  // Extra headers sent upstream on every request (name, value).
  std::vector<std::pair<std::string, std::string>> headers;
  // Client request headers copied upstream, lower-case; a trailing '*' matches a prefix.
  std::vector<std::string> forward_headers;
  int max_idle_connections = 64;  // idle keep-alive connections kept per worker
  Duration pool_idle_timeout = 30s;
  MockSettings mock;  // kMock only
};

struct Deployment {
  Mark mark;
  std::string provider;  // a Provider's name
  std::string model;     // name sent upstream; empty means the name the client asked for
};

struct Model {
  Mark mark;
  // The name clients send. A trailing '*' makes it a pattern ("gpt-*", "*"); exact names win over
  // patterns, and longer patterns over shorter ones.
  std::string name;
  std::vector<Deployment> deployments;
};

struct Listen {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 picks a free port (logged at startup)
};

struct ServerLimits {
  std::uint64_t max_header_bytes = 32 * 1024;           // request line + headers -> 431
  std::uint64_t max_body_bytes = 16 * 1024 * 1024;      // request body -> 413
  std::uint64_t max_response_bytes = 64 * 1024 * 1024;  // buffered (non-stream) upstream answer
  Duration header_timeout = 10s;  // from the first byte of a request to the end of its headers
  Duration body_timeout = 30s;    // between two reads of a request body
  Duration idle_timeout = 75s;    // keep-alive: waiting for the next request
  Duration send_timeout = 60s;    // a write to the client that makes no progress
  int max_connections = 10000;    // per process; further connections wait in the backlog
};

struct AccessLog {
  bool enabled = false;
  std::string path = "stdout";  // "stdout", "stderr" or a file path
};

// The response cache (docs/caching.md). Off unless enabled: serving a stored answer to a
// repeated prompt changes what a non-deterministic model would have said.
struct Cache {
  bool enabled = false;
  Duration ttl = 3600s;  // how long an answer is kept unless the request says otherwise
  // Which endpoints are cached. Images are off by default: hosted image URLs expire.
  bool chat = true;
  bool completions = true;
  bool embeddings = true;
  bool images = false;
  // Cache only requests whose answer is reproducible: temperature 0 or a fixed seed (embeddings
  // always are).
  bool only_deterministic = false;
  std::uint64_t max_entry_bytes = 1024 * 1024;  // larger answers are served but not stored
  // The namespace entries are stored under until keys and tenants exist.
  std::string default_namespace = "default";
  struct Memory {
    std::uint64_t max_bytes = 256ull * 1024 * 1024;
  } memory;
  // The disk tier (RocksDB), on when `path` is set; it survives restarts.
  struct Disk {
    std::string path;
    std::uint64_t max_bytes = 1024ull * 1024 * 1024;
  } disk;
  // The Redis tier, on when `url` is set; shared by every instance that uses the same Redis.
  struct Redis {
    std::string url;          // redis://[:password@]host[:port][/db]
    Duration timeout = 50ms;  // a lookup slower than this is a miss
    std::string key_prefix = "sluice:";
  } redis;
};

// Joining identical requests that are in flight at the same time (docs/caching.md).
struct Coalesce {
  bool enabled = true;
};

struct Config {
  std::string source = "<default>";  // file path the config was loaded from
  Listen listen;
  int workers = 0;  // 0 means one per hardware thread ("auto")
  ServerLimits limits;
  Duration drain_timeout = 30s;
  std::string log_level = "info";  // trace, debug, info, warn, error, off
  AccessLog access_log;
  Cache cache;
  Coalesce coalesce;
  std::vector<Provider> providers;
  std::vector<Model> models;

  const Provider* find_provider(std::string_view name) const;
};

}  // namespace sluice::config
