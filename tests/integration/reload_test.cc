// Configuration reloads end to end (docs/observability.md, "Configuration at run time"): a real
// `sluice serve` whose file is rewritten, then read again through POST /admin/reload or SIGHUP.
// New requests see the new models at once; a request in flight finishes on the snapshot it began
// with; a broken file changes nothing; a setting that needs a restart keeps its running value and
// is named; metrics keep each model's series when a reload reorders the models.
#include <gtest/gtest.h>

#include <csignal>
#include <future>
#include <thread>

#include <boost/json.hpp>

#include "support/await.h"
#include "support/fake_upstream.h"
#include "support/http_client.h"
#include "support/openai_error.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

std::string config_with(const std::string& models) {
  return R"(
providers:
  - name: sim
    kind: mock
models:
)" + models;
}

constexpr const char* kModelA = "  - {name: alpha, deployments: [{provider: sim}]}\n";
constexpr const char* kModelB = "  - {name: beta, deployments: [{provider: sim}]}\n";

std::string chat(const std::string& model) {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}]})";
}

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override { gateway_ = start_gateway(dir_, config_with(kModelA)); }

  int status_of(const std::string& model, const std::map<std::string, std::string>& headers = {}) {
    auto r = request(gateway_.port, "POST", "/v1/chat/completions", chat(model), headers);
    return r ? r->status : -1;
  }
  void rewrite(const std::string& yaml) { dir_.write("gateway.yaml", yaml); }
  std::optional<Response> reload() { return request(gateway_.port, "POST", "/admin/reload"); }

  TempDir dir_;
  Gateway gateway_;
};

TEST_F(ReloadTest, AdminReloadServesTheNewModelsAtOnce) {
  EXPECT_EQ(status_of("beta"), 404);
  rewrite(config_with(std::string(kModelA) + kModelB));
  auto r = reload();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json::object body = json::parse(r->body).as_object();
  EXPECT_EQ(body.at("reloaded"), true);
  EXPECT_EQ(body.at("version"), 2);
  EXPECT_TRUE(body.at("restart_required").as_array().empty());
  EXPECT_EQ(status_of("beta"), 200);
  EXPECT_EQ(status_of("alpha"), 200);
  auto models = request(gateway_.port, "GET", "/v1/models");
  ASSERT_TRUE(models);
  EXPECT_NE(models->body.find(R"("id":"beta")"), std::string::npos) << models->body;
}

TEST_F(ReloadTest, SighupReadsTheFileAgain) {
  rewrite(config_with(kModelB));
  gateway_.process->signal(SIGHUP);
  EXPECT_TRUE(eventually([&] { return status_of("beta") == 200; }, 5s));
  EXPECT_EQ(status_of("alpha"), 404);
  EXPECT_TRUE(gateway_.process->running());
  EXPECT_TRUE(gateway_.process->wait_for_log("configuration", 1s));
}

TEST_F(ReloadTest, ABrokenFileChangesNothing) {
  rewrite(config_with("  - {name: beta, deployments: [{provider: nowhere}]}\n"));
  auto r = reload();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  std::string message(openai_error(*r).at("message").as_string());
  EXPECT_NE(message.find("nowhere"), std::string::npos) << message;
  EXPECT_NE(message.find("unchanged"), std::string::npos) << message;
  EXPECT_EQ(status_of("alpha"), 200);
  EXPECT_EQ(status_of("beta"), 404);

  // And by SIGHUP: logged, still running, still the old models.
  gateway_.process->signal(SIGHUP);
  EXPECT_TRUE(gateway_.process->wait_for_log("was not reloaded", 5s));
  EXPECT_TRUE(gateway_.process->running());
  EXPECT_EQ(status_of("alpha"), 200);
}

TEST_F(ReloadTest, ARequestInFlightFinishesOnItsSnapshot) {
  auto slow = std::async(std::launch::async, [&] {
    return status_of("alpha", {{"x-mock-delay-ms", "1500"}});
  });
  std::this_thread::sleep_for(300ms);  // the slow request is in the routing stage
  rewrite(config_with(kModelB));
  auto r = reload();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(status_of("alpha"), 404);  // new requests see the new snapshot at once
  EXPECT_EQ(slow.get(), 200);          // the one in flight kept its own
}

