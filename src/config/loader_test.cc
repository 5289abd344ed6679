#include "config/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "support/scoped_env.h"

namespace sluice::config {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

using namespace std::chrono_literals;

constexpr const char* kSource = "test.yaml";

// The smallest valid configuration; tests append top-level keys to it.
constexpr std::string_view kMinimal = R"(providers:
  - name: sim
    kind: mock
models:
  - name: mock
    deployments:
      - provider: sim
)";

Config load(std::string_view yaml) { return load_yaml(yaml, kSource); }

// The problems loading `yaml` reports; empty when it loads.
std::vector<std::string> problems(std::string_view yaml) {
  try {
    load_yaml(yaml, kSource);
  } catch (const ConfigError& e) {
    return e.problems();
  }
  return {};
}

// The minimal configuration with `top` (whole top-level lines) in front of it.
std::string with_top(std::string_view top) {
  return std::string(top) + "\n" + std::string(kMinimal);
}

// Indents every line of `fields` by four spaces, to sit inside a list item.
std::string indent(std::string_view fields) {
  std::string out;
  std::size_t start = 0;
  while (start < fields.size()) {
    std::size_t end = fields.find('\n', start);
    if (end == std::string_view::npos) end = fields.size();
    out += "    ";
    out += fields.substr(start, end - start);
    out += '\n';
    start = end + 1;
  }
  return out;
}

constexpr std::string_view kModelsForP = R"(models:
  - name: m
    deployments:
      - provider: p
)";

// A configuration whose only provider "p" is a mock with the extra `fields`.
std::string mock_with(std::string_view fields) {
  return "providers:\n  - name: p\n    kind: mock\n" + indent(fields) + std::string(kModelsForP);
}

// The same with an OpenAI-compatible provider.
std::string openai_with(std::string_view fields) {
  return "providers:\n  - name: p\n    kind: openai\n    base_url: http://127.0.0.1:8000/v1\n" +
         indent(fields) + std::string(kModelsForP);
}

// An OpenAI-compatible provider "p" with the given base_url.
std::string with_base_url(std::string_view url) {
  return "providers:\n  - name: p\n    kind: openai\n    base_url: \"" + std::string(url) + "\"\n" +
         std::string(kModelsForP);
}

using sluice::testing::ScopedEnv;

// A fresh directory under the test temp dir, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::filesystem::path base = ::testing::TempDir();
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = base / ("sluice_loader_" + std::string(info->test_suite_name()) + "_" + info->name() +
                    "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, std::string_view content) const {
    std::filesystem::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

// ---------------------------------------------------------------------------------------------
// interpolate

class InterpolateTest : public ::testing::Test {
 protected:
  std::map<std::string, std::string, std::less<>> env_ = {
      {"SET", "value"},
      {"EMPTY", ""},
      {"URL", "http://h:8000/v1"},
      {"TRICKY", "a:b}c${SET}$$"},
  };
  EnvLookup lookup_ = [this](std::string_view name) -> std::optional<std::string> {
    auto it = env_.find(name);
    if (it == env_.end()) return std::nullopt;
    return it->second;
  };

  std::string run(std::string_view text) {
    std::string error = "stale";
    std::string out = interpolate(text, lookup_, &error);
    EXPECT_EQ(error, "") << "for " << text;
    return out;
  }
  std::string fail(std::string_view text) {
    std::string error;
    std::string out = interpolate(text, lookup_, &error);
    EXPECT_NE(error, "") << "for " << text;
    EXPECT_EQ(out, "");
    return error;
  }
};

TEST_F(InterpolateTest, PlainTextIsUnchanged) {
  EXPECT_EQ(run(""), "");
  EXPECT_EQ(run("hello: world {}"), "hello: world {}");
}

TEST_F(InterpolateTest, SetVariable) {
  EXPECT_EQ(run("${SET}"), "value");
  EXPECT_EQ(run("a-${SET}-b"), "a-value-b");
  EXPECT_EQ(run("${SET}${SET}"), "valuevalue");
}

TEST_F(InterpolateTest, UnsetVariableBecomesEmpty) {
  EXPECT_EQ(run("${UNSET}"), "");
  EXPECT_EQ(run("x${UNSET}y"), "xy");
}

TEST_F(InterpolateTest, DefaultAppliesWhenUnsetOrEmpty) {
  EXPECT_EQ(run("${UNSET:-fallback}"), "fallback");
  EXPECT_EQ(run("${EMPTY:-fallback}"), "fallback");
  EXPECT_EQ(run("${SET:-fallback}"), "value");
  EXPECT_EQ(run("${UNSET:-}"), "");
}

TEST_F(InterpolateTest, DefaultMayContainColonsAndReferences) {
  EXPECT_EQ(run("${UNSET:-http://127.0.0.1:8000/v1}"), "http://127.0.0.1:8000/v1");
  EXPECT_EQ(run("${UNSET:-${SET}}"), "value");
  EXPECT_EQ(run("${UNSET:-${ALSO_UNSET:-deep}}/x"), "deep/x");
  EXPECT_EQ(run("${UNSET:-cost $$5}"), "cost $5");
  EXPECT_EQ(run("${UNSET:-a:-b}"), "a:-b");
}

TEST_F(InterpolateTest, ValuesWithColonsAndBracesAreNotExpandedAgain) {
  EXPECT_EQ(run("${URL}"), "http://h:8000/v1");
  EXPECT_EQ(run("<${TRICKY}>"), "<a:b}c${SET}$$>");
  EXPECT_EQ(run("${TRICKY:?never}"), "a:b}c${SET}$$");
}

TEST_F(InterpolateTest, RequiredVariable) {
  EXPECT_EQ(run("${SET:?needed}"), "value");
  EXPECT_EQ(fail("${UNSET:?set UNSET to the key}"), "UNSET: set UNSET to the key");
  EXPECT_EQ(fail("${EMPTY:?must not be empty}"), "EMPTY: must not be empty");
  EXPECT_EQ(fail("prefix ${UNSET:?}"), "UNSET: required variable is unset or empty");
}

TEST_F(InterpolateTest, DollarEscapes) {
  EXPECT_EQ(run("$$"), "$");
  EXPECT_EQ(run("$${SET}"), "${SET}");
  EXPECT_EQ(run("a$$$$b"), "a$$b");
  EXPECT_EQ(run("$$$${SET}"), "$${SET}") << "each $$ is one $, then ${SET} stays literal";
}

TEST_F(InterpolateTest, LoneDollarIsKept) {
  EXPECT_EQ(run("pa$word"), "pa$word");
  EXPECT_EQ(run("$SET"), "$SET");
  EXPECT_EQ(run("cost: 5$"), "cost: 5$");
}

TEST_F(InterpolateTest, Malformed) {
  EXPECT_THAT(fail("${SET"), HasSubstr("unterminated"));
  EXPECT_THAT(fail("x ${UNSET:-${SET}"), HasSubstr("unterminated"));
  EXPECT_THAT(fail("${}"), HasSubstr("invalid variable name"));
  EXPECT_THAT(fail("${1ABC}"), HasSubstr("invalid variable name"));
  EXPECT_THAT(fail("${A B}"), HasSubstr("unsupported expression"));
  EXPECT_THAT(fail("${SET:+x}"), HasSubstr("unsupported expression"));
  EXPECT_THAT(fail("${SET-x}"), HasSubstr("unsupported expression"));
}

TEST_F(InterpolateTest, ErrorsInsideDefaultsSurface) {
  EXPECT_EQ(fail("${UNSET:-${ALSO_UNSET:?inner}}"), "ALSO_UNSET: inner");
  // A default that is not used is not evaluated.
  EXPECT_EQ(run("${SET:-${ALSO_UNSET:?inner}}"), "value");
}

TEST_F(InterpolateTest, NestingIsBounded) {
  std::string text = "ok";
  for (int i = 0; i < 20; ++i) text = "${UNSET:-" + text + "}";
  EXPECT_THAT(fail(text), HasSubstr("nested too deeply"));
  std::string shallow = "ok";
  for (int i = 0; i < 5; ++i) shallow = "${UNSET:-" + shallow + "}";
  EXPECT_EQ(run(shallow), "ok");
}

TEST_F(InterpolateTest, ErrorMayBeNull) {
  EXPECT_EQ(interpolate("${SET}", lookup_, nullptr), "value");
  EXPECT_EQ(interpolate("${UNSET:?x}", lookup_, nullptr), "");
}

TEST_F(InterpolateTest, ErrorNeverQuotesAValue) {
  env_["SECRET"] = "sk-secret";
  std::string error;
  interpolate("${SECRET} ${MISSING:?gone}", lookup_, &error);
  EXPECT_EQ(error, "MISSING: gone");
}

// ---------------------------------------------------------------------------------------------
// ConfigError and the overall behaviour

TEST(ConfigErrorTest, WhatJoinsProblemsWithNewlines) {
  ConfigError e({"a:1:1: one", "a:2:1: two"});
  EXPECT_STREQ(e.what(), "a:1:1: one\na:2:1: two");
  EXPECT_THAT(e.problems(), ElementsAre("a:1:1: one", "a:2:1: two"));
}

TEST(LoaderTest, MinimalConfigGetsDefaults) {
  Config c = load(kMinimal);
  Config defaults;
  EXPECT_EQ(c.source, kSource);
  EXPECT_EQ(c.listen.host, "127.0.0.1");
  EXPECT_EQ(c.listen.port, 8080);
  EXPECT_EQ(c.workers, 0);
  EXPECT_EQ(c.drain_timeout, 30s);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_FALSE(c.access_log.enabled);
  EXPECT_EQ(c.access_log.path, "stdout");
  EXPECT_EQ(c.limits.max_header_bytes, defaults.limits.max_header_bytes);
  EXPECT_EQ(c.limits.max_connections, 10000);
  ASSERT_EQ(c.providers.size(), 1u);
  const Provider& p = c.providers[0];
  EXPECT_EQ(p.name, "sim");
  EXPECT_EQ(p.kind, ProviderKind::kMock);
  EXPECT_EQ(p.mock.max_tokens, 64);
  EXPECT_EQ(p.mock.embedding_dimensions, 256);
  EXPECT_EQ(p.timeouts.first_byte, 300s);
  EXPECT_TRUE(p.tls_verify);
  ASSERT_EQ(c.models.size(), 1u);
  EXPECT_EQ(c.models[0].name, "mock");
  ASSERT_EQ(c.models[0].deployments.size(), 1u);
  EXPECT_EQ(c.models[0].deployments[0].provider, "sim");
  EXPECT_EQ(c.models[0].deployments[0].model, "");
}

TEST(LoaderTest, MarksAreOneBased) {
  Config c = load(kMinimal);
  EXPECT_EQ(c.providers[0].mark.line, 2);
  EXPECT_EQ(c.providers[0].mark.column, 5);
  EXPECT_EQ(c.models[0].mark.line, 5);
  EXPECT_EQ(c.models[0].mark.column, 5);
  EXPECT_EQ(c.models[0].deployments[0].mark.line, 7);
  EXPECT_EQ(c.models[0].deployments[0].mark.column, 9);
}

TEST(LoaderTest, FullConfiguration) {
  TempDir dir;
  std::string ca = dir.write("ca.pem", "-----BEGIN CERTIFICATE-----\n");
  std::string yaml = R"(listen: "[::1]:9090"
workers: 4
drain_timeout: 5s
log_level: debug
access_log: {enabled: true, path: /var/log/sluice.log}
limits:
  max_header_bytes: 8KiB
  max_body_bytes: 1MB
  max_response_bytes: 1048576
  header_timeout: 2s
  body_timeout: 3s
  idle_timeout: 4s
  send_timeout: 500ms
  max_connections: 77
providers:
  - name: local
    kind: openai
    base_url: https://llm.internal:8443/api/v1/
    api_key: sk-local
    timeouts: {connect: 1s, first_byte: 2s, idle: 3s, total: 4s}
    tls: {verify: false, ca_file: )" +
                     ca + R"(}
    headers: {x-extra: value, X-Team: "ml:infra"}
    forward_headers: [X-Mock-*, x-trace-id]
    max_idle_connections: 0
    pool_idle_timeout: 10s
  - name: sim.2
    kind: mock
    mock:
      first_token_delay: 250ms
      tokens_per_second: 12.5
      fault_rate: 0.25
      seed: 18446744073709551615
      max_tokens: 100000
      embedding_dimensions: 8192
models:
  - name: fast
    deployments:
      - provider: local
        model: llama-3.1-8b
      - provider: sim.2
  - name: "gpt-*"
    deployments: [{provider: local}]
)";
  Config c = load(yaml);
  EXPECT_EQ(c.listen.host, "::1");
  EXPECT_EQ(c.listen.port, 9090);
  EXPECT_EQ(c.workers, 4);
  EXPECT_EQ(c.drain_timeout, 5s);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_TRUE(c.access_log.enabled);
  EXPECT_EQ(c.access_log.path, "/var/log/sluice.log");
  EXPECT_EQ(c.limits.max_header_bytes, 8192u);
  EXPECT_EQ(c.limits.max_body_bytes, 1000000u);
  EXPECT_EQ(c.limits.max_response_bytes, 1048576u);
  EXPECT_EQ(c.limits.header_timeout, 2s);
  EXPECT_EQ(c.limits.body_timeout, 3s);
  EXPECT_EQ(c.limits.idle_timeout, 4s);
  EXPECT_EQ(c.limits.send_timeout, 500ms);
  EXPECT_EQ(c.limits.max_connections, 77);

  ASSERT_EQ(c.providers.size(), 2u);
  const Provider& local = c.providers[0];
  EXPECT_EQ(local.kind, ProviderKind::kOpenAI);
  EXPECT_TRUE(local.base_url.tls);
  EXPECT_EQ(local.base_url.host, "llm.internal");
  EXPECT_EQ(local.base_url.port, 8443);
  EXPECT_EQ(local.base_url.base_path, "/api/v1");
  EXPECT_EQ(local.base_url.text, "https://llm.internal:8443/api/v1/");
  EXPECT_EQ(local.api_key, "sk-local");
  EXPECT_EQ(local.timeouts.connect, 1s);
  EXPECT_EQ(local.timeouts.first_byte, 2s);
  EXPECT_EQ(local.timeouts.idle, 3s);
  EXPECT_EQ(local.timeouts.total, 4s);
  EXPECT_FALSE(local.tls_verify);
  EXPECT_EQ(local.ca_file, ca);
  using Header = std::pair<std::string, std::string>;
  EXPECT_THAT(local.headers, ElementsAre(Header{"x-extra", "value"}, Header{"X-Team", "ml:infra"}));
  EXPECT_THAT(local.forward_headers, ElementsAre("x-mock-*", "x-trace-id"));
  EXPECT_EQ(local.max_idle_connections, 0);
  EXPECT_EQ(local.pool_idle_timeout, 10s);

  const Provider& sim = c.providers[1];
  EXPECT_EQ(sim.name, "sim.2");
  EXPECT_EQ(sim.kind, ProviderKind::kMock);
  EXPECT_EQ(sim.mock.first_token_delay, 250ms);
  EXPECT_DOUBLE_EQ(sim.mock.tokens_per_second, 12.5);
  EXPECT_DOUBLE_EQ(sim.mock.fault_rate, 0.25);
  EXPECT_EQ(sim.mock.seed, 18446744073709551615u);
  EXPECT_EQ(sim.mock.max_tokens, 100000);
  EXPECT_EQ(sim.mock.embedding_dimensions, 8192);

  ASSERT_EQ(c.models.size(), 2u);
  ASSERT_EQ(c.models[0].deployments.size(), 2u);
  EXPECT_EQ(c.models[0].deployments[0].model, "llama-3.1-8b");
  EXPECT_EQ(c.models[0].deployments[1].provider, "sim.2");
  EXPECT_EQ(c.models[1].name, "gpt-*");
  EXPECT_EQ(c.find_provider("sim.2"), &c.providers[1]);
}

