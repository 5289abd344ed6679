// The disk tier through real `sluice serve` processes in front of a real `sluice mock`: answers
// outlive the gateway (restart, then a disk hit promoted into memory), DELETE /admin/cache
// clears the disk as well, a damaged table file is not served, and one path serves one process.
// The mock keeps running across gateway restarts, so its request counter shows what reached the
// upstream.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/http_client.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;

const std::string kChat =
    R"({"model":"fast","messages":[{"role":"user","content":"Tell me about disks"}],"max_tokens":16})";

class CacheDiskTest : public ::testing::Test {
 protected:
  void SetUp() override { mock_ = start_mock(dir_); }

  std::string disk_path() const { return dir_.file("disk-cache").string(); }

  std::string yaml() const {
    return "cache:\n  enabled: true\n  disk: {path: " + disk_path() + R"(, max_bytes: 64MiB}
providers:
  - name: local
    kind: openai
    base_url: )" +
           mock_.base_url() +
           R"(
models:
  - name: fast
    deployments:
      - provider: local
        model: llama-3.1-8b
)";
  }

  void start() { gateway_ = start_gateway(dir_, yaml(), {}, "gateway" + std::to_string(++runs_)); }

  // SIGTERM, then the clean exit that closes the database.
  void stop() {
    gateway_.process->signal(SIGTERM);
    EXPECT_EQ(gateway_.process->wait(10s), 0) << gateway_.process->log();
  }

  void restart() {
    stop();
    start();
  }

  Response post(const std::string& body = kChat) {
    auto r = request(gateway_.port, "POST", "/v1/chat/completions", body);
    EXPECT_TRUE(r);
    return r ? *r : Response{};
  }

  json::object disk_stats() {
    auto r = request(gateway_.port, "GET", "/admin/cache");
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    return json::parse(r->body).at("tiers").at("disk").as_object();
  }

  // Disk writes happen after the response, on the tier's own threads.
  void wait_for_disk_writes(std::int64_t n) {
    auto until = std::chrono::steady_clock::now() + 5s;
    while (disk_stats().at("writes").as_int64() < n) {
      ASSERT_LT(std::chrono::steady_clock::now(), until) << "the disk tier wrote nothing";
      std::this_thread::sleep_for(20ms);
    }
  }

  TempDir dir_;
  MockUpstream mock_;
  Gateway gateway_;
  int runs_ = 0;
};

TEST_F(CacheDiskTest, AHitAfterAMissComesFromMemoryAndTheDiskReportsFigures) {
  start();
  Response first = post();
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.header("x-sluice-cache"), "miss");
  Response second = post();
  EXPECT_EQ(second.header("x-sluice-cache"), "hit");
  EXPECT_EQ(second.header("x-sluice-cache-tier"), "memory");
  wait_for_disk_writes(1);
  auto disk = disk_stats();
  EXPECT_EQ(disk.at("entries").as_int64(), 1);
  EXPECT_GT(disk.at("bytes").as_int64(), 0);
  EXPECT_EQ(disk.at("max_bytes").as_int64(), 64ll * 1024 * 1024);
  EXPECT_EQ(disk.at("misses").as_int64(), 1);  // asked after the memory miss
  EXPECT_EQ(disk.at("hits").as_int64(), 0);
  EXPECT_EQ(disk.at("write_errors").as_int64(), 0);
  EXPECT_EQ(disk.at("dropped_writes").as_int64(), 0);
  EXPECT_EQ(disk.at("writes_disabled").as_bool(), false);
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(disk_path()) / "CURRENT"));
  EXPECT_EQ(mock_.requests(), 1);
}

TEST_F(CacheDiskTest, AfterARestartTheDiskAnswersAndTheAnswerIsPromotedIntoMemory) {
  start();
  Response first = post();
  ASSERT_EQ(first.status, 200) << first.body;
  wait_for_disk_writes(1);
  restart();
  Response from_disk = post();
  EXPECT_EQ(from_disk.status, 200);
  EXPECT_EQ(from_disk.header("x-sluice-cache"), "hit");
  EXPECT_EQ(from_disk.header("x-sluice-cache-tier"), "disk");
  EXPECT_FALSE(from_disk.header("age").empty());
  EXPECT_EQ(json::parse(from_disk.body), json::parse(first.body));
  Response from_memory = post();
  EXPECT_EQ(from_memory.header("x-sluice-cache"), "hit");
  EXPECT_EQ(from_memory.header("x-sluice-cache-tier"), "memory");
  auto disk = disk_stats();
  EXPECT_EQ(disk.at("hits").as_int64(), 1);
  EXPECT_EQ(disk.at("hits_served").as_int64(), 1);
  EXPECT_EQ(mock_.requests(), 1);
}

TEST_F(CacheDiskTest, DeleteAdminCacheClearsTheDiskToo) {
  start();
  post();
  wait_for_disk_writes(1);
  auto other = request(gateway_.port, "DELETE", "/admin/cache?namespace=someone-else");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
  restart();
  EXPECT_EQ(post().header("x-sluice-cache-tier"), "disk");  // another namespace's clear
  auto all = request(gateway_.port, "DELETE", "/admin/cache");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->status, 200);
  EXPECT_EQ(post().header("x-sluice-cache"), "miss");
  wait_for_disk_writes(1);  // the fresh answer, stored again
  auto mine = request(gateway_.port, "DELETE", "/admin/cache?namespace=default");
  ASSERT_TRUE(mine);
  restart();
  EXPECT_EQ(post().header("x-sluice-cache"), "miss");
  EXPECT_EQ(mock_.requests(), 3);
}

TEST_F(CacheDiskTest, ADamagedTableFileIsNotServed) {
  start();
  Response first = post();
  ASSERT_EQ(first.status, 200);
  wait_for_disk_writes(1);
  restart();  // opening the database again moves the answer from its log into a table file
  stop();
  int damaged = 0;
  for (const auto& f : std::filesystem::directory_iterator(disk_path())) {
    if (f.path().extension() != ".sst") continue;
    // The first data block starts the file: flip bytes inside it.
    std::fstream file(f.path(), std::ios::in | std::ios::out | std::ios::binary);
    for (std::streamoff at : {40, 41, 42, 43}) {
      file.seekg(at);
      char c = 0;
      file.get(c);
      file.seekp(at);
      file.put(static_cast<char>(c ^ 0x5a));
    }
    ++damaged;
  }
  ASSERT_GT(damaged, 0);
  start();
  Response after = post();
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.header("x-sluice-cache"), "miss");
  EXPECT_EQ(json::parse(after.body).at("object"), "chat.completion");
  EXPECT_EQ(disk_stats().at("corrupt").as_int64(), 1);
  EXPECT_EQ(post().header("x-sluice-cache"), "hit");
  EXPECT_EQ(mock_.requests(), 2);
}

TEST_F(CacheDiskTest, ASecondGatewayOnTheSamePathFailsToStartAndSaysWhy) {
  start();
  try {
    start_gateway(dir_, yaml(), {}, "second");
    FAIL() << "a second gateway started on the same disk path";
  } catch (const std::runtime_error& e) {
    const std::string log = e.what();
    EXPECT_NE(log.find("cannot open the disk cache"), std::string::npos) << log;
    EXPECT_NE(log.find(disk_path()), std::string::npos) << log;
  }
  EXPECT_EQ(post().status, 200);  // the first one is unharmed
}

}  // namespace
}  // namespace sluice::testing
