// GET /admin/profile/cpu end to end (docs/observability.md, "CPU profiles"): a real `sluice
// serve` with two workers in front of a real `sluice mock`, profiled for two seconds while a
// client keeps sending traffic. The answer must be a gperftools CPU profile that google-pprof
// reads and that names Sluice's own functions; a second profile meanwhile is refused with 409;
// bad durations, methods and keys get their errors; a client that leaves stops the profile.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <future>
#include <thread>

#include "support/command.h"
#include "support/http_client.h"
#include "support/openai_error.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kAdminKey[] = "sk-admin-profile";

std::string gateway_yaml(const MockUpstream& mock) {
  return R"(
workers: 2
providers:
  - name: local
    kind: openai
    base_url: )" +
         mock.base_url() + R"(
models:
  - name: fast
    deployments:
      - provider: local
        model: llama-3.1-8b
)";
}

// The words of a profile's header: gperftools' legacy CPU format starts with the header count
// (0), the header's length in words (3), the format version (0), the sampling period in
// microseconds, and a padding word (0), each a machine word.
std::vector<std::uint64_t> header_words(const std::string& profile) {
  std::vector<std::uint64_t> words(5);
  if (profile.size() < words.size() * sizeof(std::uint64_t)) return {};
  std::memcpy(words.data(), profile.data(), words.size() * sizeof(std::uint64_t));
  return words;
}

class ProfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = start_mock(dir_);
    gateway_ = start_gateway(dir_, gateway_yaml(mock_));
    ASSERT_NE(gateway_.port, 0) << gateway_.process->log();
  }

  // Sends chat requests one after another until `stop`; returns how many were answered 200.
  int send_traffic(const std::atomic<bool>& stop) {
    int ok = 0;
    for (auto deadline = Clock::now() + 30s; !stop && Clock::now() < deadline;) {
      auto r = request(gateway_.port, "POST", "/v1/chat/completions",
                       R"({"model":"fast","messages":[{"role":"user","content":"hi"}],)"
                       R"("max_tokens":16})");
      if (r && r->status == 200) ++ok;
    }
    return ok;
  }

  TempDir dir_;
  MockUpstream mock_;
  Gateway gateway_;
};

TEST_F(ProfileTest, AProfileTakenUnderLoadNamesSluicesFunctions) {
  std::atomic<bool> stop{false};
  auto traffic = std::async(std::launch::async, [&] { return send_traffic(stop); });
  auto started = Clock::now();
  auto profile = std::async(std::launch::async, [&] {
    return request(gateway_.port, "GET", "/admin/profile/cpu?seconds=2", {}, {}, 20s);
  });

  // While it runs: a second one is refused, and the gateway answers other requests.
  std::this_thread::sleep_for(700ms);
  auto second = request(gateway_.port, "GET", "/admin/profile/cpu?seconds=1");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 409) << second->body;
  EXPECT_EQ(openai_error(*second).at("code"), "conflict");
  auto health = request(gateway_.port, "GET", "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  auto r = profile.get();
  auto elapsed = Clock::now() - started;
  stop = true;
  int answered = traffic.get();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_GE(elapsed, 2s);
  EXPECT_GT(answered, 0);
  EXPECT_EQ(r->header("content-type"), "application/octet-stream");
  EXPECT_EQ(r->header("content-disposition"), R"(attachment; filename="sluice.cpu.prof")");
  EXPECT_EQ(header_words(r->body), (std::vector<std::uint64_t>{0, 3, 0, 10000, 0}))
      << "not a gperftools CPU profile at 100 Hz";

  std::string path = dir_.write("sluice.cpu.prof", r->body);
  CommandResult text = run_command("google-pprof --text " + sluice_binary() + " " + path);
  ASSERT_EQ(text.status, 0) << text.output;
  EXPECT_NE(text.output.find("Total: "), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("sluice::"), std::string::npos)
      << "no Sluice function in the profile:\n"
      << text.output;
}

TEST_F(ProfileTest, BadDurationsAndMethodsAreRefused) {
  for (const char* bad : {"0", "abc", "61", "", "1.5", "-1", "10s"}) {
    auto r = request(gateway_.port, "GET", std::string("/admin/profile/cpu?seconds=") + bad);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad;
    auto error = openai_error(*r);
    EXPECT_EQ(error.at("param"), "seconds") << bad;
    EXPECT_NE(std::string(error.at("message").as_string()).find("from 1 to 60"), std::string::npos)
        << error.at("message");
  }
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    auto r = request(gateway_.port, method, "/admin/profile/cpu?seconds=1");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 405) << method;
    EXPECT_EQ(r->header("allow"), "GET") << method;
  }
}

TEST_F(ProfileTest, AClientThatLeavesStopsTheProfile) {
  HttpClient client(gateway_.port);
  ASSERT_TRUE(client.send("GET", "/admin/profile/cpu?seconds=60"));
  std::this_thread::sleep_for(500ms);
  auto busy = request(gateway_.port, "GET", "/admin/profile/cpu?seconds=1");
  ASSERT_TRUE(busy);
  EXPECT_EQ(busy->status, 409);
  client.close();
  // The profile that was left is stopped at once, not after its 60 s: a new one may start.
  std::optional<Response> next;
  for (auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    next = request(gateway_.port, "GET", "/admin/profile/cpu?seconds=1");
    if (!next || next->status != 409) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200) << next->body;
  EXPECT_EQ(header_words(next->body).size(), 5u);
}

TEST(ProfileAuthTest, TheAdminKeyIsNeededWhenConfigured) {
  TempDir dir;
  MockUpstream mock = start_mock(dir);
  Gateway gateway = start_gateway(dir, gateway_yaml(mock), {{"SLUICE_ADMIN_KEY", kAdminKey}});
  ASSERT_NE(gateway.port, 0) << gateway.process->log();
  auto none = request(gateway.port, "GET", "/admin/profile/cpu?seconds=1");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(openai_error(*none).at("type"), "authentication_error");
  auto wrong = request(gateway.port, "GET", "/admin/profile/cpu?seconds=1", {},
                       {{"authorization", "Bearer sk-admin-wrong"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto r = request(gateway.port, "GET", "/admin/profile/cpu?seconds=1", {},
                   {{"authorization", std::string("Bearer ") + kAdminKey}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(header_words(r->body), (std::vector<std::uint64_t>{0, 3, 0, 10000, 0}));
}

}  // namespace
}  // namespace sluice::testing
