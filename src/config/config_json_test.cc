#include "config/config_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "support/scoped_env.h"
#include "support/temp_dir.h"

namespace sluice::config {
namespace {

namespace json = boost::json;
using sluice::testing::ScopedEnv;
using sluice::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// The number of members of the aggregate T: how many values it can be brace-initialized with.
struct AnyValue {
  template <class T>
  operator T() const;
};
template <class T, class... Values>
constexpr std::size_t member_count() {
  if constexpr (requires { T{Values{}..., AnyValue{}}; }) {
    return member_count<T, Values..., AnyValue>();
  } else {
    return sizeof...(Values);
  }
}

// When one of these fails, a member was added to (or removed from) config.h: write it in
// to_json (config_json.cc), give it a value other than its default in rich_yaml below so the
// round trip checks it, then update the count here.
static_assert(member_count<Config>() == 18);
static_assert(member_count<Batch>() == 2);
static_assert(member_count<Alerts>() == 2);
static_assert(member_count<Alerts::Webhook>() == 2);
static_assert(member_count<AlertRule>() == 7);
static_assert(member_count<Listen>() == 2);
static_assert(member_count<ServerLimits>() == 8);
static_assert(member_count<RateLimits>() == 5);
static_assert(member_count<RateLimits::Redis>() == 3);
static_assert(member_count<Auth>() == 2);
static_assert(member_count<AccessLog>() == 2);
static_assert(member_count<Cache>() == 12);
static_assert(member_count<Cache::Memory>() == 1);
static_assert(member_count<Cache::Disk>() == 2);
static_assert(member_count<Cache::Redis>() == 3);
static_assert(member_count<Coalesce>() == 1);
static_assert(member_count<Metrics>() == 1);
static_assert(member_count<Routing>() == 3);
static_assert(member_count<Provider>() == 15);
static_assert(member_count<Url>() == 5);
static_assert(member_count<UpstreamTimeouts>() == 4);
static_assert(member_count<MockSettings>() == 6);
static_assert(member_count<Model>() == 13);
static_assert(member_count<Deployment>() == 12);
static_assert(member_count<AdaptiveConcurrency>() == 5);
static_assert(member_count<HashKey>() == 4);
static_assert(member_count<ModelTimeouts>() == 4);
static_assert(member_count<Retries>() == 6);
static_assert(member_count<Queue>() == 3);
static_assert(member_count<Hedge>() == 3);
static_assert(member_count<Health>() == 5);
static_assert(member_count<OutlierDetection>() == 5);
static_assert(member_count<CircuitBreaker>() == 6);
static_assert(member_count<ActiveProbe>() == 6);
static_assert(member_count<RateLimit>() == 2);

// The configuration the loader makes of `c`'s JSON form, under the same source name.
Config round_trip(const Config& c) { return load_yaml(to_text(to_json(c, false)), c.source); }

// Loads `yaml` and checks that its JSON form loads back to an equal Config; returns the first.
Config expect_round_trip(const std::string& yaml) {
  Config c = load_yaml(yaml, "test.yaml");
  std::string text = to_text(to_json(c, false));
  Config back;
  try {
    back = load_yaml(text, c.source);
  } catch (const ConfigError& e) {
    ADD_FAILURE() << e.what() << "\nin\n" << text;
    return c;
  }
  EXPECT_TRUE(back == c) << "differs after the round trip:\n" << text;
  return c;
}

// Every key set to something other than its default, so that a key to_json forgets comes back
// as the default and the comparison fails. Model x's retries, queue and health differ from
// routing's, which differ from the built-in defaults; model y inherits routing's.
std::string rich_yaml(const std::string& ca_file) {
  return R"(listen: "[::1]:9091"
workers: 3
drain_timeout: 7s
log_level: debug
access_log: {enabled: true, path: /tmp/sluice-access.log}
limits:
  max_header_bytes: 8KiB
  max_body_bytes: 1MB
  max_response_bytes: 3MiB
  header_timeout: 2s
  body_timeout: 3s
  idle_timeout: 4s
  send_timeout: 500ms
  max_connections: 77
  backend: redis
  redis: {url: "redis://:rl-pass@limits.internal:6390/2", timeout: 5ms, key_prefix: "rl:"}
  failure_mode: closed
  global: {rpm: 600, tpm: 18446744073709551615}
  reserve_output_tokens: 256
data_dir: /var/lib/sluice
auth: {mode: keys, admin_key: "admin-$ecret"}
cache:
  enabled: true
  ttl: 90s
  endpoints: [chat, images]
  only_deterministic: true
  max_entry_bytes: 2MiB
  namespace: team.a
  memory: {max_bytes: 64MiB}
  disk: {path: /var/cache/sluice, max_bytes: 5GiB}
  redis: {url: "redis://cache-user:c-pass@cache.internal:6391/3", timeout: 15ms, key_prefix: "c:"}
coalesce: {enabled: false}
metrics: {enabled: false}
routing:
  retries: {max_attempts: 5, backoff_base: 20ms, backoff_max: 1500ms, max_retry_after: 2s,
            budget: 0.3, min_concurrency: 4}
  queue: {max_size: 11, timeout: 3s, status: 503}
  health:
    outlier: {enabled: false, consecutive_failures: 6, base_ejection: 20s, max_ejection: 200s,
              max_ejection_percent: 33}
    breaker: {enabled: false, failure_ratio: 0.1, min_requests: 9, window: 11s, open_for: 12s,
              half_open_probes: 2}
    probe: {enabled: true, path: /healthz, interval: 7s, timeout: 1s, unhealthy_after: 4,
            healthy_after: 3}
    cooldown: 6s
    max_cooldown: 60s
providers:
  - name: up
    kind: openai
    base_url: https://llm.internal:8443/api/v1/
    api_key: sk-up
    timeouts: {connect: 1s, first_byte: 2s, idle: 3s, total: 4s}
    tls: {verify: false, ca_file: )" +
         ca_file + R"(}
    headers: {Authorization: "Bearer hdr-secret", X-Api-Key: k-secret, X-Team: ml-infra}
    forward_headers: [X-Trace-*, x-request-id]
    max_idle_connections: 5
    pool_idle_timeout: 10s
  - name: claude
    kind: anthropic
    base_url: http://127.0.0.1:10
    api_key: sk-ant
    api_version: "2023-01-01"
    default_max_tokens: 1000
  - name: az
    kind: azure
    base_url: https://team.openai.azure.com
    api_version: 2025-01-01-preview
  - name: gem
    kind: gemini
    base_url: http://127.0.0.1:9/v1
  - name: sim
    kind: mock
    api_key: ""
    mock: {first_token_delay: 250ms, tokens_per_second: 0.1, fault_rate: 0.3,
           seed: 18446744073709551615, max_tokens: 99, embedding_dimensions: 512}
models:
  - name: x
    deployments:
      - provider: up
        model: llama-3.1-8b
        weight: 3
        max_concurrency: 10
        rpm: 600
        tpm: 100000
        priority: 2
        input_cost_per_mtok: 0.15
        cached_input_cost_per_mtok: 1e-7
        output_cost_per_mtok: 1.7976931348623157e308
        adaptive_concurrency: {enabled: true, initial_limit: 8, min_limit: 2, max_limit: 64,
                               tolerance: 1.0000000000000002}
      - provider: sim
    strategy: consistent-hash
    hash_key: {source: header, header: X-Session, load_factor: 1.75}
    fallbacks: [y]
    context_fallbacks: [z]
    timeouts: {connect: 100ms, first_byte: 20s, idle: 30s, total: 60s}
    retries: {max_attempts: 2, backoff_base: 1ms, backoff_max: 9ms, max_retry_after: 0s,
              budget: 0.75, min_concurrency: 0}
    queue: {max_size: 0, timeout: 1s, status: 429}
    hedge: {enabled: true, delay: 300ms, min_delay: 0s}
    health:
      outlier: {enabled: true, consecutive_failures: 2, base_ejection: 1s, max_ejection: 4s,
                max_ejection_percent: 0}
      breaker: {enabled: true, failure_ratio: 0.9, min_requests: 1, window: 1s, open_for: 2s,
                half_open_probes: 7}
      probe: {enabled: false, path: /v1/models, interval: 3s, timeout: 500ms, unhealthy_after: 1,
              healthy_after: 5}
      cooldown: 1s
      max_cooldown: 2s
    limits: {rpm: 60, tpm: 1000}
  - name: y
    deployments: [{provider: sim}]
    strategy: consistent-hash
    hash_key: prefix:2048
  - name: z
    deployments: [{provider: up, model: gpt-4o}]
    strategy: cost
  - name: "gpt-*"
    deployments: [{provider: up}]
    strategy: round-robin
alerts:
  webhook: {url: "https://hooks.example.com/sluice", timeout: 2s}
  rules:
    - {name: errors, kind: error_rate, threshold: 0.25, window: 30s, min_requests: 7}
    - {name: slow, kind: p99_latency, threshold: 1.5}
    - {name: big, kind: memory, threshold: 1GiB}
    - {name: out, kind: deployment_ejected, deployment: up/gpt-4o}
batch: {max_file_bytes: 3GiB, concurrency: 9}
)";
}

// ---------------------------------------------------------------------------------------------
// Round trips.

TEST(ConfigJsonTest, DefaultConfigRoundTrips) {
  {
    ScopedEnv key("OPENAI_API_KEY", nullptr);
    Config c = default_config();
    EXPECT_TRUE(round_trip(c) == c);
  }
  ScopedEnv key("OPENAI_API_KEY", "sk-test");
  Config c = default_config();
  ASSERT_GT(c.models.size(), 2u);
  EXPECT_TRUE(round_trip(c) == c) << to_text(to_json(c, false));
}

TEST(ConfigJsonTest, MinimalConfigRoundTripsWithEveryDefaultWritten) {
  Config c = expect_round_trip(
      "providers: [{name: sim, kind: mock}]\n"
      "models: [{name: mock, deployments: [{provider: sim}]}]\n");
  json::object doc = to_json(c, false).as_object();
  // Defaults are written out, in the file's units.
  EXPECT_EQ(doc.at("listen"), "127.0.0.1:8080");
  EXPECT_EQ(doc.at("workers"), "auto");
  EXPECT_EQ(doc.at("drain_timeout"), "30s");
  EXPECT_EQ(doc.at("limits").at("max_body_bytes"), 16 * 1024 * 1024);
  EXPECT_EQ(doc.at("limits").at("failure_mode"), "open");
  EXPECT_EQ(doc.at("routing").at("retries").at("backoff_base"), "50ms");
  EXPECT_EQ(doc.at("cache").at("endpoints"), (json::array{"chat", "completions", "embeddings"}));
  EXPECT_EQ(doc.at("providers").at(0).at("kind"), "mock");
  EXPECT_EQ(doc.at("providers").at(0).at("mock").at("max_tokens"), 64);
  EXPECT_EQ(doc.at("models").at(0).at("strategy"), "p2c-ewma");
}

TEST(ConfigJsonTest, KeysComeInTheFilesOrder) {
  Config c = load_yaml(
      "models: [{name: m, deployments: [{provider: p}]}]\n"
      "providers: [{name: p, kind: mock}]\n",
      "test.yaml");
  std::vector<std::string> keys;
  json::value doc = to_json(c, false);
  for (const auto& member : doc.as_object()) keys.emplace_back(member.key());
  EXPECT_THAT(keys, ElementsAre("listen", "workers", "drain_timeout", "log_level", "access_log",
                                "limits", "data_dir", "auth", "cache", "coalesce", "metrics",
                                "routing", "providers", "models", "alerts", "batch"));
}

TEST(ConfigJsonTest, RichConfigRoundTrips) {
  TempDir dir;
  std::string ca = dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  Config c = expect_round_trip(rich_yaml(ca));
  // The fixture is what it claims: the inherited and the built-in defaults do differ.
  EXPECT_NE(c.routing.retries, Retries{});
  EXPECT_NE(c.models[0].retries, c.routing.retries);
  EXPECT_EQ(c.models[1].retries, c.routing.retries);
  EXPECT_NE(c.models[0].health, c.routing.health);
  EXPECT_EQ(c.models[2].hash_key, HashKey{});
}

// A second, independent check that the rich fixture reaches every key: each key to_json writes
// for a configuration of defaults takes another value in the rich one.
void expect_every_member_differs(const json::value& rich, const json::value& plain,
                                 const std::string& path, std::vector<std::string>& same) {
  if (rich.is_object() && plain.is_object()) {
    for (const auto& [key, value] : plain.get_object()) {
      std::string child = path.empty() ? std::string(key) : path + "." + std::string(key);
      if (const json::value* r = rich.get_object().if_contains(key)) {
        expect_every_member_differs(*r, value, child, same);
      } else {
        same.push_back(child + " (missing)");
      }
    }
  } else if (rich == plain) {
    same.push_back(path);
  }
}

TEST(ConfigJsonTest, RichFixtureSetsEveryKeyToAnotherValue) {
  TempDir dir;
  Config rich = load_yaml(rich_yaml(dir.write("ca.pem", "x")), "test.yaml");
  Config plain = load_yaml(R"(providers:
  - {name: up, kind: openai, base_url: "http://h/"}
  - {name: claude, kind: anthropic}
  - {name: az, kind: azure, base_url: "http://h/"}
  - {name: gem, kind: gemini}
  - {name: sim, kind: mock}
models:
  - name: x
    deployments: [{provider: up}]
    strategy: consistent-hash
)",
                           "test.yaml");
  json::value r = to_json(rich, false);
  json::value p = to_json(plain, false);
  // Lists are compared by their first element; the rest of the fixture covers the other shapes.
  std::vector<std::string> same;
  expect_every_member_differs(r, p, "", same);
  expect_every_member_differs(r.at("models").at(0), p.at("models").at(0), "models", same);
  expect_every_member_differs(r.at("providers").at(0), p.at("providers").at(0), "providers", same);
  // The keys only some kinds have (the first provider has those every kind shares).
  for (std::size_t i = 1; i < 4; ++i) {
    const json::object& plain_kind = p.at("providers").at(i).as_object();
    for (const char* key : {"base_url", "api_version", "default_max_tokens"}) {
      if (!plain_kind.contains(key)) continue;
      expect_every_member_differs(r.at("providers").at(i).at(key), plain_kind.at(key),
                                  std::string(plain_kind.at("kind").as_string()) + "." + key, same);
    }
  }
  expect_every_member_differs(r.at("models").at(0).at("deployments").at(0),
                              p.at("models").at(0).at("deployments").at(0), "deployments", same);
  expect_every_member_differs(r.at("providers").at(4).at("mock"),
                              p.at("providers").at(4).at("mock"), "mock", same);
  // Lists differ as wholes; the name "x" and the kinds are shared on purpose.
  std::erase_if(same, [](const std::string& path) {
    return path == "providers" || path == "models" || path == "models.name" ||
           path == "providers.name" || path == "providers.kind" || path == "models.strategy" ||
           path == "deployments.provider";
  });
  EXPECT_THAT(same, ::testing::IsEmpty());
}

