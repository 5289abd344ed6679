// Sluice's configuration as typed structs, loaded from YAML (loader.h) or built as the offline
// default. A Config is immutable once loaded and shared as std::shared_ptr<const Config>; a
// reload builds a new one (DESIGN.md, "Process model").
//
// Every field has a default that works; docs/configuration.md documents each key. Each struct
// compares with == member by member (Mark excepted, see there), so a test can check that a
// configuration survives a round trip (config_json.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::config {

using Duration = std::chrono::milliseconds;
using namespace std::chrono_literals;

// Where a value came from, for messages ("sluice.yaml:12:5").
// Marks always compare equal: they say where a value was written, not what it is, so two
// configurations with the same values are equal however their files were laid out.
struct Mark {
  int line = 0;    // 1-based; 0 when the value was not read from a file
  int column = 0;  // 1-based

  bool operator==(const Mark&) const { return true; }
};

enum class ProviderKind {
  kOpenAI,     // any OpenAI-compatible HTTP API (OpenAI, vLLM, llama.cpp, Ollama, Groq, ...)
  kAzure,      // Azure OpenAI: deployment URLs, api-version, api-key (docs/providers.md)
  kAnthropic,  // Anthropic's Messages API, translated both ways
  kGemini,     // Google's Gemini API (generateContent, batchEmbedContents), translated both ways
  kMock,       // the built-in simulated provider, answering in-process
};

// The `kind` as the file writes it, and back.
std::string_view provider_kind_name(ProviderKind kind);
std::optional<ProviderKind> parse_provider_kind(std::string_view name);

// An upstream base URL split into the parts the HTTP client needs.
struct Url {
  bool tls = false;        // https
  std::string host;        // name or address, without brackets for IPv6
  std::uint16_t port = 0;  // explicit or the scheme's default
  std::string base_path;   // path prefix without a trailing slash, e.g. "/v1"
  std::string text;        // as written, for messages

  bool operator==(const Url&) const = default;
};

struct UpstreamTimeouts {
  Duration connect = 5s;       // TCP connect plus TLS handshake
  Duration first_byte = 300s;  // request sent -> response headers received
  Duration idle = 120s;        // between two reads of the response body (stream events)
  Duration total = 600s;       // the whole exchange

  bool operator==(const UpstreamTimeouts&) const = default;
};

struct MockSettings {
  Duration first_token_delay = 0ms;  // before the first byte of an answer
  double tokens_per_second = 0;      // stream pacing; 0 sends every token at once
  double fault_rate = 0;             // share of requests answered with a 500, in [0, 1]
  std::uint64_t seed = 0;            // seeds the fault sequence
  int max_tokens = 64;               // answer length when the request sets no max_tokens
  int embedding_dimensions = 256;    // when the request sets no `dimensions`

  bool operator==(const MockSettings&) const = default;
};

struct Provider {
  Mark mark;
  std::string name;
  ProviderKind kind = ProviderKind::kOpenAI;
  Url base_url;  // every kind but kMock; Anthropic and Gemini default to the vendor's API
  // Sent upstream the way the kind expects it when set: "Authorization: Bearer" (openai),
  // "api-key" (azure), "x-api-key" (anthropic), "x-goog-api-key" (gemini).
  std::string api_key;
  // kAzure: the api-version query parameter; kAnthropic: the anthropic-version header.
  std::string api_version;
  // kAnthropic: max_tokens when a request sets none (Anthropic requires it, OpenAI does not).
  std::uint64_t default_max_tokens = 4096;
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

  bool operator==(const Provider&) const = default;
};

// A gradient concurrency limit (docs/routing.md, "Adaptive concurrency"): the limit moves with
// the ratio of long-run to recent latency, so it settles where latency starts to climb.
struct AdaptiveConcurrency {
  bool enabled = false;
  int initial_limit = 20;
  int min_limit = 1;
  int max_limit = 1000;
  double tolerance = 1.5;  // recent latency may be this many times the long-run one, unpunished

  bool operator==(const AdaptiveConcurrency&) const = default;
};