TEST(LoaderTest, SyntaxErrorGivesOnePositionedMessage) {
  EXPECT_THAT(problems("providers: [\nmodels: 1\n"), ElementsAre(StartsWith("test.yaml:3:1: ")));
  EXPECT_THAT(problems(with_top("workers: auto: 2")),
              ElementsAre("test.yaml:1:14: illegal map value"));
}

TEST(LoaderTest, OnlyOneDocument) {
  EXPECT_THAT(problems(std::string(kMinimal) + "---\nlisten: 1.2.3.4:1\n"),
              ElementsAre("test.yaml:9:1: only one YAML document is allowed in a configuration "
                          "file"));
}

TEST(LoaderTest, EmptyFileMissesProvidersAndModels) {
  EXPECT_THAT(problems(""), ElementsAre("test.yaml:1:1: missing key \"providers\" in top level",
                                        "test.yaml:1:1: missing key \"models\" in top level"));
  EXPECT_THAT(problems("# nothing\n"), ElementsAre(HasSubstr("providers"), HasSubstr("models")));
}

TEST(LoaderTest, TopLevelMustBeAMapping) {
  EXPECT_THAT(problems("- a\n- b\n"),
              ElementsAre("test.yaml:1:1: top level: expected a mapping (key: value), got "
                          "a list"));
}

TEST(LoaderTest, UnknownTopLevelKeySuggestsTheClosest) {
  EXPECT_THAT(problems(with_top("listn: 127.0.0.1:8080")),
              ElementsAre("test.yaml:1:1: unknown key \"listn\" in top level (did you mean "
                          "\"listen\"?)"));
}

TEST(LoaderTest, UnknownKeyFarFromAnyHasNoSuggestion) {
  EXPECT_THAT(problems(with_top("telemetry: {}")),
              ElementsAre("test.yaml:1:1: unknown key \"telemetry\" in top level"));
}

TEST(LoaderTest, UnknownNestedKeysNameTheirSection) {
  EXPECT_THAT(problems(openai_with("timeouts: {conect: 1s}")),
              ElementsAre("test.yaml:5:16: unknown key \"conect\" in providers[0].timeouts (did "
                          "you mean \"connect\"?)"));
  EXPECT_THAT(problems(with_top("access_log: {enable: true}")),
              ElementsAre(HasSubstr("unknown key \"enable\" in access_log")));
  EXPECT_THAT(problems(with_top("limits: {max_body: 1}")),
              ElementsAre(HasSubstr("unknown key \"max_body\" in limits")));
  EXPECT_THAT(problems(openai_with("tls: {verfy: true}")),
              ElementsAre(HasSubstr("unknown key \"verfy\" in providers[0].tls")));
  EXPECT_THAT(problems(mock_with("mock: {seeds: 1}")),
              ElementsAre(HasSubstr("unknown key \"seeds\" in providers[0].mock")));
  EXPECT_THAT(problems(openai_with("apikey: x")),
              ElementsAre(HasSubstr("unknown key \"apikey\" in providers[0] (did you mean "
                                    "\"api_key\"?)")));
  EXPECT_THAT(problems("providers: [{name: p, kind: mock}]\n"
                       "models: [{name: m, deployments: [{provider: p, modle: x}]}]\n"),
              ElementsAre(HasSubstr("unknown key \"modle\" in models[0].deployments[0]")));
  EXPECT_THAT(problems("providers: [{name: p, kind: mock}]\n"
                       "models: [{name: m, deployment: [], deployments: [{provider: p}]}]\n"),
              ElementsAre(HasSubstr("unknown key \"deployment\" in models[0]")));
}

TEST(LoaderTest, TranslatingAndAzureKindsHaveTheirDefaultsAndOwnKeys) {
  auto provider = [](std::string_view fields) {
    return "providers:\n  - name: p\n" + indent(fields) + std::string(kModelsForP);
  };
  Config anthropic = load(provider("kind: anthropic\napi_key: k"));
  const Provider& a = anthropic.providers[0];
  EXPECT_EQ(a.kind, ProviderKind::kAnthropic);
  EXPECT_EQ(a.base_url.host, "api.anthropic.com");
  EXPECT_TRUE(a.base_url.tls);
  EXPECT_EQ(a.api_version, "2023-06-01");
  EXPECT_EQ(a.default_max_tokens, 4096u);
  Config gemini = load(provider("kind: gemini"));
  EXPECT_EQ(gemini.providers[0].base_url.host, "generativelanguage.googleapis.com");
  EXPECT_EQ(gemini.providers[0].base_url.base_path, "/v1beta");
  EXPECT_TRUE(gemini.providers[0].api_version.empty());
  Config azure = load(provider("kind: azure\nbase_url: https://team.openai.azure.com"));
  EXPECT_EQ(azure.providers[0].api_version, "2024-10-21");
  EXPECT_EQ(load(provider("kind: azure\nbase_url: http://h\napi_version: 2025-01-01-preview"))
                .providers[0]
                .api_version,
            "2025-01-01-preview");

  EXPECT_THAT(problems(provider("kind: azure")),
              ElementsAre(HasSubstr("missing key \"base_url\" in providers[0] (required for kind "
                                    "azure)")));
  EXPECT_THAT(problems(provider("kind: openai\nbase_url: http://h\napi_version: v1")),
              ElementsAre(HasSubstr("api_version: only allowed for kinds azure and anthropic")));
  EXPECT_THAT(problems(provider("kind: gemini\ndefault_max_tokens: 10")),
              ElementsAre(HasSubstr("default_max_tokens: only allowed for kind anthropic")));
  EXPECT_THAT(problems(provider("kind: anthropic\ndefault_max_tokens: 0")),
              ElementsAre(HasSubstr("default_max_tokens: must be at least 1")));
  EXPECT_THAT(problems(provider("kind: anthropic\napi_version: \"\"")),
              ElementsAre(HasSubstr("api_version: must not be empty")));
  EXPECT_THAT(problems(provider("kind: gemini\nmock: {seed: 1}")),
              ElementsAre(HasSubstr("mock: only allowed for kind mock")));
}