TEST(ConfigJsonTest, EveryStrategyAndHashKeyRoundTrips) {
  for (Strategy s : kStrategies) {
    SCOPED_TRACE(std::string(strategy_name(s)));
    expect_round_trip(
        "providers: [{name: p, kind: mock}]\nmodels:\n  - name: m\n"
        "    deployments: [{provider: p}]\n    strategy: " +
        std::string(strategy_name(s)) + "\n");
  }
  for (const char* key : {"user", "header:x-user", "prefix:64", "{source: prefix}",
                          "{source: user, load_factor: 3}"}) {
    SCOPED_TRACE(key);
    expect_round_trip(
        "providers: [{name: p, kind: mock}]\nmodels:\n  - name: m\n"
        "    deployments: [{provider: p}]\n    strategy: consistent-hash\n    hash_key: " +
        std::string(key) + "\n");
  }
}

TEST(ConfigJsonTest, EmptyAndPartialSectionsRoundTrip) {
  for (const char* top : {"cache: {endpoints: []}", "cache: {disk: {path: \"\", max_bytes: 1KiB}}",
                          "limits: {backend: local, redis: {url: \"redis://h\"}}",
                          "workers: 1024\nlisten: \"0.0.0.0:0\""}) {
    SCOPED_TRACE(top);
    expect_round_trip(std::string(top) +
                      "\nproviders: [{name: p, kind: mock}]\n"
                      "models: [{name: m, deployments: [{provider: p}]}]\n");
  }
}