struct Deployment {
  Mark mark;
  std::string provider;  // a Provider's name
  std::string model;     // name sent upstream; empty means the name the client asked for
  int weight = 1;        // share of traffic for weighted, random, least-requests, consistent-hash
  int max_concurrency = 0;  // requests in flight at once, over all workers; 0: unlimited
  std::uint64_t rpm = 0;    // the provider's requests-per-minute limit for this deployment; 0: none
  std::uint64_t tpm = 0;    // and tokens per minute
  int priority = 0;         // lower first; a higher tier only when every lower one is unavailable
  // Price in USD per million tokens: for `strategy: cost`, each request's recorded cost and the
  // cache's savings. Left out, a well-known model's list price (config/prices.h) is used.
  double input_cost_per_mtok = 0;
  double cached_input_cost_per_mtok = 0;  // prompt tokens the provider served from its cache
  double output_cost_per_mtok = 0;
  AdaptiveConcurrency adaptive;

  bool operator==(const Deployment&) const = default;
};

enum class Strategy {
  kRoundRobin,
  kWeighted,        // smooth weighted round-robin
  kRandom,          // weighted random
  kLeastRequests,   // power of two choices on in-flight / weight
  kLatency,         // lowest peak-EWMA latency
  kP2cEwma,         // power of two choices on peak-EWMA latency x (in-flight + 1)
  kConsistentHash,  // bounded-load consistent hashing on `hash_key`
  kUsage,           // most headroom against rpm / tpm
  kCost,            // cheapest available deployment
};

inline constexpr Strategy kStrategies[] = {
    Strategy::kRoundRobin,     Strategy::kWeighted, Strategy::kRandom,
    Strategy::kLeastRequests,  Strategy::kLatency,  Strategy::kP2cEwma,
    Strategy::kConsistentHash, Strategy::kUsage,    Strategy::kCost};
// The configuration name ("p2c-ewma") and back; nullopt for an unknown name.
std::string_view strategy_name(Strategy strategy);
std::optional<Strategy> parse_strategy(std::string_view name);

// What `consistent-hash` hashes.
struct HashKey {
  enum class Source { kUser, kHeader, kPrefix };
  Source source = Source::kUser;  // the request's `user` field
  std::string header;             // kHeader: lower-case header name
  std::size_t prefix_bytes = 0;   // kPrefix: the first N bytes of the prompt (messages / input)
  double load_factor = 1.25;      // no deployment takes more than this x the mean load

  bool operator==(const HashKey&) const = default;
};

// Passive health: consecutive failures eject a deployment for base_ejection x (times ejected),
// capped at max_ejection. Defaults follow Envoy's outlier detection.
struct OutlierDetection {
  bool enabled = true;
  int consecutive_failures = 5;
  Duration base_ejection = 30s;
  Duration max_ejection = 300s;
  // At most this share of a model's deployments is ejected at once (at least one always may be).
  int max_ejection_percent = 10;

  bool operator==(const OutlierDetection&) const = default;
};

// Per deployment: closed -> open when the failure ratio over `window` reaches `failure_ratio`
// (with at least `min_requests`); open -> half-open after `open_for`; half-open lets
// `half_open_probes` requests through; all succeed -> closed, one fails -> open again.
struct CircuitBreaker {
  bool enabled = true;
  double failure_ratio = 0.5;
  int min_requests = 20;
  Duration window = 10s;
  Duration open_for = 30s;
  int half_open_probes = 3;

  bool operator==(const CircuitBreaker&) const = default;
};

// Active health checks: GET <base_url><path> every `interval`.
struct ActiveProbe {
  bool enabled = false;
  std::string path = "/models";  // appended to the provider's base_url
  Duration interval = 10s;
  Duration timeout = 2s;
  int unhealthy_after = 2;  // consecutive failed probes mark the deployment down
  int healthy_after = 1;    // consecutive good probes bring it back

  bool operator==(const ActiveProbe&) const = default;
};

struct Health {
  OutlierDetection outlier;
  CircuitBreaker breaker;
  ActiveProbe probe;
  // A 429 puts the deployment in cooldown for its Retry-After, or this when it has none; never
  // longer than max_cooldown.
  Duration cooldown = 5s;
  Duration max_cooldown = 300s;

  bool operator==(const Health&) const = default;
};

// Retries of one request (docs/routing.md, "Retries"), only before the client got a byte.
struct Retries {
  int max_attempts = 3;          // per model in the chain, the first attempt included
  Duration backoff_base = 50ms;  // full jitter: sleep uniform(0, min(max, base x 2^retry))
  Duration backoff_max = 2s;
  // An upstream Retry-After up to this is waited for when no other deployment can take the
  // retry; a longer one goes back to the client (the OpenAI SDKs wait for it themselves).
  Duration max_retry_after = 1s;
  // Retries in flight may be at most this share of the requests in flight (Envoy's retry
  // budget), but min_concurrency retries are always allowed.
  double budget = 0.2;
  int min_concurrency = 3;