TEST(LoaderTest, DuplicateKeys) {
  EXPECT_THAT(problems(with_top("workers: 2\nworkers: 3")),
              ElementsAre("test.yaml:2:1: duplicate key \"workers\" in top level (first at line "
                          "1)"));
}

TEST(LoaderTest, NonScalarKeys) {
  EXPECT_THAT(problems(with_top("? [a, b]\n: 1")),
              ElementsAre(HasSubstr("keys must be plain strings in top level")));
}

TEST(LoaderTest, CollectsEveryProblemInFileOrder) {
  std::string yaml = R"(listen: 127.0.0.1:8080
providers:
  - name: local
    kind: openai
    base_url: http://127.0.0.1:8000/v1
  - name: sim
    kind: opena
models:
  - name: fast
    deployments:
      - provider: nope
workers: 0
)";
  EXPECT_THAT(
      problems(yaml),
      ElementsAre("test.yaml:7:11: providers[1].kind: unknown kind \"opena\" (expected openai, "
                  "azure, anthropic, gemini or mock)",
                  "test.yaml:11:19: models[0].deployments[0].provider: unknown provider \"nope\"",
                  StartsWith("test.yaml:12:10: workers: ")));
}

TEST(LoaderTest, EmptyValueIsReportedAtItsKey) {
  // yaml-cpp places an empty value on the next line; the message must point at the key.
  EXPECT_THAT(problems("providers:\n  - name: p\n    kind:\n" + std::string(kModelsForP)),
              ElementsAre("test.yaml:3:5: providers[0].kind: missing value"));
}

TEST(LoaderTest, NullOptionalValueMeansDefault) {
  Config c = load(with_top("workers:\nlimits:\naccess_log: ~"));
  EXPECT_EQ(c.workers, 0);
  EXPECT_EQ(c.limits.max_connections, 10000);
}

TEST(LoaderTest, WrongShapesAreReported) {
  EXPECT_THAT(problems(with_top("listen: [a]")),
              ElementsAre("test.yaml:1:9: listen: expected a string, got a list"));
  EXPECT_THAT(problems(with_top("limits: 5")),
              ElementsAre(HasSubstr("limits: expected a mapping (key: value), got a scalar")));
  EXPECT_THAT(problems(openai_with("timeouts: [1s]")),
              ElementsAre(HasSubstr("providers[0].timeouts: expected a mapping")));
  EXPECT_THAT(problems(with_top("drain_timeout: {a: 1}")),
              ElementsAre(HasSubstr("drain_timeout: expected a duration, got a mapping")));
}

// ---------------------------------------------------------------------------------------------
// Environment interpolation through the loader

TEST(LoaderEnvTest, ScalarValuesAreInterpolated) {
  ScopedEnv key("SLUICE_TEST_KEY", "sk-from-env");
  ScopedEnv workers("SLUICE_TEST_WORKERS", "6");
  ScopedEnv unset("SLUICE_TEST_UNSET", nullptr);
  Config c = load(
      "workers: ${SLUICE_TEST_WORKERS}\n"
      "listen: ${SLUICE_TEST_UNSET:-0.0.0.0:7000}\n"
      "providers:\n"
      "  - name: p\n"
      "    kind: openai\n"
      "    base_url: ${SLUICE_TEST_UNSET:-http://127.0.0.1:8000/v1}\n"
      "    api_key: ${SLUICE_TEST_KEY}\n"
      "    headers: {x-price: \"$$5\"}\n" +
      std::string(kModelsForP));
  EXPECT_EQ(c.workers, 6);
  EXPECT_EQ(c.listen.host, "0.0.0.0");
  EXPECT_EQ(c.listen.port, 7000);
  EXPECT_EQ(c.providers[0].base_url.port, 8000);
  EXPECT_EQ(c.providers[0].api_key, "sk-from-env");
  EXPECT_EQ(c.providers[0].headers[0].second, "$5");
}

TEST(LoaderEnvTest, KeysAreNotInterpolated) {
  ScopedEnv name("SLUICE_TEST_KEYNAME", "workers");
  EXPECT_THAT(problems(with_top("${SLUICE_TEST_KEYNAME}: 2")),
              ElementsAre(HasSubstr("unknown key \"${SLUICE_TEST_KEYNAME}\" in top level")));
}

TEST(LoaderEnvTest, RequiredVariableIsReportedWithItsPosition) {
  ScopedEnv unset("SLUICE_TEST_UNSET", nullptr);
  EXPECT_THAT(problems(openai_with("api_key: ${SLUICE_TEST_UNSET:?export the local key}")),
              ElementsAre("test.yaml:5:14: providers[0].api_key: SLUICE_TEST_UNSET: export the "
                          "local key"));
}

TEST(LoaderEnvTest, InterpolatedValuesAreValidated) {
  ScopedEnv workers("SLUICE_TEST_WORKERS", "lots");
  EXPECT_THAT(problems(with_top("workers: ${SLUICE_TEST_WORKERS}")),
              ElementsAre(HasSubstr("got \"lots\"")));
  ScopedEnv unset("SLUICE_TEST_UNSET", nullptr);
  EXPECT_THAT(problems(with_top("drain_timeout: ${SLUICE_TEST_UNSET}")),
              ElementsAre(HasSubstr("drain_timeout: invalid duration \"\"")));
}

// ---------------------------------------------------------------------------------------------
// load_file

TEST(LoadFileTest, LoadsAndSetsSource) {
  TempDir dir;
  std::string path = dir.write("sluice.yaml", kMinimal);
  Config c = load_file(path);
  EXPECT_EQ(c.source, path);
  EXPECT_EQ(c.providers.size(), 1u);
}

TEST(LoadFileTest, ProblemsNameTheFile) {
  TempDir dir;
  std::string path = dir.write("bad.yaml", with_top("workers: none"));
  try {
    load_file(path);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.problems(), ElementsAre(StartsWith(path + ":1:10: workers: ")));
  }
}

TEST(LoadFileTest, MissingFile) {
  TempDir dir;
  std::string path = dir.path() + "/absent.yaml";
  try {
    load_file(path);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.problems(), ElementsAre(path + ": cannot read: No such file or directory"));
  }
}

TEST(LoadFileTest, Directory) {
  TempDir dir;
  try {
    load_file(dir.path());
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.problems(), ElementsAre(dir.path() + ": cannot read: Is a directory"));
  }
}

// ---------------------------------------------------------------------------------------------
// Top-level settings

TEST(ListenTest, Valid) {
  struct Case {
    const char* text;
    const char* host;
    int port;
  };
  for (const Case& c : {Case{"0.0.0.0:9000", "0.0.0.0", 9000}, Case{"'[::1]:8080'", "::1", 8080},
                        Case{"'[::]:443'", "::", 443}, Case{"localhost:0", "localhost", 0},
                        Case{"127.0.0.1:65535", "127.0.0.1", 65535}}) {
    Config cfg = load(with_top(std::string("listen: ") + c.text));
    EXPECT_EQ(cfg.listen.host, c.host) << c.text;
    EXPECT_EQ(cfg.listen.port, c.port) << c.text;
  }
}

TEST(ListenTest, Invalid) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : {
           Case{"127.0.0.1", "expected \"host:port\""},
           Case{"'::1:8080'", "must be in brackets"},
           Case{"'[::1'", "missing ']'"},
           Case{"'[::1]8080'", "expected \"[address]:port\""},
           Case{"'[zz::q]:80'", "invalid IPv6 address \"zz::q\""},
           Case{"127.0.0.1:65536", "invalid port \"65536\""},
           Case{"127.0.0.1:123456", "invalid port \"123456\""},
           Case{"127.0.0.1:http", "invalid port \"http\""},
           Case{"'127.0.0.1:'", "invalid port \"\""},
           Case{"127.0.0.1:-1", "invalid port \"-1\""},
           Case{"':8080'", "missing host"},
           Case{"'my host:80'", "invalid host \"my host\""},
       }) {
    EXPECT_THAT(problems(with_top(std::string("listen: ") + c.text)),
                ElementsAre(AllOf(StartsWith("test.yaml:1:9: listen: "), HasSubstr(c.message))))
        << c.text;
  }
}

TEST(WorkersTest, AutoAndRange) {
  EXPECT_EQ(load(with_top("workers: auto")).workers, 0);
  EXPECT_EQ(load(with_top("workers: 1")).workers, 1);
  EXPECT_EQ(load(with_top("workers: 1024")).workers, 1024);
  for (const char* bad : {"0", "1025", "-1", "2.5", "many", "Auto"}) {
    EXPECT_THAT(problems(with_top(std::string("workers: ") + bad)),
                ElementsAre(StartsWith("test.yaml:1:10: workers: expected \"auto\" or an integer "
                                       "from 1 to 1024")))
        << bad;
  }
}

TEST(DrainTimeoutTest, PositiveDuration) {
  EXPECT_EQ(load(with_top("drain_timeout: 1.5m")).drain_timeout, 90s);
  EXPECT_EQ(load(with_top("drain_timeout: 10")).drain_timeout, 10s);
  EXPECT_THAT(problems(with_top("drain_timeout: 0s")),
              ElementsAre("test.yaml:1:16: drain_timeout: must be greater than 0, got \"0s\""));
  EXPECT_THAT(problems(with_top("drain_timeout: -1s")),
              ElementsAre(HasSubstr("drain_timeout: invalid duration \"-1s\"")));
  EXPECT_THAT(problems(with_top("drain_timeout: soon")),
              ElementsAre(HasSubstr("drain_timeout: invalid duration \"soon\"")));
}

TEST(LogLevelTest, KnownLevelsOnly) {
  for (const char* level : {"trace", "debug", "info", "warn", "error", "off"}) {
    EXPECT_EQ(load(with_top(std::string("log_level: ") + level)).log_level, level);
  }
  EXPECT_THAT(problems(with_top("log_level: verbose")),
              ElementsAre("test.yaml:1:12: log_level: unknown log level \"verbose\" (expected "
                          "trace, debug, info, warn, error or off)"));
  EXPECT_THAT(problems(with_top("log_level: eror")),
              ElementsAre(HasSubstr("(did you mean \"error\"?)")));
}

TEST(AccessLogTest, EnabledAndPath) {
  Config c = load(with_top("access_log: {enabled: yes, path: stderr}"));
  EXPECT_TRUE(c.access_log.enabled);
  EXPECT_EQ(c.access_log.path, "stderr");
  EXPECT_FALSE(load(with_top("access_log: {enabled: off}")).access_log.enabled);
  EXPECT_THAT(problems(with_top("access_log: {enabled: maybe}")),
              ElementsAre(HasSubstr("access_log.enabled: expected true or false, got \"maybe\"")));
  EXPECT_THAT(problems(with_top("access_log: {path: ''}")),
              ElementsAre(HasSubstr("access_log.path: must not be empty")));
}