// Every file in examples/, with each variable it reads set.
TEST(ConfigJsonTest, ExamplesRoundTrip) {
  std::filesystem::path examples = std::filesystem::path(SLUICE_SOURCE_DIR) / "examples";
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(examples)) {
    if (entry.path().extension() != ".yaml") continue;
    // A pipeline for `sluice run` (docs/pipelines.md), not a configuration.
    if (entry.path().filename() == "pipeline.yaml") continue;
    SCOPED_TRACE(entry.path().string());
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    std::string yaml = text.str();
    std::vector<std::unique_ptr<ScopedEnv>> env;
    std::set<std::string> names;
    // Variables without a default; one with a default keeps it (a base URL, say).
    std::regex reference(R"(\$\{([A-Za-z_][A-Za-z0-9_]*)(\}|:\?))");
    for (auto it = std::sregex_iterator(yaml.begin(), yaml.end(), reference);
         it != std::sregex_iterator(); ++it) {
      std::string name = (*it)[1];
      if (names.insert(name).second) env.push_back(std::make_unique<ScopedEnv>(name.c_str(), "v"));
    }
    expect_round_trip(yaml);
    ++files;
  }
  EXPECT_GE(files, 5);
}

// ---------------------------------------------------------------------------------------------
// Values that need care in the text.