  bool operator==(const Retries&) const = default;
};

// When every deployment is at max_concurrency.
struct Queue {
  int max_size = 100;  // waiting requests per model; 0 refuses at once
  Duration timeout = 10s;
  int status = 429;  // 429 or 503, with Retry-After

  bool operator==(const Queue&) const = default;
};

// A second attempt on another deployment when the first has not answered in time (non-stream
// requests only). The loser is cancelled.
struct Hedge {
  bool enabled = false;
  Duration delay = 0ms;       // 0: the model's observed p95 latency
  Duration min_delay = 10ms;  // never hedge sooner than this

  bool operator==(const Hedge&) const = default;
};

// Per-model timeouts; a field left out keeps the provider's.
struct ModelTimeouts {
  Duration connect = 0ms;
  Duration first_byte = 0ms;
  Duration idle = 0ms;
  Duration total = 0ms;  // one deadline for every attempt, retries and fallbacks included

  bool operator==(const ModelTimeouts&) const = default;
};

// Requests and tokens per minute; 0 means unlimited (docs/keys-and-limits.md).
struct RateLimit {
  std::uint64_t rpm = 0;
  std::uint64_t tpm = 0;

  bool operator==(const RateLimit&) const = default;
};

struct Model {
  Mark mark;
  // The name clients send. A trailing '*' makes it a pattern ("gpt-*", "*"); exact names win over
  // patterns, and longer patterns over shorter ones.
  std::string name;
  std::vector<Deployment> deployments;
  Strategy strategy = Strategy::kP2cEwma;
  HashKey hash_key;
  std::vector<std::string> fallbacks;          // exact model names, tried in order
  std::vector<std::string> context_fallbacks;  // instead, when the error is context length
  ModelTimeouts timeouts;
  Retries retries;
  Queue queue;
  Hedge hedge;
  Health health;
  RateLimit limits;  // shared by every caller of this model name, across keys

  bool operator==(const Model&) const = default;
};

// Defaults for every model's retries, queue and health (`routing:` at the top level).
struct Routing {
  Retries retries;
  Queue queue;
  Health health;

  bool operator==(const Routing&) const = default;
};

struct Listen {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0 picks a free port (logged at startup)

  bool operator==(const Listen&) const = default;
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

  bool operator==(const ServerLimits&) const = default;
};

// Who may call (docs/keys-and-limits.md).
struct Auth {
  enum class Mode { kNone, kKeys };
  Mode mode = Mode::kNone;  // kNone: anyone who can connect; kKeys: a virtual key per caller
  // Guards /admin/ and the dashboard; the SLUICE_ADMIN_KEY environment variable when left out.
  // Without one, the admin API answers loopback clients only.
  std::string admin_key;

  bool operator==(const Auth&) const = default;
};

// Rate limiting across keys and instances, beside the request limits above (YAML: `limits:`).
struct RateLimits {
  enum class Backend { kLocal, kRedis };
  Backend backend = Backend::kLocal;
  struct Redis {
    std::string url;          // redis://[:password@]host[:port][/db]
    Duration timeout = 20ms;  // a decision slower than this uses the local limiter
    std::string key_prefix = "sluice:rl:";

    bool operator==(const Redis&) const = default;
  } redis;
  // When Redis cannot answer: true lets requests through under this instance's local limits;
  // false refuses them with 503.
  bool fail_open = true;
  RateLimit global;  // every request through this gateway
  // A request without max_tokens reserves this many output tokens against tpm until its real
  // usage is known.
  std::uint64_t reserve_output_tokens = 1024;

  bool operator==(const RateLimits&) const = default;
};

struct AccessLog {
  bool enabled = false;
  std::string path = "stdout";  // "stdout", "stderr" or a file path

  bool operator==(const AccessLog&) const = default;
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

    bool operator==(const Memory&) const = default;
  } memory;
  // The disk tier (RocksDB), on when `path` is set; it survives restarts.
  struct Disk {
    std::string path;
    std::uint64_t max_bytes = 1024ull * 1024 * 1024;

    bool operator==(const Disk&) const = default;
  } disk;
  // The Redis tier, on when `url` is set; shared by every instance that uses the same Redis.
  struct Redis {
    std::string url;          // redis://[:password@]host[:port][/db]
    Duration timeout = 50ms;  // a lookup slower than this is a miss
    std::string key_prefix = "sluice:";

    bool operator==(const Redis&) const = default;
  } redis;

  bool operator==(const Cache&) const = default;
};