TEST(MetricsSectionTest, OnByDefaultAndCanBeTurnedOff) {
  EXPECT_TRUE(load(kMinimal).metrics.enabled);
  EXPECT_TRUE(load(with_top("metrics: {enabled: true}")).metrics.enabled);
  EXPECT_FALSE(load(with_top("metrics: {enabled: false}")).metrics.enabled);
  EXPECT_TRUE(load(with_top("metrics: {}")).metrics.enabled);
  EXPECT_THAT(problems(with_top("metrics: {enabled: maybe}")),
              ElementsAre(HasSubstr("metrics.enabled: expected true or false")));
  EXPECT_THAT(problems(with_top("metrics: {path: /stats}")),
              ElementsAre(HasSubstr("unknown key \"path\" in metrics")));
  EXPECT_THAT(problems(with_top("metric: {enabled: false}")),
              ElementsAre(HasSubstr("(did you mean \"metrics\"?)")));
}

TEST(CacheTest, OffByDefaultWithSafeDefaults) {
  Config c = load(kMinimal);
  EXPECT_FALSE(c.cache.enabled);
  EXPECT_EQ(c.cache.ttl, 3600s);
  EXPECT_TRUE(c.cache.chat && c.cache.completions && c.cache.embeddings);
  EXPECT_FALSE(c.cache.images);
  EXPECT_FALSE(c.cache.only_deterministic);
  EXPECT_EQ(c.cache.max_entry_bytes, 1024u * 1024);
  EXPECT_EQ(c.cache.memory.max_bytes, 256u * 1024 * 1024);
  EXPECT_EQ(c.cache.default_namespace, "default");
  EXPECT_TRUE(c.coalesce.enabled);
}

TEST(CacheTest, EverySettingIsRead) {
  Config c = load(with_top(R"(cache:
  enabled: true
  ttl: 10m
  endpoints: [embeddings, images]
  only_deterministic: true
  max_entry_bytes: 64KiB
  namespace: team-a
  memory: {max_bytes: 32MiB}
coalesce: {enabled: false})"));
  EXPECT_TRUE(c.cache.enabled);
  EXPECT_EQ(c.cache.ttl, 600s);
  EXPECT_FALSE(c.cache.chat);
  EXPECT_FALSE(c.cache.completions);
  EXPECT_TRUE(c.cache.embeddings);
  EXPECT_TRUE(c.cache.images);
  EXPECT_TRUE(c.cache.only_deterministic);
  EXPECT_EQ(c.cache.max_entry_bytes, 64u * 1024);
  EXPECT_EQ(c.cache.default_namespace, "team-a");
  EXPECT_EQ(c.cache.memory.max_bytes, 32u * 1024 * 1024);
  EXPECT_FALSE(c.coalesce.enabled);
}

TEST(CacheTest, DiskAndRedisTiers) {
  Config c = load(with_top(R"(cache:
  disk: {path: /var/cache/sluice, max_bytes: 2GiB}
  redis: {url: "redis://:secret@127.0.0.1:6380/2", timeout: 20ms, key_prefix: "team:"})"));
  EXPECT_EQ(c.cache.disk.path, "/var/cache/sluice");
  EXPECT_EQ(c.cache.disk.max_bytes, 2ull * 1024 * 1024 * 1024);
  EXPECT_EQ(c.cache.redis.url, "redis://:secret@127.0.0.1:6380/2");
  EXPECT_EQ(c.cache.redis.timeout, 20ms);
  EXPECT_EQ(c.cache.redis.key_prefix, "team:");
  Config none = load(kMinimal);
  EXPECT_TRUE(none.cache.disk.path.empty());
  EXPECT_TRUE(none.cache.redis.url.empty());

  EXPECT_THAT(problems(with_top("cache: {disk: {max_bytes: 1GiB}}")),
              ElementsAre(HasSubstr("missing key \"path\" in cache.disk")));
  for (std::string_view bad : {"http://127.0.0.1:6379", "redis://", "redis://h:99999",
                               "redis://h:6379/zero", "not a url"}) {
    auto p = problems(with_top("cache: {redis: {url: \"" + std::string(bad) + "\"}}"));
    ASSERT_EQ(p.size(), 1u) << bad;
    EXPECT_THAT(p[0], HasSubstr("cache.redis.url: ")) << bad;
  }
  auto secret = problems(with_top("cache: {redis: {url: \"redis://:hunter2@h:0x1\"}}"));
  ASSERT_EQ(secret.size(), 1u);
  EXPECT_THAT(secret[0], Not(HasSubstr("hunter2")));
}

TEST(CacheTest, BadValuesAreReportedWithTheirPlace) {
  EXPECT_THAT(problems(with_top("cache: {endpoints: [chat, embedings]}")),
              ElementsAre(AllOf(StartsWith("test.yaml:1:27: cache.endpoints[1]: unknown endpoint"),
                                HasSubstr("(did you mean \"embeddings\"?)"))));
  EXPECT_THAT(problems(with_top("cache: {ttl: 0s}")),
              ElementsAre(HasSubstr("cache.ttl: must be greater than 0")));
  EXPECT_THAT(problems(with_top("cache: {memory: {max_bytes: lots}}")),
              ElementsAre(HasSubstr("cache.memory.max_bytes: invalid size \"lots\"")));
  EXPECT_THAT(problems(with_top("cache: {namespace: 'a b'}")),
              ElementsAre(HasSubstr("cache.namespace: invalid namespace \"a b\"")));
  EXPECT_THAT(problems(with_top("cache: {size: 1}")),
              ElementsAre(HasSubstr("unknown key \"size\" in cache")));
  EXPECT_THAT(problems(with_top("coalesce: {enabled: sometimes}")),
              ElementsAre(HasSubstr("coalesce.enabled: expected true or false")));
}

// ---------------------------------------------------------------------------------------------
// limits: every size and duration key is checked the same way, so one parameterized suite.

class LimitsSizeTest : public ::testing::TestWithParam<const char*> {};

std::uint64_t size_of(const ServerLimits& l, std::string_view key) {
  if (key == "max_header_bytes") return l.max_header_bytes;
  if (key == "max_body_bytes") return l.max_body_bytes;
  return l.max_response_bytes;
}

TEST_P(LimitsSizeTest, ParsesUnitsAndPlainIntegers) {
  std::string key = GetParam();
  EXPECT_EQ(size_of(load(with_top("limits: {" + key + ": 64KiB}")).limits, key), 65536u);
  EXPECT_EQ(size_of(load(with_top("limits: {" + key + ": 1234}")).limits, key), 1234u);
  EXPECT_EQ(size_of(load(with_top("limits: {" + key + ": 2MB}")).limits, key), 2000000u);
}

TEST_P(LimitsSizeTest, RejectsZeroAndGarbage) {
  std::string key = GetParam();
  EXPECT_THAT(problems(with_top("limits: {" + key + ": 0}")),
              ElementsAre(HasSubstr("limits." + key + ": must be greater than 0")));
  EXPECT_THAT(problems(with_top("limits: {" + key + ": 12 parsecs}")),
              ElementsAre(HasSubstr("limits." + key + ": invalid size \"12 parsecs\"")));
}

INSTANTIATE_TEST_SUITE_P(Keys, LimitsSizeTest,
                         ::testing::Values("max_header_bytes", "max_body_bytes",
                                           "max_response_bytes"));

class LimitsDurationTest : public ::testing::TestWithParam<const char*> {};

Duration duration_of(const ServerLimits& l, std::string_view key) {
  if (key == "header_timeout") return l.header_timeout;
  if (key == "body_timeout") return l.body_timeout;
  if (key == "idle_timeout") return l.idle_timeout;
  return l.send_timeout;
}

TEST_P(LimitsDurationTest, PositiveDurations) {
  std::string key = GetParam();
  EXPECT_EQ(duration_of(load(with_top("limits: {" + key + ": 1500ms}")).limits, key), 1500ms);
  EXPECT_THAT(problems(with_top("limits: {" + key + ": 0ms}")),
              ElementsAre(HasSubstr("limits." + key + ": must be greater than 0")));
  EXPECT_THAT(problems(with_top("limits: {" + key + ": 5 fortnights}")),
              ElementsAre(HasSubstr("limits." + key + ": invalid duration")));
}

INSTANTIATE_TEST_SUITE_P(Keys, LimitsDurationTest,
                         ::testing::Values("header_timeout", "body_timeout", "idle_timeout",
                                           "send_timeout"));

TEST(LimitsTest, MaxConnectionsIsPositive) {
  EXPECT_EQ(load(with_top("limits: {max_connections: 1}")).limits.max_connections, 1);
  EXPECT_THAT(problems(with_top("limits: {max_connections: 0}")),
              ElementsAre(HasSubstr("limits.max_connections: must be at least 1, got 0")));
  EXPECT_THAT(problems(with_top("limits: {max_connections: 3000000000}")),
              ElementsAre(HasSubstr("limits.max_connections: must be at most 2147483647")));
  EXPECT_THAT(problems(with_top("limits: {max_connections: 1e3}")),
              ElementsAre(HasSubstr("expected an integer, got \"1e3\"")));
}

// ---------------------------------------------------------------------------------------------
// providers

TEST(ProvidersTest, Required) {
  EXPECT_THAT(problems("models: [{name: m, deployments: [{provider: p}]}]\n"),
              ElementsAre("test.yaml:1:1: missing key \"providers\" in top level",
                          HasSubstr("unknown provider \"p\"")));
  EXPECT_THAT(problems("providers: []\nmodels: []\n"),
              ElementsAre("test.yaml:1:12: providers: must list at least one provider",
                          "test.yaml:2:9: models: must list at least one model"));
  EXPECT_THAT(
      problems("providers:\nmodels: [{name: m, deployments: [{provider: x}]}]\n"),
      ElementsAre("test.yaml:1:1: providers: missing value", HasSubstr("unknown provider")));
  EXPECT_THAT(problems("providers: {name: p}\n" + std::string(kModelsForP)),
              ElementsAre(HasSubstr("providers: expected a list, got a mapping"),
                          HasSubstr("unknown provider")));
  EXPECT_THAT(problems("providers: [p]\n" + std::string(kModelsForP)),
              ElementsAre(HasSubstr("providers[0]: expected a mapping (key: value), got a scalar"),
                          HasSubstr("unknown provider")));
}

TEST(ProvidersTest, NameRequiredValidAndUnique) {
  EXPECT_THAT(problems("providers: [{kind: mock}]\nmodels: [{name: m, deployments: []}]\n"),
              ElementsAre("test.yaml:1:13: missing key \"name\" in providers[0]",
                          HasSubstr("at least one deployment")));
  EXPECT_THAT(
      problems("providers: [{name: 'my provider', kind: mock}]\n" + std::string(kModelsForP)),
      ElementsAre(HasSubstr("providers[0].name: invalid name \"my provider\" (use "
                            "letters, digits, '_', '.' and '-')"),
                  HasSubstr("unknown provider \"p\"")));
  EXPECT_THAT(problems("providers: [{name: '', kind: mock}, {name: p, kind: mock}]\n" +
                       std::string(kModelsForP)),
              ElementsAre(HasSubstr("providers[0].name: invalid name \"\"")));
  EXPECT_THAT(problems("providers:\n  - {name: p, kind: mock}\n  - {name: p, kind: mock}\n" +
                       std::string(kModelsForP)),
              ElementsAre("test.yaml:3:12: providers[1].name: duplicate provider name \"p\" "
                          "(first defined at line 2)"));
  Config c = load(
      "providers: [{name: A_z-0.9, kind: mock}]\n"
      "models: [{name: m, deployments: [{provider: A_z-0.9}]}]\n");
  EXPECT_EQ(c.providers[0].name, "A_z-0.9");
}

TEST(ProvidersTest, KindRequiredAndKnown) {
  EXPECT_THAT(problems("providers: [{name: p}]\n" + std::string(kModelsForP)),
              ElementsAre(HasSubstr("missing key \"kind\" in providers[0]")));
  EXPECT_THAT(problems("providers: [{name: p, kind: OpenAI}]\n" + std::string(kModelsForP)),
              ElementsAre(HasSubstr("providers[0].kind: unknown kind \"OpenAI\" (expected openai, "
                                    "azure, anthropic, gemini or mock)")));
}

TEST(BaseUrlTest, RequiredForOpenAI) {
  EXPECT_THAT(problems("providers: [{name: p, kind: openai}]\n" + std::string(kModelsForP)),
              ElementsAre("test.yaml:1:13: missing key \"base_url\" in providers[0] (required "
                          "for kind openai)"));
}

TEST(BaseUrlTest, RejectedForMock) {
  EXPECT_THAT(problems(mock_with("base_url: http://127.0.0.1:8000/v1")),
              ElementsAre("test.yaml:4:15: providers[0].base_url: not allowed for kind mock (the "
                          "mock provider answers in-process)"));
}

TEST(BaseUrlTest, SplitsIntoParts) {
  struct Case {
    const char* text;
    bool tls;
    const char* host;
    int port;
    const char* base_path;
  };
  for (const Case& c : {
           Case{"http://127.0.0.1:8000/v1", false, "127.0.0.1", 8000, "/v1"},
           Case{"https://api.openai.com/v1", true, "api.openai.com", 443, "/v1"},
           Case{"http://localhost/v1/", false, "localhost", 80, "/v1"},
           Case{"HTTPS://Example.com", true, "Example.com", 443, ""},
           Case{"http://host/", false, "host", 80, ""},
           Case{"http://[::1]:8000/v1", false, "::1", 8000, "/v1"},
           Case{"https://[2001:db8::1]/openai/deployments//", true, "2001:db8::1", 443,
                "/openai/deployments"},
           Case{"http://my_host.internal:65535/a%20b", false, "my_host.internal", 65535, "/a%20b"},
       }) {
    Config cfg = load(with_base_url(c.text));
    const Url& url = cfg.providers[0].base_url;
    EXPECT_EQ(url.tls, c.tls) << c.text;
    EXPECT_EQ(url.host, c.host) << c.text;
    EXPECT_EQ(url.port, c.port) << c.text;
    EXPECT_EQ(url.base_path, c.base_path) << c.text;
    EXPECT_EQ(url.text, c.text);
  }
}

TEST(BaseUrlTest, Invalid) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : {
           Case{"127.0.0.1:8000/v1", "invalid URL"},
           Case{"http://exa mple.com/v1", "invalid URL"},
           Case{"ftp://files.example.com/", "unsupported scheme \"ftp\" (expected http or https)"},
           Case{"localhost:8000", "unsupported scheme \"localhost\""},
           Case{"http:///v1", "missing host"},
           Case{"http:/v1", "missing host"},
           Case{"http://h/v1?api-version=1", "must not have a query or fragment"},
           Case{"http://u:p@ho st/v1", "invalid URL (expected"},
           Case{"http://h/v1#top", "must not have a query or fragment"},
           Case{"http://h:0/v1", "invalid port \"0\""},
           Case{"http://h:99999/v1", "invalid port \"99999\""},
           Case{"http://h:/v1", "invalid port \"\""},
           Case{"http://h%41st/v1", "invalid host \"h%41st\""},
           Case{"http://[v1.x]/v1", "missing host"},
       }) {
    EXPECT_THAT(problems(with_base_url(c.text)),
                ElementsAre(AllOf(StartsWith("test.yaml:4:15: providers[0].base_url: "),
                                  HasSubstr(c.message))))
        << c.text;
  }
}