TEST(ConfigJsonTest, AwkwardStringsRoundTrip) {
  ScopedEnv var("CONFIG_JSON_TEST_VALUE", "from-env ${HOME} $$ $");
  Config c = expect_round_trip(
      R"(providers:
  - name: p
    kind: openai
    base_url: http://127.0.0.1:8000/v1
    api_key: "lone $ and $$ and $${NOT_A_VAR} \"quoted\" back\\slash\nnewline\ttab \u00fcnic\u00f6de 日本 \u2028 \u0085 \ufeff \x7f \x01 end"
    headers:
      X-Env: ${CONFIG_JSON_TEST_VALUE}
      X-Colon: "a: b, [c] {d} #e &f *g !h |i >j 'k' %l @m `n"
      X-Empty: ""
      X-Yaml: "yes"
      X-Number: "0x10"
models:
  - name: "m: with # odd \u00e9 chars"
    deployments: [{provider: p, model: "null"}]
)");
  const Provider& p = c.providers[0];
  EXPECT_THAT(p.api_key, HasSubstr("lone $ and $ and ${NOT_A_VAR} \"quoted\" back\\slash\n"));
  EXPECT_THAT(p.api_key, HasSubstr("日本"));
  EXPECT_EQ(p.headers[0].second, "from-env ${HOME} $$ $");
  EXPECT_EQ(c.models[0].deployments[0].model, "null");
}

