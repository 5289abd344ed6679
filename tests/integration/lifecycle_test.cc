// Process lifecycle: SIGTERM drains (in-flight streams finish, new connections are refused, exit
// 0), the drain deadline is enforced, many concurrent connections are served, the default
// configuration works offline, `sluice config check` reports problems, the access log writes one
// JSON line per request.
#include <gtest/gtest.h>

#include <signal.h>

#include <boost/json.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/http_client.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

std::string simple_config(const std::string& extra = "") {
  return extra + R"(
providers:
  - name: sim
    kind: mock
models:
  - name: m
    deployments: [{provider: sim}]
)";
}

constexpr const char* kSlowStream =
    R"({"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]})";

TEST(LifecycleTest, SigtermLetsAStreamInFlightFinish) {
  TempDir dir;
  auto gw = start_gateway(dir, simple_config("drain_timeout: 10s\n"));
  HttpClient c(gw.port);
  ASSERT_TRUE(c.send("POST", "/v1/chat/completions", kSlowStream,
                     {{"x-mock-tokens-per-second", "10"}, {"x-mock-tokens", "15"}}));
  ASSERT_TRUE(c.read_head());
  auto first = c.read_body_some();
  ASSERT_TRUE(first);
  gw.process->signal(SIGTERM);
  ASSERT_TRUE(gw.process->wait_for_log("draining", 2s));

  // New connections are no longer accepted.
  HttpClient late(gw.port, 1s);
  bool refused = !late.connected() || !late.send("GET", "/healthz") || !late.read_response();
  EXPECT_TRUE(refused);

  std::string all = *first;
  while (auto more = c.read_body_some()) all += *more;
  EXPECT_TRUE(c.body_complete());
  EXPECT_EQ(sse_data(all).back(), "[DONE]");
  auto code = gw.process->wait(5s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0) << gw.process->log();
}