TEST(BaseUrlTest, UserinfoIsRejectedWithoutEchoingIt) {
  EXPECT_THAT(
      problems(with_base_url("https://user:hunter2@api.example.com/v1")),
      ElementsAre(AllOf(HasSubstr("must not contain credentials"), Not(HasSubstr("hunter2")))));
  EXPECT_THAT(problems(with_base_url("https://api.example.com/v1?key=hunter2")),
              ElementsAre(AllOf(HasSubstr("must not have a query"), Not(HasSubstr("hunter2")))));
  EXPECT_THAT(problems(with_base_url("https://u:hunter2@api example.com/v1")),
              ElementsAre(AllOf(HasSubstr("invalid URL"), Not(HasSubstr("hunter2")))));
}

TEST(ProviderTest, ApiKey) {
  EXPECT_EQ(load(openai_with("api_key: sk-123")).providers[0].api_key, "sk-123");
  EXPECT_EQ(load(openai_with("")).providers[0].api_key, "");
}

TEST(ProviderTest, TimeoutsArePositive) {
  Config c = load(openai_with("timeouts: {connect: 100ms, total: 20m}"));
  EXPECT_EQ(c.providers[0].timeouts.connect, 100ms);
  EXPECT_EQ(c.providers[0].timeouts.first_byte, 300s);
  EXPECT_EQ(c.providers[0].timeouts.total, 1200s);
  for (const char* key : {"connect", "first_byte", "idle", "total"}) {
    EXPECT_THAT(problems(openai_with(std::string("timeouts: {") + key + ": 0s}")),
                ElementsAre(HasSubstr(std::string("providers[0].timeouts.") + key +
                                      ": must be greater than 0")))
        << key;
  }
}

TEST(ProviderTest, TlsVerifyAndCaFile) {
  TempDir dir;
  std::string ca = dir.write("ca.pem", "pem");
  std::string empty = dir.write("empty.pem", "");
  Config c = load(openai_with("tls: {verify: false, ca_file: " + ca + "}"));
  EXPECT_FALSE(c.providers[0].tls_verify);
  EXPECT_EQ(c.providers[0].ca_file, ca);
  EXPECT_THAT(problems(openai_with("tls: {verify: sometimes}")),
              ElementsAre(HasSubstr("providers[0].tls.verify: expected true or false")));
  EXPECT_THAT(problems(openai_with("tls: {ca_file: " + dir.path() + "/absent.pem}")),
              ElementsAre(HasSubstr("providers[0].tls.ca_file: cannot read \"" + dir.path() +
                                    "/absent.pem\": No such file or directory")));
  EXPECT_THAT(problems(openai_with("tls: {ca_file: " + dir.path() + "}")),
              ElementsAre(HasSubstr("Is a directory")));
  EXPECT_THAT(problems(openai_with("tls: {ca_file: " + empty + "}")),
              ElementsAre(HasSubstr("is empty")));
  EXPECT_THAT(problems(openai_with("tls: {ca_file: ''}")),
              ElementsAre(HasSubstr("providers[0].tls.ca_file: must not be empty")));
}

TEST(ProviderTest, Headers) {
  Config c = load(openai_with("headers:\n  X-Api-Version: '2024-06-01'\n  x-empty: ''"));
  using Header = std::pair<std::string, std::string>;
  EXPECT_THAT(c.providers[0].headers,
              ElementsAre(Header{"X-Api-Version", "2024-06-01"}, Header{"x-empty", ""}));
  EXPECT_THAT(problems(openai_with("headers: {'x bad': v}")),
              ElementsAre(HasSubstr("providers[0].headers.x bad: invalid header name \"x bad\"")));
  EXPECT_THAT(problems(openai_with("headers: {'x:bad': v}")),
              ElementsAre(HasSubstr("invalid header name")));
  EXPECT_THAT(problems(openai_with("headers: {Transfer-Encoding: chunked}")),
              ElementsAre(HasSubstr("\"Transfer-Encoding\" is set by the gateway")));
  EXPECT_THAT(problems(openai_with("headers: {host: example.com}")),
              ElementsAre(HasSubstr("is set by the gateway")));
  EXPECT_THAT(problems(openai_with("headers: {x-a: }")),
              ElementsAre(HasSubstr("providers[0].headers.x-a: missing value")));
  EXPECT_THAT(
      problems(openai_with("headers: {x-a: \"sk-1\\r\\nx-b: 2\"}")),
      ElementsAre(AllOf(HasSubstr("must not contain line breaks"), Not(HasSubstr("sk-1")))));
  EXPECT_THAT(problems(openai_with("headers: [x-a]")),
              ElementsAre(HasSubstr("providers[0].headers: expected a mapping")));
}

TEST(ProviderTest, ForwardHeaders) {
  Config c = load(openai_with("forward_headers: [X-Mock-*, x-trace-id, Authorization]"));
  EXPECT_THAT(c.providers[0].forward_headers,
              ElementsAre("x-mock-*", "x-trace-id", "authorization"));
  EXPECT_THAT(problems(openai_with("forward_headers: ['*']")),
              ElementsAre(HasSubstr("\"*\" would forward every header")));
  EXPECT_THAT(problems(openai_with("forward_headers: ['x-*-id']")),
              ElementsAre(HasSubstr("providers[0].forward_headers[0]: invalid header name "
                                    "\"x-*-id\" (a '*' is allowed only at the end)")));
  EXPECT_THAT(problems(openai_with("forward_headers: [ok, 'x trace']")),
              ElementsAre(HasSubstr("providers[0].forward_headers[1]: invalid header name")));
  EXPECT_THAT(problems(openai_with("forward_headers: [Content-Length]")),
              ElementsAre(HasSubstr("\"Content-Length\" is set by the gateway")));
  EXPECT_THAT(problems(openai_with("forward_headers: x-trace-id")),
              ElementsAre(HasSubstr("providers[0].forward_headers: expected a list")));
  EXPECT_THAT(problems(openai_with("forward_headers: [[a]]")),
              ElementsAre(HasSubstr("providers[0].forward_headers[0]: expected a header name")));
}

TEST(ProviderTest, Pool) {
  Config c = load(openai_with("max_idle_connections: 0\npool_idle_timeout: 2s"));
  EXPECT_EQ(c.providers[0].max_idle_connections, 0);
  EXPECT_EQ(c.providers[0].pool_idle_timeout, 2s);
  EXPECT_THAT(problems(openai_with("max_idle_connections: -1")),
              ElementsAre(HasSubstr("providers[0].max_idle_connections: must be at least 0")));
  EXPECT_THAT(problems(openai_with("pool_idle_timeout: 0s")),
              ElementsAre(HasSubstr("providers[0].pool_idle_timeout: must be greater than 0")));
}