// Joining identical requests that are in flight at the same time (docs/caching.md).
struct Coalesce {
  bool enabled = true;

  bool operator==(const Coalesce&) const = default;
};

// Alerts (docs/observability.md, "Alerts"): rules evaluated once a second on the performance
// API's readings. A change of state is logged and, when a webhook is set, posted to it.
struct AlertRule {
  enum class Kind {
    kCacheHitRate,      // fires while the window's hit rate is below the threshold
    kErrorRate,         // ... its share of 5xx answers is above it
    kP99Latency,        // ... its p99 latency (seconds) is above it
    kRateLimitedShare,  // ... its share of requests Sluice refused with 429 is above it
    kMemory,            // ... resident memory (bytes) is above it, read at each tick
    kDeploymentEjected  // ... a deployment (any, or the one named) is out of rotation
  };
  Mark mark;
  std::string name;
  Kind kind = Kind::kErrorRate;
  double threshold = 0;   // a share in [0, 1], seconds, or bytes; none for deployment_ejected
  Duration window = 60s;  // the rates and the latency; at most 15 minutes
  // A rate needs at least this many requests in its window (hits and misses for the hit rate):
  // with less traffic the rule stays (or goes back to) ok.
  std::uint64_t min_requests = 5;
  std::string deployment;  // deployment_ejected: a deployment id ("provider/model"); empty: any
  bool operator==(const AlertRule&) const = default;
};

inline constexpr AlertRule::Kind kAlertKinds[] = {
    AlertRule::Kind::kCacheHitRate, AlertRule::Kind::kErrorRate,
    AlertRule::Kind::kP99Latency,   AlertRule::Kind::kRateLimitedShare,
    AlertRule::Kind::kMemory,       AlertRule::Kind::kDeploymentEjected};
// "error_rate" and back; nullopt for an unknown name.
std::string_view alert_kind_name(AlertRule::Kind kind);
std::optional<AlertRule::Kind> parse_alert_kind(std::string_view name);
// Whether a kind is measured over a window of requests (and so takes window and min_requests).
bool alert_kind_has_window(AlertRule::Kind kind);

struct Alerts {
  std::vector<AlertRule> rules;
  // Where state changes are POSTed as JSON; none when url.host is empty.
  struct Webhook {
    Url url;
    Duration timeout = 5s;  // the whole delivery: connect, TLS, request and answer
    bool operator==(const Webhook&) const = default;
  } webhook;
  bool operator==(const Alerts&) const = default;
};

// Prometheus metrics (docs/observability.md). Off, no worker records anything and /metrics is
// not served (404).
struct Metrics {
  bool enabled = true;

  bool operator==(const Metrics&) const = default;
};

// The Batch API on the server (docs/batch.md, "Batch API on the server"): what uploads may weigh
// and how much of the gateway batch jobs may use. Needs data_dir, where files and jobs are kept.
struct Batch {
  // The largest body POST /v1/files accepts (every other route keeps limits.max_body_bytes). The
  // upload is held in memory while it is read, as every request body is.
  std::uint64_t max_file_bytes = 100ull * 1024 * 1024;
  // Requests that batch jobs have in flight, all jobs together; interactive requests always
  // have the rest of the gateway's capacity.
  int concurrency = 4;

  bool operator==(const Batch&) const = default;
};

// Config::source of the built-in configuration (loader.h, default_config), which has no file.
inline constexpr std::string_view kDefaultSource = "<default>";

struct Config {
  std::string source = std::string(kDefaultSource);  // file path the config was loaded from
  Listen listen;
  int workers = 0;  // 0 means one per hardware thread ("auto")
  ServerLimits limits;
  RateLimits rate_limits;  // read from `limits:` too
  // The control plane's home (keys, usage ledger): a SQLite database in this directory. Empty
  // (the default) runs without one; `auth.mode: keys` needs it.
  std::string data_dir;
  Auth auth;
  Duration drain_timeout = 30s;
  std::string log_level = "info";  // trace, debug, info, warn, error, off
  AccessLog access_log;
  Cache cache;
  Coalesce coalesce;
  Metrics metrics;
  Routing routing;
  std::vector<Provider> providers;
  std::vector<Model> models;
  Alerts alerts;
  Batch batch;

  const Provider* find_provider(std::string_view name) const;

  // Every member takes part, `source` too: compare configurations loaded under the same name.
  bool operator==(const Config&) const = default;
};

}  // namespace sluice::config