TEST(LifecycleTest, SigtermClosesIdleConnectionsAndExitsAtOnce) {
  TempDir dir;
  auto gw = start_gateway(dir, simple_config());
  HttpClient idle(gw.port);
  ASSERT_TRUE(idle.send("GET", "/healthz"));
  ASSERT_TRUE(idle.read_response());
  auto began = Clock::now();
  gw.process->signal(SIGTERM);
  auto code = gw.process->wait(3s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
  EXPECT_LT(Clock::now() - began, 1s);
  EXPECT_TRUE(idle.wait_closed(1s));
}

TEST(LifecycleTest, SigtermClosesConnectionsThatNeverSentARequest) {
  TempDir dir;
  auto gw = start_gateway(dir, simple_config("drain_timeout: 10s\n"));
  HttpClient silent(gw.port);
  ASSERT_TRUE(silent.connected());
  std::this_thread::sleep_for(100ms);  // accepted by a worker
  auto began = Clock::now();
  gw.process->signal(SIGTERM);
  auto code = gw.process->wait(3s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
  EXPECT_LT(Clock::now() - began, 1s);
}

TEST(LifecycleTest, ASilentNewConnectionIsClosedAfterTheHeaderTimeout) {
  TempDir dir;
  auto gw = start_gateway(dir, simple_config("limits: {header_timeout: 1s, idle_timeout: 60s}\n"));
  HttpClient silent(gw.port, 5s);
  auto began = Clock::now();
  EXPECT_TRUE(silent.wait_closed(4s));
  EXPECT_GE(Clock::now() - began, 800ms);
  EXPECT_LT(Clock::now() - began, 3s);
}

TEST(LifecycleTest, DrainDeadlineCutsStreamsThatRunTooLong) {
  TempDir dir;
  auto gw = start_gateway(dir, simple_config("drain_timeout: 1s\n"));
  HttpClient c(gw.port);
  ASSERT_TRUE(c.send("POST", "/v1/chat/completions", kSlowStream,
                     {{"x-mock-tokens-per-second", "2"}, {"x-mock-tokens", "100"}}));
  ASSERT_TRUE(c.read_head());
  auto began = Clock::now();
  gw.process->signal(SIGINT);
  auto code = gw.process->wait(5s);
  ASSERT_TRUE(code);
  EXPECT_EQ(*code, 0);
  EXPECT_GE(Clock::now() - began, 900ms);
  std::string all;
  while (auto more = c.read_body_some()) all += *more;
  EXPECT_FALSE(c.body_complete());  // cut, not faked complete
  EXPECT_EQ(all.find("[DONE]"), std::string::npos);
}

TEST(LifecycleTest, ManyConcurrentConnections) {
  TempDir dir;
  auto mock = start_mock(dir, {"--workers", "2"});
  auto gw = start_gateway(dir, R"(
providers:
  - name: up
    kind: openai
    base_url: )" + mock.base_url() +
                                   R"(
models:
  - name: m
    deployments: [{provider: up, model: upstream}]
)");
  constexpr int kThreads = 32;
  constexpr int kConnectionsPerThread = 16;  // 512 connections open at once
  constexpr int kRounds = 3;
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  std::atomic<int> connected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::unique_ptr<HttpClient>> clients;
      for (int i = 0; i < kConnectionsPerThread; ++i) {
        clients.push_back(std::make_unique<HttpClient>(gw.port, 20s));
        if (clients.back()->connected()) ++connected;
      }
      // Wait until every connection of every thread is open.
      while (connected.load() < kThreads * kConnectionsPerThread) {
        std::this_thread::sleep_for(5ms);
      }
      for (int round = 0; round < kRounds; ++round) {
        for (auto& c : clients) {
          bool stream = (t + round) % 2 == 0;
          std::string body =
              stream ? kSlowStream : R"({"model":"m","messages":[{"role":"user","content":"x"}]})";
          c->send("POST", "/v1/chat/completions", body);
        }
        for (auto& c : clients) {
          auto r = c->read_response();
          bool good = r && r->status == 200 &&
                      (r->header("content-type") == "application/json" ||
                       sse_data(r->body).back() == "[DONE]");
          (good ? ok : failed)++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(connected.load(), kThreads * kConnectionsPerThread);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(ok.load(), kThreads * kConnectionsPerThread * kRounds);
}

TEST(LifecycleTest, DefaultConfigurationWorksOffline) {
  TempDir dir;
  auto p = Process::start({sluice_binary(), "serve", "--listen", "127.0.0.1:0"},
                          dir.file("default.log").string(), {{"OPENAI_API_KEY", ""}});
  auto port = p->wait_for_port();
  ASSERT_NE(port, 0) << p->log();
  auto r = request(port, "POST", "/v1/chat/completions",
                   R"({"model":"mock","messages":[{"role":"user","content":"Hello"}]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  auto models = request(port, "GET", "/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(json::parse(models->body).at("data").as_array().size(), 1u);
}

TEST(LifecycleTest, DefaultConfigurationAddsOpenAIWhenKeyIsSet) {
  TempDir dir;
  auto p = Process::start({sluice_binary(), "serve", "--listen", "127.0.0.1:0"},
                          dir.file("default.log").string(), {{"OPENAI_API_KEY", "sk-test"}});
  auto port = p->wait_for_port();
  ASSERT_NE(port, 0) << p->log();
  auto models = request(port, "GET", "/v1/models");
  ASSERT_TRUE(models);
  std::string body = models->body;
  EXPECT_NE(body.find("\"gpt-4o-mini\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"owned_by\":\"openai\""), std::string::npos) << body;
}

TEST(LifecycleTest, TheExampleConfigurationsAreValid) {
  TempDir dir;
  // The variables the examples read their keys from.
  const std::map<std::string, std::string> env = {{"OPENAI_API_KEY", "sk-test"},
                                                  {"AZURE_OPENAI_API_KEY", "az-test"},
                                                  {"AZURE_OPENAI_RESOURCE", "example"},
                                                  {"OPENAI_KEY_A", "a"},
                                                  {"OPENAI_KEY_B", "b"},
                                                  {"OPENAI_KEY_C", "c"},
                                                  {"OPENAI_KEY_OVERFLOW", "d"},
                                                  {"SLUICE_ADMIN_KEY", "admin"}};
  for (const char* file : {"sluice.yaml", "routing/two-providers.yaml", "routing/vllm-fleet.yaml",
                           "routing/shared-rate-limits.yaml", "keys/team-gateway.yaml"}) {
    auto check = Process::start(
        {sluice_binary(), "config", "check", std::string(SLUICE_SOURCE_DIR) + "/examples/" + file},
        dir.file("check.log").string(), env);
    EXPECT_EQ(check->wait(5s), 0) << file << ": " << check->log();
  }
}

TEST(LifecycleTest, ConfigCheckReportsEveryProblemWithItsPlace) {
  TempDir dir;
  std::string good = dir.write("good.yaml", simple_config());
  std::string bad = dir.write("bad.yaml", R"(listn: 127.0.0.1:8080
providers:
  - name: x
    kind: opena
models:
  - name: m
    deployments: [{provider: nobody}]
)");
  auto ok =
      Process::start({sluice_binary(), "config", "check", good}, dir.file("good.log").string());
  EXPECT_EQ(ok->wait(5s), 0);
  EXPECT_NE(ok->log().find("good.yaml: ok"), std::string::npos);

  auto fail =
      Process::start({sluice_binary(), "config", "check", bad}, dir.file("bad.log").string());
  EXPECT_EQ(fail->wait(5s), 1);
  std::string log = fail->log();
  EXPECT_NE(log.find("bad.yaml:1:1:"), std::string::npos) << log;
  EXPECT_NE(log.find("did you mean \"listen\""), std::string::npos) << log;
  EXPECT_NE(log.find("bad.yaml:4:11:"), std::string::npos) << log;
  EXPECT_NE(log.find("nobody"), std::string::npos) << log;

  // serve refuses to start on an invalid file, with the same messages.
  auto serve =
      Process::start({sluice_binary(), "serve", "-c", bad}, dir.file("serve.log").string());
  EXPECT_EQ(serve->wait(5s), 1);
  EXPECT_NE(serve->log().find("bad.yaml:4:11:"), std::string::npos);
}

TEST(LifecycleTest, EnvironmentVariablesAreInterpolated) {
  TempDir dir;
  std::string seen;
  auto gw = start_gateway(dir, R"(
providers:
  - name: sim
    kind: mock
models:
  - name: ${MODEL_NAME:-fallback}
    deployments: [{provider: sim}]
)",
                          {{"MODEL_NAME", "from-env"}});
  auto r = request(gw.port, "GET", "/v1/models/from-env");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(LifecycleTest, AccessLogWritesOneJsonLinePerRequest) {
  TempDir dir;
  std::string log_path = dir.file("access.jsonl").string();
  auto gw =
      start_gateway(dir, simple_config("access_log: {enabled: true, path: " + log_path + "}\n"));
  ASSERT_TRUE(request(gw.port, "POST", "/v1/chat/completions",
                      R"({"model":"m","messages":[{"role":"user","content":"secret prompt"}]})"));
  ASSERT_TRUE(request(gw.port, "GET", "/nope"));
  gw.process->signal(SIGTERM);
  ASSERT_TRUE(gw.process->wait(5s));
  std::ifstream in(log_path);
  std::vector<json::object> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(json::parse(line).as_object());
  ASSERT_EQ(lines.size(), 2u);
  // Each worker logs when its request ends, so the two lines may come in either order.
  if (lines[0].at("path") != "/v1/chat/completions") std::swap(lines[0], lines[1]);
  EXPECT_EQ(lines[0].at("path"), "/v1/chat/completions");
  EXPECT_EQ(lines[0].at("status"), 200);
  EXPECT_EQ(lines[0].at("model"), "m");
  EXPECT_EQ(lines[0].at("provider"), "sim");
  EXPECT_TRUE(lines[0].at("request_id").as_string().starts_with("req_"));
  EXPECT_GT(lines[0].at("duration_ms").as_double(), 0);
  EXPECT_EQ(lines[1].at("path"), "/nope");
  EXPECT_EQ(lines[1].at("status"), 404);
  std::ifstream again(log_path);
  std::stringstream all;
  all << again.rdbuf();
  EXPECT_EQ(all.str().find("secret prompt"), std::string::npos);  // prompts never logged
}

TEST(LifecycleTest, AccessLogEscapesWhatJsonMust) {
  // The model name is the client's text: a quote, a backslash, control characters (a newline
  // would split the line), a slash and non-ASCII must come back exactly as sent.
  TempDir dir;
  std::string log_path = dir.file("access.jsonl").string();
  auto gw =
      start_gateway(dir, simple_config("access_log: {enabled: true, path: " + log_path + "}\n"));
  const std::string model = "a\"b\\c\nd\be\ff\x01g/h\xc3\xa9\xf0\x9f\x91\x8b";
  std::string body = R"({"model":)";
  body += json::serialize(json::string(model));
  body += R"(,"messages":[{"role":"user","content":"hi"}]})";
  auto r = request(gw.port, "POST", "/v1/chat/completions", body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  gw.process->signal(SIGTERM);
  ASSERT_TRUE(gw.process->wait(5s));
  std::ifstream in(log_path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), 1u);
  json::object logged = json::parse(lines[0]).as_object();
  EXPECT_EQ(logged.at("model").as_string(), model);
  EXPECT_NE(std::string_view(logged.at("error").as_string()).find(model), std::string::npos);
  // Escaped in JSON's short forms where it has them, \u00XX for the other controls.
  EXPECT_NE(lines[0].find(R"("a\"b\\c\nd\be\ff\u0001g/h)"), std::string::npos) << lines[0];
}

}  // namespace
}  // namespace sluice::testing