TEST(ConfigJsonTest, DoublesReadBackExactly) {
  for (double v : {0.1, 0.3, 1.0 / 3, 2.5e-300, 123456789.123456789, 1e21, 0.0, 5e-324}) {
    Config c = load_yaml(
        "providers: [{name: p, kind: mock}]\n"
        "models: [{name: m, deployments: [{provider: p}]}]\n",
        "test.yaml");
    c.models[0].deployments[0].input_cost_per_mtok = v;
    c.providers[0].mock.tokens_per_second = v;
    Config back = round_trip(c);
    EXPECT_EQ(back.models[0].deployments[0].input_cost_per_mtok, v);
    EXPECT_EQ(back.providers[0].mock.tokens_per_second, v);
  }
  // And the text is the short form a person would write.
  json::value doc = json::object{{"a", 0.1}, {"b", 2.5}, {"c", 1e21}, {"d", 10.0}};
  EXPECT_EQ(to_text(doc), "{\n  \"a\": 0.1,\n  \"b\": 2.5,\n  \"c\": 1e+21,\n  \"d\": 10.0\n}\n");
}

TEST(ConfigJsonTest, TextIsJsonWithOneMemberPerLine) {
  TempDir dir;
  Config c = load_yaml(rich_yaml(dir.write("ca.pem", "x")), "test.yaml");
  json::value doc = to_json(c, false);
  std::string text = to_text(doc);
  EXPECT_EQ(json::parse(text), doc);
  EXPECT_THAT(text, HasSubstr("\n  \"drain_timeout\": \"7s\",\n"));
  EXPECT_THAT(text, HasSubstr("\"endpoints\": [\n      \"chat\",\n      \"images\"\n    ],"));
  EXPECT_EQ(to_text(json::object{}), "{}\n");
  EXPECT_EQ(to_text(json::array{}), "[]\n");
}