TEST_F(ReloadTest, ASettingThatNeedsARestartKeepsItsRunningValue) {
  rewrite("listen: 127.0.0.1:1\ndrain_timeout: 3s\nmetrics: {enabled: false}\n" +
          config_with(std::string(kModelA) + kModelB));
  auto r = reload();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json::array kept = json::parse(r->body).at("restart_required").as_array();
  // --listen overrides the file's listen.
  EXPECT_EQ(kept, (json::array{"drain_timeout", "metrics"})) << r->body;
  EXPECT_EQ(status_of("beta"), 200);  // the rest was applied
  auto metrics = request(gateway_.port, "GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);  // still recorded and served until a restart
  EXPECT_TRUE(gateway_.process->wait_for_log("until a restart", 1s));
}

TEST_F(ReloadTest, MetricsKeepEachModelsSeriesWhenModelsAreReordered) {
  rewrite(config_with(std::string(kModelA) + kModelB));
  ASSERT_EQ(reload()->status, 200);
  EXPECT_EQ(status_of("alpha"), 200);
  rewrite(config_with(std::string(kModelB) + kModelA));
  ASSERT_EQ(reload()->status, 200);
  EXPECT_EQ(status_of("beta"), 200);
  EXPECT_EQ(status_of("beta"), 200);
  // A request is counted just after its answer is sent: poll the scrape until both are in.
  std::string text;
  auto count = [&](const std::string& model) {
    std::string needle = "sluice_requests_total{endpoint=\"chat\",model=\"" + model +
                         "\",status=\"200\",cache=\"\"} ";
    std::size_t at = text.find(needle);
    return at == std::string::npos ? -1 : std::stoi(text.substr(at + needle.size()));
  };
  eventually(
      [&] {
        auto m = request(gateway_.port, "GET", "/metrics");
        text = m ? m->body : "";
        return count("alpha") + count("beta") >= 3;
      },
      2s);
  EXPECT_EQ(count("alpha"), 1) << text;
  EXPECT_EQ(count("beta"), 2) << text;
}

// The state /admin/deployments shows for `model`'s deployment `id`: "healthy", "ejected", ...
std::string deployment_state(std::uint16_t port, const std::string& model, const std::string& id) {
  auto r = request(port, "GET", "/admin/deployments");
  if (!r || r->status != 200) return "?";
  const json::value doc = json::parse(r->body);
  for (const json::value& m : doc.at("data").as_array()) {
    if (m.at("model") != model.c_str()) continue;
    for (const json::value& d : m.at("deployments").as_array()) {
      if (d.at("id") == id.c_str()) return std::string(d.at("state").as_string());
    }
  }
  return "missing";
}

TEST(ReloadRoutingTest, AModelTheReloadLeftAloneKeepsItsEjection) {
  TempDir dir;
  const std::string dead = "http://127.0.0.1:" + std::to_string(closed_port()) + "/v1";
  auto config = [&](const std::string& extra) {
    return R"(
providers:
  - name: sim
    kind: mock
  - name: dead
    kind: openai
    base_url: )" +
           dead + R"(
models:
  - name: pair
    strategy: round-robin
    health: {outlier: {consecutive_failures: 1, base_ejection: 60s, max_ejection_percent: 50}}
    deployments: [{provider: sim}, {provider: dead)" +
           extra + R"(}]
)";
  };
  Gateway gateway = start_gateway(dir, config(""));
  for (int i = 0; i < 4; ++i) {
    request(gateway.port, "POST", "/v1/chat/completions", chat("pair"));
  }
  ASSERT_EQ(deployment_state(gateway.port, "pair", "dead/pair"), "ejected");

  // Another model added: `pair` is as it was, and so is what its deployments went through.
  dir.write("gateway.yaml", config("") + "  - {name: solo, deployments: [{provider: sim}]}\n");
  ASSERT_EQ(request(gateway.port, "POST", "/admin/reload")->status, 200);
  EXPECT_EQ(deployment_state(gateway.port, "pair", "dead/pair"), "ejected");

  // `pair` itself changed: its state starts afresh.
  dir.write("gateway.yaml", config(", weight: 2"));
  ASSERT_EQ(request(gateway.port, "POST", "/admin/reload")->status, 200);
  EXPECT_EQ(deployment_state(gateway.port, "pair", "dead/pair"), "healthy");
}

TEST_F(ReloadTest, ReloadIsPostOnly) {
  auto r = request(gateway_.port, "GET", "/admin/reload");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "POST");
}

}  // namespace
}  // namespace sluice::testing