TEST(MockSettingsTest, OnlyForKindMock) {
  EXPECT_THAT(problems(openai_with("mock: {fault_rate: 0.5}")),
              ElementsAre("test.yaml:5:11: providers[0].mock: only allowed for kind mock"));
}

TEST(MockSettingsTest, Bounds) {
  struct Case {
    const char* field;
    const char* message;  // empty when the value is valid
  };
  for (const Case& c : {
           Case{"first_token_delay: 0ms", ""},
           Case{"first_token_delay: -5ms", "invalid duration"},
           Case{"tokens_per_second: 0", ""},
           Case{"tokens_per_second: -1", "tokens_per_second: must be at least 0"},
           Case{"tokens_per_second: .inf", "expected a number"},
           Case{"fault_rate: 0", ""},
           Case{"fault_rate: 1", ""},
           Case{"fault_rate: 1.01", "fault_rate: must be between 0 and 1"},
           Case{"fault_rate: -0.1", "fault_rate: must be between 0 and 1"},
           Case{"fault_rate: nan", "expected a number"},
           Case{"seed: 0", ""},
           Case{"seed: -1", "seed: expected an integer"},
           Case{"seed: 18446744073709551616", "seed: expected an integer"},
           Case{"max_tokens: 1", ""},
           Case{"max_tokens: 100000", ""},
           Case{"max_tokens: 0", "max_tokens: must be between 1 and 100000"},
           Case{"max_tokens: 100001", "max_tokens: must be between 1 and 100000"},
           Case{"embedding_dimensions: 1", ""},
           Case{"embedding_dimensions: 8192", ""},
           Case{"embedding_dimensions: 0", "embedding_dimensions: must be between 1 and 8192"},
           Case{"embedding_dimensions: 8193", "embedding_dimensions: must be between 1 and 8192"},
       }) {
    std::vector<std::string> found = problems(mock_with(std::string("mock: {") + c.field + "}"));
    if (*c.message == '\0') {
      EXPECT_THAT(found, IsEmpty()) << c.field;
    } else {
      EXPECT_THAT(found, ElementsAre(AllOf(StartsWith("test.yaml:4:"),
                                           HasSubstr("providers[0].mock."), HasSubstr(c.message))))
          << c.field;
    }
  }
}

TEST(MockSettingsTest, ValuesAreStored) {
  Config c = load(mock_with("mock:\n  first_token_delay: 20ms\n  seed: 42"));
  EXPECT_EQ(c.providers[0].mock.first_token_delay, 20ms);
  EXPECT_EQ(c.providers[0].mock.seed, 42u);
  EXPECT_EQ(c.providers[0].mock.max_tokens, 64);
}

// ---------------------------------------------------------------------------------------------
// models

TEST(ModelsTest, Required) {
  EXPECT_THAT(problems("providers: [{name: p, kind: mock}]\n"),
              ElementsAre("test.yaml:1:1: missing key \"models\" in top level"));
  EXPECT_THAT(problems("providers: [{name: p, kind: mock}]\nmodels: []\n"),
              ElementsAre("test.yaml:2:9: models: must list at least one model"));
  EXPECT_THAT(problems("providers: [{name: p, kind: mock}]\nmodels: [m]\n"),
              ElementsAre(HasSubstr("models[0]: expected a mapping")));
}

TEST(ModelsTest, NameRules) {
  auto model = [](std::string_view name) {
    return "providers: [{name: p, kind: mock}]\nmodels:\n  - name: " + std::string(name) +
           "\n    deployments: [{provider: p}]\n";
  };
  EXPECT_EQ(load(model("gpt-*")).models[0].name, "gpt-*");
  EXPECT_EQ(load(model("'*'")).models[0].name, "*");
  EXPECT_EQ(load(model("meta-llama/Llama-3.1-8B:free")).models[0].name,
            "meta-llama/Llama-3.1-8B:free");
  EXPECT_THAT(problems(model("'gpt-*-mini'")),
              ElementsAre("test.yaml:3:11: models[0].name: invalid name \"gpt-*-mini\" ('*' is a "
                          "wildcard only at the end, as in \"gpt-*\")"));
  EXPECT_THAT(problems(model("''")), ElementsAre(HasSubstr("models[0].name: must not be empty")));
  EXPECT_THAT(problems(model("\"a\\tb\"")),
              ElementsAre(HasSubstr("invalid name \"a\\x09b\" (control characters)")));
  EXPECT_THAT(problems("providers: [{name: p, kind: mock}]\nmodels: [{deployments: [{provider: "
                       "p}]}]\n"),
              ElementsAre(HasSubstr("missing key \"name\" in models[0]")));
}

TEST(ModelsTest, NamesAreUnique) {
  EXPECT_THAT(problems("providers: [{name: p, kind: mock}]\n"
                       "models:\n"
                       "  - {name: fast, deployments: [{provider: p}]}\n"
                       "  - {name: fast, deployments: [{provider: p}]}\n"),
              ElementsAre("test.yaml:4:12: models[1].name: duplicate model \"fast\" (first "
                          "defined at line 3)"));
}

TEST(ModelsTest, DeploymentsRequiredAndNonEmpty) {
  EXPECT_THAT(problems("providers: [{name: p, kind: mock}]\nmodels: [{name: m}]\n"),
              ElementsAre("test.yaml:2:10: missing key \"deployments\" in models[0]"));
  EXPECT_THAT(problems("providers: [{name: p, kind: mock}]\nmodels: [{name: m, deployments: "
                       "[]}]\n"),
              ElementsAre(HasSubstr("models[0].deployments: must list at least one deployment")));
  EXPECT_THAT(problems("providers: [{name: p, kind: mock}]\nmodels: [{name: m, deployments: "
                       "p}]\n"),
              ElementsAre(HasSubstr("models[0].deployments: expected a list, got a scalar")));
}

TEST(ModelsTest, DeploymentProviderMustExist) {
  EXPECT_THAT(problems("providers: [{name: local, kind: mock}]\n"
                       "models:\n"
                       "  - name: m\n"
                       "    deployments:\n"
                       "      - provider: locl\n"),
              ElementsAre("test.yaml:5:19: models[0].deployments[0].provider: unknown provider "
                          "\"locl\" (did you mean \"local\"?)"));
  EXPECT_THAT(problems("providers: [{name: p, kind: mock}]\nmodels: [{name: m, deployments: "
                       "[{model: x}]}]\n"),
              ElementsAre(HasSubstr("missing key \"provider\" in models[0].deployments[0]")));
}

TEST(ModelsTest, RejectedProviderIsNotReportedAgainByDeployments) {
  // The provider's own problem is the one to fix; "unknown provider" here would be noise.
  EXPECT_THAT(problems("providers: [{name: 'bad name', kind: mock}]\n"
                       "models: [{name: m, deployments: [{provider: 'bad name'}]}]\n"),
              ElementsAre(HasSubstr("providers[0].name: invalid name")));
  EXPECT_THAT(problems("providers: [{name: p, kind: nope}]\n" + std::string(kModelsForP)),
              ElementsAre(HasSubstr("unknown kind")));
}

TEST(ModelsTest, DeploymentModelIsOptional) {
  Config c = load(
      "providers: [{name: p, kind: mock}]\n"
      "models: [{name: 'gpt-*', deployments: [{provider: p}, {provider: p, model: "
      "x}]}]\n");
  EXPECT_EQ(c.models[0].deployments[0].model, "");
  EXPECT_EQ(c.models[0].deployments[1].model, "x");
}

// ---------------------------------------------------------------------------------------------
// default_config and find_provider

TEST(DefaultConfigTest, OfflineWithoutOpenAIKey) {
  ScopedEnv key("OPENAI_API_KEY", nullptr);
  Config c = default_config();
  EXPECT_EQ(c.source, "<default>");
  ASSERT_EQ(c.providers.size(), 1u);
  EXPECT_EQ(c.providers[0].name, "sim");
  EXPECT_EQ(c.providers[0].kind, ProviderKind::kMock);
  EXPECT_EQ(c.providers[0].mock.max_tokens, MockSettings{}.max_tokens);
  ASSERT_EQ(c.models.size(), 1u);
  EXPECT_EQ(c.models[0].name, "mock");
  ASSERT_EQ(c.models[0].deployments.size(), 1u);
  EXPECT_EQ(c.models[0].deployments[0].provider, "sim");
  EXPECT_EQ(c.listen.host, "127.0.0.1");
}

TEST(DefaultConfigTest, EmptyOpenAIKeyCountsAsUnset) {
  ScopedEnv key("OPENAI_API_KEY", "");
  EXPECT_EQ(default_config().providers.size(), 1u);
}

TEST(DefaultConfigTest, OpenAIWhenKeyIsSet) {
  ScopedEnv key("OPENAI_API_KEY", "sk-test-123");
  Config c = default_config();
  ASSERT_EQ(c.providers.size(), 2u);
  const Provider* openai = c.find_provider("openai");
  ASSERT_NE(openai, nullptr);
  EXPECT_EQ(openai->kind, ProviderKind::kOpenAI);
  EXPECT_EQ(openai->api_key, "sk-test-123");
  EXPECT_TRUE(openai->base_url.tls);
  EXPECT_EQ(openai->base_url.host, "api.openai.com");
  EXPECT_EQ(openai->base_url.port, 443);
  EXPECT_EQ(openai->base_url.base_path, "/v1");
  EXPECT_EQ(openai->base_url.text, "https://api.openai.com/v1");

  std::vector<std::string> names;
  for (const Model& m : c.models) {
    names.push_back(m.name);
    ASSERT_EQ(m.deployments.size(), 1u) << m.name;
    EXPECT_NE(c.find_provider(m.deployments[0].provider), nullptr) << m.name;
    EXPECT_EQ(m.deployments[0].model, "") << m.name;
    if (m.name != "mock") {
      EXPECT_EQ(m.deployments[0].provider, "openai") << m.name;
    }
  }
  EXPECT_THAT(
      names, ElementsAre("mock", "gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano",
                         "o3", "o3-mini", "o4-mini", "text-embedding-3-small",
                         "text-embedding-3-large", "dall-e-3", "gpt-image-1", "*"));
}

TEST(FindProviderTest, ByExactName) {
  Config c = load(
      "providers: [{name: a, kind: mock}, {name: b, kind: mock}]\n"
      "models: [{name: m, deployments: [{provider: b}]}]\n");
  EXPECT_EQ(c.find_provider("a"), &c.providers[0]);
  EXPECT_EQ(c.find_provider("b"), &c.providers[1]);
  EXPECT_EQ(c.find_provider("B"), nullptr);
  EXPECT_EQ(c.find_provider(""), nullptr);
}