// ---------------------------------------------------------------------------------------------
// Redaction.

TEST(ConfigJsonTest, RedactionHidesEverySecretAndNothingElse) {
  TempDir dir;
  Config c = load_yaml(rich_yaml(dir.write("ca.pem", "x")), "test.yaml");
  json::value doc = to_json(c, true);
  std::string text = to_text(doc);
  for (const char* secret : {"sk-up", "admin-", "rl-pass", "c-pass", "hdr-secret", "k-secret"}) {
    EXPECT_THAT(text, Not(HasSubstr(secret)));
  }
  const json::value& up = doc.at("providers").at(0);
  EXPECT_EQ(up.at("api_key"), "<redacted>");
  EXPECT_EQ(up.at("headers").at("Authorization"), "<redacted>");
  EXPECT_EQ(up.at("headers").at("X-Api-Key"), "<redacted>");
  EXPECT_EQ(up.at("headers").at("X-Team"), "ml-infra");
  EXPECT_EQ(doc.at("auth").at("admin_key"), "<redacted>");
  // Only the password of a Redis URL goes; the user, host, port and database stay.
  EXPECT_EQ(doc.at("limits").at("redis").at("url"), "redis://:<redacted>@limits.internal:6390/2");
  EXPECT_EQ(doc.at("cache").at("redis").at("url"),
            "redis://cache-user:<redacted>@cache.internal:6391/3");
  // An empty secret says that none is set.
  EXPECT_EQ(doc.at("providers").at(4).at("api_key"), "");
  EXPECT_EQ(doc.at("providers").at(1).at("api_key"), "<redacted>");
  // Everything else is as without redaction.
  json::value plain = to_json(c, false);
  EXPECT_EQ(doc.at("routing"), plain.at("routing"));
  EXPECT_EQ(doc.at("models"), plain.at("models"));
  EXPECT_EQ(up.at("base_url"), plain.at("providers").at(0).at("base_url"));
  // Without redaction the secrets are there, "$" written as the file would hold it.
  EXPECT_EQ(plain.at("auth").at("admin_key"), "admin-$$ecret");
}