// ---- routing ----

constexpr std::string_view kTwoProviders = R"(providers:
  - name: a
    kind: mock
  - name: b
    kind: mock
)";

TEST(RoutingConfigTest, DefaultsAreP2cEwmaWithEnvoyLikeHealth) {
  Config c = load(kMinimal);
  const Model& m = c.models.at(0);
  EXPECT_EQ(m.strategy, Strategy::kP2cEwma);
  EXPECT_EQ(m.retries.max_attempts, 3);
  EXPECT_DOUBLE_EQ(m.retries.budget, 0.2);
  EXPECT_EQ(m.health.outlier.consecutive_failures, 5);
  EXPECT_EQ(m.health.outlier.base_ejection, 30s);
  EXPECT_EQ(m.health.outlier.max_ejection_percent, 10);
  EXPECT_FALSE(m.hedge.enabled);
  EXPECT_TRUE(m.fallbacks.empty());
  const Deployment& d = m.deployments.at(0);
  EXPECT_EQ(d.weight, 1);
  EXPECT_EQ(d.max_concurrency, 0);
  EXPECT_FALSE(d.adaptive.enabled);
}

TEST(RoutingConfigTest, EveryModelAndDeploymentKey) {
  Config c = load(std::string(kTwoProviders) + R"(models:
  - name: chat
    strategy: consistent-hash
    hash_key: {source: prefix, bytes: 2KiB, load_factor: 1.5}
    fallbacks: [small]
    context_fallbacks: [long]
    timeouts: {connect: 1s, first_byte: 20s, idle: 5s, total: 60s}
    retries: {max_attempts: 4, backoff_base: 10ms, backoff_max: 1s, max_retry_after: 3s, budget: 0.5, min_concurrency: 1}
    queue: {max_size: 7, timeout: 2s, status: 503}
    hedge: {enabled: true, delay: 300ms}
    health:
      outlier: {consecutive_failures: 2, base_ejection: 1s, max_ejection: 4s, max_ejection_percent: 50}
      breaker: {enabled: false, failure_ratio: 0.3, min_requests: 5, window: 2s, open_for: 3s, half_open_probes: 1}
      probe: {enabled: true, path: /health, interval: 1s, timeout: 500ms, unhealthy_after: 3, healthy_after: 2}
      cooldown: 2s
    deployments:
      - provider: a
        weight: 3
        max_concurrency: 10
        rpm: 600
        tpm: 100000
        priority: 1
        input_cost_per_mtok: 2.5
        output_cost_per_mtok: 10
        adaptive_concurrency: {initial_limit: 8, min_limit: 2, max_limit: 64}
  - name: small
    deployments: [{provider: b}]
  - name: long
    deployments: [{provider: b}]
)");
  const Model& m = c.models.at(0);
  EXPECT_EQ(m.strategy, Strategy::kConsistentHash);
  EXPECT_EQ(m.hash_key.source, HashKey::Source::kPrefix);
  EXPECT_EQ(m.hash_key.prefix_bytes, 2048u);
  EXPECT_DOUBLE_EQ(m.hash_key.load_factor, 1.5);
  EXPECT_THAT(m.fallbacks, ElementsAre("small"));
  EXPECT_THAT(m.context_fallbacks, ElementsAre("long"));
  EXPECT_EQ(m.timeouts.first_byte, 20s);
  EXPECT_EQ(m.timeouts.total, 60s);
  EXPECT_EQ(m.retries.max_attempts, 4);
  EXPECT_EQ(m.retries.backoff_base, 10ms);
  EXPECT_EQ(m.retries.max_retry_after, 3s);
  EXPECT_EQ(m.queue.max_size, 7);
  EXPECT_EQ(m.queue.status, 503);
  EXPECT_TRUE(m.hedge.enabled);
  EXPECT_EQ(m.hedge.delay, 300ms);
  EXPECT_EQ(m.health.outlier.consecutive_failures, 2);
  EXPECT_EQ(m.health.outlier.max_ejection, 4s);
  EXPECT_FALSE(m.health.breaker.enabled);
  EXPECT_EQ(m.health.breaker.half_open_probes, 1);
  EXPECT_TRUE(m.health.probe.enabled);
  EXPECT_EQ(m.health.probe.path, "/health");
  EXPECT_EQ(m.health.cooldown, 2s);
  const Deployment& d = m.deployments.at(0);
  EXPECT_EQ(d.weight, 3);
  EXPECT_EQ(d.max_concurrency, 10);
  EXPECT_EQ(d.rpm, 600u);
  EXPECT_EQ(d.tpm, 100000u);
  EXPECT_EQ(d.priority, 1);
  EXPECT_DOUBLE_EQ(d.output_cost_per_mtok, 10);
  EXPECT_TRUE(d.adaptive.enabled);
  EXPECT_EQ(d.adaptive.initial_limit, 8);
  EXPECT_EQ(d.adaptive.max_limit, 64);
}

TEST(RoutingConfigTest, TopLevelRoutingIsEachModelsDefault) {
  Config c = load(std::string(R"(routing:
  retries: {max_attempts: 5}
  health: {outlier: {consecutive_failures: 3}}
)") + std::string(kTwoProviders) +
                  R"(models:
  - name: x
    retries: {budget: 0.1}
    deployments: [{provider: a}]
  - name: y
    deployments: [{provider: b}]
)");
  // Field by field: x keeps the default attempts and sets its own budget.
  EXPECT_EQ(c.models[0].retries.max_attempts, 5);
  EXPECT_DOUBLE_EQ(c.models[0].retries.budget, 0.1);
  EXPECT_EQ(c.models[1].retries.max_attempts, 5);
  EXPECT_DOUBLE_EQ(c.models[1].retries.budget, 0.2);
  EXPECT_EQ(c.models[1].health.outlier.consecutive_failures, 3);
}

TEST(RoutingConfigTest, HashKeyShorthands) {
  auto key = [](std::string_view text) {
    return load(std::string(kTwoProviders) +
                "models:\n  - name: x\n    strategy: consistent-hash\n    hash_key: " +
                std::string(text) + "\n    deployments: [{provider: a}]\n")
        .models[0]
        .hash_key;
  };
  EXPECT_EQ(key("user").source, HashKey::Source::kUser);
  HashKey h = key("header:X-Session-Id");
  EXPECT_EQ(h.source, HashKey::Source::kHeader);
  EXPECT_EQ(h.header, "x-session-id");
  HashKey p = key("prefix:512");
  EXPECT_EQ(p.source, HashKey::Source::kPrefix);
  EXPECT_EQ(p.prefix_bytes, 512u);
  EXPECT_EQ(key("prefix:2KiB").prefix_bytes, 2048u);
}

TEST(RoutingConfigTest, HashKeyWithoutConsistentHashIsAMistake) {
  auto errs = problems(std::string(kTwoProviders) + R"(models:
  - name: x
    hash_key: user
    deployments: [{provider: a}]
)");
  EXPECT_THAT(errs, ElementsAre(AllOf(StartsWith("test.yaml:8:"),
                                      HasSubstr("only used by strategy consistent-hash"))));
}

TEST(RoutingConfigTest, BadValuesSayWhereAndWhy) {
  auto errs = problems(std::string(kTwoProviders) + R"(models:
  - name: x
    strategy: p2c-ewm
    hash_key: prefix:0
    fallbacks: [x, nope, y, y]
    queue: {status: 500}
    retries: {max_attempts: 0, budget: 2}
    deployments:
      - provider: a
        weight: 0
        adaptive_concurrency: {min_limit: 10, max_limit: 5}
  - name: y
    health:
      outlier: {base_ejection: 10s, max_ejection: 1s}
      probe: {path: models}
    deployments: [{provider: b}]
)");
  EXPECT_THAT(errs, ::testing::Contains(AllOf(StartsWith("test.yaml:8:"),
                                              HasSubstr("unknown strategy \"p2c-ewm\""),
                                              HasSubstr("did you mean \"p2c-ewma\""))));
  EXPECT_THAT(errs,
              ::testing::Contains(AllOf(StartsWith("test.yaml:9:"), HasSubstr("prefix:BYTES"))));
  EXPECT_THAT(errs, ::testing::Contains(HasSubstr("cannot fall back to itself")));
  EXPECT_THAT(errs, ::testing::Contains(HasSubstr("unknown model \"nope\"")));
  EXPECT_THAT(errs, ::testing::Contains(HasSubstr("\"y\" is listed twice")));
  EXPECT_THAT(errs, ::testing::Contains(HasSubstr("must be 429 or 503")));
  EXPECT_THAT(errs, ::testing::Contains(AllOf(HasSubstr("max_attempts"), HasSubstr("between 1"))));
  EXPECT_THAT(errs, ::testing::Contains(AllOf(HasSubstr("budget"), HasSubstr("between 0 and 1"))));
  EXPECT_THAT(errs, ::testing::Contains(AllOf(HasSubstr("weight"), HasSubstr("between 1"))));
  EXPECT_THAT(errs, ::testing::Contains(HasSubstr("min_limit must not be greater than max_limit")));
  EXPECT_THAT(errs,
              ::testing::Contains(HasSubstr("max_ejection must not be less than base_ejection")));
  EXPECT_THAT(errs, ::testing::Contains(HasSubstr("expected a path starting with '/'")));
}

TEST(RoutingConfigTest, FallbackToAPatternIsRefused) {
  auto errs = problems(std::string(kTwoProviders) + R"(models:
  - name: x
    fallbacks: ["gpt-*"]
    deployments: [{provider: a}]
  - name: "gpt-*"
    deployments: [{provider: b}]
)");
  EXPECT_THAT(errs,
              ElementsAre(AllOf(StartsWith("test.yaml:8:"), HasSubstr("unknown model \"gpt-*\""))));
}

}  // namespace
}  // namespace sluice::config

namespace sluice::config {
namespace {

TEST(AuthTest, NoneByDefaultAndKeysNeedADataDir) {
  Config c = load(kMinimal);
  EXPECT_EQ(c.auth.mode, Auth::Mode::kNone);
  EXPECT_TRUE(c.data_dir.empty());
  EXPECT_THAT(problems(with_top("auth: {mode: keys}")),
              ElementsAre(HasSubstr("auth.mode keys needs data_dir")));
  Config keys = load(with_top("data_dir: ./d\nauth: {mode: keys, admin_key: secret}"));
  EXPECT_EQ(keys.auth.mode, Auth::Mode::kKeys);
  EXPECT_EQ(keys.auth.admin_key, "secret");
  EXPECT_EQ(keys.data_dir, "./d");
  EXPECT_THAT(problems(with_top("auth: {mode: key}")),
              ElementsAre(AllOf(HasSubstr("1:"), HasSubstr("unknown mode \"key\""),
                                HasSubstr("did you mean \"keys\""))));
}

TEST(RateLimitsTest, LocalByDefaultAndEverySettingIsRead) {
  Config d = load(kMinimal);
  EXPECT_EQ(d.rate_limits.backend, RateLimits::Backend::kLocal);
  EXPECT_TRUE(d.rate_limits.fail_open);
  EXPECT_EQ(d.rate_limits.global.rpm, 0u);
  EXPECT_EQ(d.rate_limits.reserve_output_tokens, 1024u);
  Config c = load(with_top(
      "limits:\n  max_body_bytes: 1MiB\n  backend: redis\n  redis: {url: "
      "\"redis://127.0.0.1:6390/2\", timeout: 5ms, key_prefix: \"x:\"}\n  failure_mode: closed\n"
      "  global: {rpm: 600, tpm: 90000}\n  reserve_output_tokens: 256"));
  EXPECT_EQ(c.limits.max_body_bytes, 1024u * 1024);
  EXPECT_EQ(c.rate_limits.backend, RateLimits::Backend::kRedis);
  EXPECT_EQ(c.rate_limits.redis.url, "redis://127.0.0.1:6390/2");
  EXPECT_EQ(c.rate_limits.redis.timeout, 5ms);
  EXPECT_EQ(c.rate_limits.redis.key_prefix, "x:");
  EXPECT_FALSE(c.rate_limits.fail_open);
  EXPECT_EQ(c.rate_limits.global.rpm, 600u);
  EXPECT_EQ(c.rate_limits.global.tpm, 90000u);
  EXPECT_EQ(c.rate_limits.reserve_output_tokens, 256u);
}

TEST(RateLimitsTest, BadValuesAreReportedWithTheirPlace) {
  EXPECT_THAT(problems(with_top("limits: {backend: redis}")),
              ElementsAre(HasSubstr("backend redis needs redis.url")));
  EXPECT_THAT(problems(with_top("limits: {backend: memcached}")),
              ElementsAre(HasSubstr("unknown backend \"memcached\"")));
  EXPECT_THAT(problems(with_top("limits: {failure_mode: ajar}")),
              ElementsAre(HasSubstr("unknown failure_mode \"ajar\"")));
  EXPECT_THAT(problems(with_top("limits: {global: {rpm: -1}}")),
              ElementsAre(HasSubstr("expected an integer from 0")));
  EXPECT_THAT(problems(with_top("limits: {global: {rps: 1}}")),
              ElementsAre(HasSubstr("unknown key \"rps\"")));
}

TEST(ModelLimitsTest, PerModelRpmAndTpm) {
  Config c = load(R"(providers:
  - name: sim
    kind: mock
models:
  - name: mock
    limits: {rpm: 60, tpm: 1000}
    deployments:
      - provider: sim
)");
  EXPECT_EQ(c.models[0].limits.rpm, 60u);
  EXPECT_EQ(c.models[0].limits.tpm, 1000u);
}

TEST(PricesTest, WellKnownModelsTakeTheirListPriceUnlessPriced) {
  Config c = load(R"(providers:
  - name: sim
    kind: mock
models:
  - name: gpt-4o-mini
    deployments:
      - provider: sim
      - provider: sim
        model: gpt-4o
      - provider: sim
        model: gpt-4o
        output_cost_per_mtok: 7
      - provider: sim
        model: my-llama
)");
  const auto& d = c.models[0].deployments;
  EXPECT_DOUBLE_EQ(d[0].input_cost_per_mtok, 0.15);
  EXPECT_DOUBLE_EQ(d[0].cached_input_cost_per_mtok, 0.075);
  EXPECT_DOUBLE_EQ(d[1].output_cost_per_mtok, 10.0);
  EXPECT_DOUBLE_EQ(d[2].input_cost_per_mtok, 0);  // priced by hand: nothing is filled in
  EXPECT_DOUBLE_EQ(d[2].output_cost_per_mtok, 7);
  EXPECT_DOUBLE_EQ(d[3].input_cost_per_mtok, 0);
}

TEST(LoaderTest, AlertRulesAndTheirWebhook) {
  Config c = load(with_top(R"(alerts:
  webhook: {url: "https://hooks.example.com/sluice", timeout: 2s}
  rules:
    - {name: errors, kind: error_rate, threshold: 0.5, window: 3s, min_requests: 2}
    - {name: cold-cache, kind: cache_hit_rate, threshold: 0.2}
    - {name: slow, kind: p99_latency, threshold: 750ms, window: 5m}
    - {name: slow2, kind: p99_latency, threshold: 1.5}
    - {name: limited, kind: rate_limited_share, threshold: 0.1}
    - {name: big, kind: memory, threshold: 512MiB}
    - {name: ejected, kind: deployment_ejected}
    - {name: sim-out, kind: deployment_ejected, deployment: sim/mock})"));
  ASSERT_EQ(c.alerts.rules.size(), 8u);
  const AlertRule& errors = c.alerts.rules[0];
  EXPECT_EQ(errors.name, "errors");
  EXPECT_EQ(errors.kind, AlertRule::Kind::kErrorRate);
  EXPECT_DOUBLE_EQ(errors.threshold, 0.5);
  EXPECT_EQ(errors.window, 3s);
  EXPECT_EQ(errors.min_requests, 2u);
  EXPECT_EQ(errors.mark.line, 4);
  EXPECT_EQ(c.alerts.rules[1].window, 60s);  // the defaults
  EXPECT_EQ(c.alerts.rules[1].min_requests, 5u);
  EXPECT_DOUBLE_EQ(c.alerts.rules[2].threshold, 0.75);
  EXPECT_DOUBLE_EQ(c.alerts.rules[3].threshold, 1.5);
  EXPECT_DOUBLE_EQ(c.alerts.rules[5].threshold, 512.0 * 1024 * 1024);
  EXPECT_EQ(c.alerts.rules[6].deployment, "");
  EXPECT_EQ(c.alerts.rules[7].deployment, "sim/mock");
  EXPECT_TRUE(c.alerts.webhook.url.tls);
  EXPECT_EQ(c.alerts.webhook.url.host, "hooks.example.com");
  EXPECT_EQ(c.alerts.webhook.url.base_path, "/sluice");
  EXPECT_EQ(c.alerts.webhook.timeout, 2s);

  Config none = load(kMinimal);
  EXPECT_TRUE(none.alerts.rules.empty());
  EXPECT_TRUE(none.alerts.webhook.url.host.empty());
}

TEST(LoaderTest, InvalidAlertRulesAreRefusedWithTheirPlace) {
  auto rules = [](std::string_view lines) {
    return problems(with_top("alerts:\n  rules:\n" + std::string(lines)));
  };
  EXPECT_THAT(rules("    - {name: a, kind: error_rat, threshold: 0.5}"),
              ElementsAre("test.yaml:3:23: alerts.rules[0].kind: unknown kind \"error_rat\" "
                          "(expected cache_hit_rate, error_rate, p99_latency, rate_limited_share, "
                          "memory or deployment_ejected) (did you mean \"error_rate\"?)"));
  EXPECT_THAT(rules("    - {name: a, kind: error_rate, threshold: 1.5}"),
              ElementsAre("test.yaml:3:46: alerts.rules[0].threshold: must be between 0 and 1, "
                          "got 1.5"));
  EXPECT_THAT(rules("    - {name: a, kind: error_rate}"),
              ElementsAre(HasSubstr("missing key \"threshold\" in alerts.rules[0] (a share from "
                                    "0 to 1)")));
  EXPECT_THAT(rules("    - {kind: error_rate, threshold: 0.5}"),
              ElementsAre(HasSubstr("missing key \"name\" in alerts.rules[0]")));
  EXPECT_THAT(rules("    - {name: a, kind: error_rate, threshold: 0.5, window: 1h}"),
              ElementsAre(HasSubstr("alerts.rules[0].window: must be at most 15m")));
  EXPECT_THAT(rules("    - {name: a, kind: error_rate, threshold: 0.5, window: soon}"),
              ElementsAre(HasSubstr("alerts.rules[0].window: invalid duration \"soon\"")));
  EXPECT_THAT(rules("    - {name: a, kind: error_rate, threshold: 0.5, min_requests: 0}"),
              ElementsAre(HasSubstr("alerts.rules[0].min_requests: must be at least 1")));
  EXPECT_THAT(rules("    - {name: a, kind: p99_latency, threshold: fast}"),
              ElementsAre(HasSubstr("alerts.rules[0].threshold: expected seconds or a duration")));
  EXPECT_THAT(rules("    - {name: a, kind: p99_latency, threshold: -1}"),
              ElementsAre(HasSubstr("alerts.rules[0].threshold: must be greater than 0")));
  EXPECT_THAT(rules("    - {name: a, kind: memory, threshold: lots}"),
              ElementsAre(HasSubstr("alerts.rules[0].threshold: invalid size \"lots\"")));
  EXPECT_THAT(rules("    - {name: a, kind: memory, threshold: 1GiB, window: 1m}"),
              ElementsAre(HasSubstr("alerts.rules[0].window: memory takes no window")));
  EXPECT_THAT(rules("    - {name: a, kind: deployment_ejected, threshold: 1}"),
              ElementsAre(HasSubstr("deployment_ejected takes no threshold")));
  EXPECT_THAT(rules("    - {name: a, kind: deployment_ejected, deployment: sim/mokc}"),
              ElementsAre(HasSubstr("alerts.rules[0].deployment: no model has the deployment "
                                    "\"sim/mokc\" (deployments are named provider/model) (did "
                                    "you mean \"sim/mock\"?)")));
  EXPECT_THAT(rules("    - {name: a, kind: error_rate, threshold: 0.5, deployment: sim/mock}"),
              ElementsAre(HasSubstr("only deployment_ejected takes a deployment")));
  EXPECT_THAT(rules("    - {name: a, kind: error_rate, threshold: 0.5}\n"
                    "    - {name: a, kind: memory, threshold: 1GiB}"),
              ElementsAre(HasSubstr("test.yaml:4:14: alerts.rules[1].name: duplicate alert name "
                                    "\"a\" (first at line 3)")));
  EXPECT_THAT(rules("    - {name: \"a b\", kind: memory, threshold: 1GiB}"),
              ElementsAre(HasSubstr("alerts.rules[0].name: must be letters, digits")));
  EXPECT_THAT(rules("    - {name: a, kind: memory, threshold: 1GiB, for: 1m}"),
              ElementsAre(HasSubstr("unknown key \"for\" in alerts.rules[0]")));
  EXPECT_THAT(problems(with_top("alerts: {webhook: {url: \"ftp://x/y\"}}")),
              ElementsAre(HasSubstr("alerts.webhook.url: unsupported scheme \"ftp\"")));
  EXPECT_THAT(problems(with_top("alerts: {webhook: {timeout: 1s}}")),
              ElementsAre(HasSubstr("missing key \"url\" in alerts.webhook")));
  EXPECT_THAT(problems(with_top("alerts: {rule: []}")),
              ElementsAre(HasSubstr("unknown key \"rule\" in alerts (did you mean \"rules\"?)")));
}

}  // namespace
}  // namespace sluice::config