TEST(ConfigJsonTest, CredentialHeadersAreRecognizedByName) {
  Config c = load_yaml(R"(providers:
  - name: p
    kind: openai
    base_url: http://127.0.0.1:8000/v1
    headers:
      proxy-authorization: s1
      Cookie: s2
      X-Auth-Token: s3
      x-client-secret: s4
      api-key: s5
      X-Password: s6
      X-Empty-Token: ""
      X-Request-Source: gateway
      Accept-Language: en
models: [{name: m, deployments: [{provider: p}]}]
)",
                       "test.yaml");
  json::value doc = to_json(c, true);
  const json::value& headers = doc.at("providers").at(0).at("headers");
  for (const char* name : {"proxy-authorization", "Cookie", "X-Auth-Token", "x-client-secret",
                           "api-key", "X-Password"}) {
    EXPECT_EQ(headers.at(name), "<redacted>") << name;
  }
  EXPECT_EQ(headers.at("X-Empty-Token"), "");
  EXPECT_EQ(headers.at("X-Request-Source"), "gateway");
  EXPECT_EQ(headers.at("Accept-Language"), "en");
}

TEST(ConfigJsonTest, RedisUrlWithoutPasswordIsShownWhole) {
  Config c = load_yaml(R"(cache: {redis: {url: "redis://cache.internal:6379/0"}}
limits: {redis: {url: "redis://user@limits.internal"}}
providers: [{name: p, kind: mock}]
models: [{name: m, deployments: [{provider: p}]}]
)",
                       "test.yaml");
  json::value doc = to_json(c, true);
  EXPECT_EQ(doc.at("cache").at("redis").at("url"), "redis://cache.internal:6379/0");
  EXPECT_EQ(doc.at("limits").at("redis").at("url"), "redis://user@limits.internal");
}

// ---------------------------------------------------------------------------------------------
// Loading a patched document.

TEST(ConfigJsonTest, LoadJsonTakesAPatchedDocument) {
  Config c = load_yaml(
      "providers: [{name: p, kind: mock}]\n"
      "models: [{name: m, deployments: [{provider: p}]}]\n",
      "test.yaml");
  json::value doc = to_json(c, false);
  doc.at("cache").at("ttl") = "5m";
  doc.at("cache").at("enabled") = true;
  Config patched = load_json(doc, "PATCH /admin/config");
  EXPECT_EQ(patched.source, "PATCH /admin/config");
  EXPECT_TRUE(patched.cache.enabled);
  EXPECT_EQ(patched.cache.ttl, std::chrono::minutes(5));
}

TEST(ConfigJsonTest, LoadJsonProblemsNameTheKeyWithoutAPosition) {
  Config c = load_yaml(
      "providers: [{name: p, kind: mock}]\n"
      "models: [{name: m, deployments: [{provider: p}]}]\n",
      "test.yaml");
  json::value doc = to_json(c, false);
  doc.at("cache").at("ttl") = "soon";
  doc.at("cache").as_object()["tll"] = "1s";
  doc.at("models").at(0).at("deployments").at(0).at("weight") = 0;
  try {
    load_json(doc, "PATCH /admin/config");
    FAIL() << "loaded";
  } catch (const ConfigError& e) {
    EXPECT_THAT(
        e.problems(),
        ElementsAre("cache.ttl: invalid duration \"soon\" (examples: 250ms, 10s, 1.5m, 1h)",
                    "unknown key \"tll\" in cache (did you mean \"ttl\"?)",
                    "models[0].deployments[0].weight: must be between 1 and 1000000, got 0"));
  }
}

}  // namespace
}  // namespace sluice::config
