#include "batch/pipeline_output.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <fstream>
#include <sstream>

#include "support/temp_dir.h"

namespace sluice::batch {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ItemResult item(std::string file, std::string content, std::string cache = "miss") {
  ItemResult r;
  r.ok = true;
  r.file = std::move(file);
  r.output = content;
  r.content = std::move(content);
  r.cache = std::move(cache);
  r.attempts = 1;
  r.prompt_tokens = 5;
  r.completion_tokens = 7;
  r.cost_usd = 0.25;
  r.request_ids = {"id-" + r.file};
  return r;
}

class PipelineOutputTest : public ::testing::Test {
 protected:
  Plan plan_ = build_plan(parse_pipeline(R"(name: demo
inputs: {topic: rivers, tags: [a, b]}
defaults: {model: m}
steps:
  - {name: one, prompt: x}
  - {name: many, foreach: [p, q], prompt: "{{item}}"}
  - {name: broken, prompt: x}
  - {name: after, prompt: "{{steps.broken.output}}"}
)",
                                         "demo.yaml"));
  testing::TempDir dir_;
};

TEST_F(PipelineOutputTest, WritesEachStepsFilesAndReplacesAnEarlierRuns) {
  OutputDir out(dir_.path() / "run");
  ASSERT_TRUE(out.create());
  // An earlier run left a longer foreach and a file of another type under the same names.
  std::ofstream(dir_.path() / "run" / "one.json") << "old";
  fs::create_directories(dir_.path() / "run" / "many");
  std::ofstream(dir_.path() / "run" / "many" / "003.txt") << "old";

  StepResult one;
  one.status = StepStatus::kOk;
  one.items = {item("one.txt", "first answer")};
  ASSERT_TRUE(out.write_step(plan_.spec.steps[0], one));
  StepResult many;
  many.status = StepStatus::kOk;
  many.items = {item("many/001.txt", "P"), item("many/002.txt", "Q")};
  ASSERT_TRUE(out.write_step(plan_.spec.steps[1], many));

  EXPECT_EQ(slurp(dir_.path() / "run" / "one.txt"), "first answer");
  EXPECT_FALSE(fs::exists(dir_.path() / "run" / "one.json"));
  EXPECT_EQ(slurp(dir_.path() / "run" / "many" / "001.txt"), "P");
  EXPECT_EQ(slurp(dir_.path() / "run" / "many" / "002.txt"), "Q");
  EXPECT_FALSE(fs::exists(dir_.path() / "run" / "many" / "003.txt"));

  // A step that fails this time leaves no output from the last time.
  StepResult failed;
  failed.status = StepStatus::kFailed;
  failed.items.resize(1);
  ASSERT_TRUE(out.write_step(plan_.spec.steps[0], failed));
  EXPECT_FALSE(fs::exists(dir_.path() / "run" / "one.txt"));
}

TEST_F(PipelineOutputTest, TheManifestSaysWhatRanAndHowItWent) {
  RunResult r;
  r.started_unix_ms = 1767225600000;  // 2026-01-01T00:00:00Z
  r.finished_unix_ms = 1767225601500;
  r.duration_ms = 1500.04;
  r.steps.resize(4);
  r.steps[0].status = StepStatus::kOk;
  r.steps[0].items = {item("one.txt", "a", "hit")};
  r.steps[0].items[0].cost_usd = 0;
  r.steps[0].started_ms = 0;
  r.steps[0].finished_ms = 120.5;
  r.steps[1].status = StepStatus::kOk;
  r.steps[1].items = {item("many/001.txt", "P", "hit"), item("many/002.txt", "Q", "miss")};
  r.steps[1].started_ms = 10;
  r.steps[1].finished_ms = 20;
  r.steps[2].status = StepStatus::kFailed;
  r.steps[2].items.resize(1);
  r.steps[2].items[0].attempts = 3;
  r.steps[2].items[0].cache = "";
  r.steps[2].error = "HTTP 500: boom (after 3 attempts)";
  r.steps[2].started_ms = 0;
  r.steps[2].finished_ms = 30;
  r.steps[3].error = "not run: it waits for broken, which failed";

  OutputDir out(dir_.path());
  ASSERT_TRUE(out.write_manifest(plan_, r));
  EXPECT_FALSE(fs::exists(dir_.path() / "manifest.json.tmp"));
  json::value m = json::parse(slurp(dir_.path() / "manifest.json"));
  EXPECT_EQ(m.at("pipeline"), "demo");
  EXPECT_EQ(m.at("file"), "demo.yaml");
  EXPECT_EQ(m.at("status"), "failed");
  EXPECT_EQ(m.at("inputs"), json::parse(R"({"topic":"rivers","tags":["a","b"]})"));
  EXPECT_EQ(m.at("started"), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(m.at("finished"), "2026-01-01T00:00:01.500Z");
  EXPECT_EQ(m.at("duration_ms").as_double(), 1500.0);
  EXPECT_EQ(m.at("totals"), json::parse(R"({"prompt_tokens":15,"completion_tokens":21,)"
                                        R"("cost_usd":5E-1,"requests":6,"cache_hits":2})"));

  const json::array& steps = m.at("steps").as_array();
  ASSERT_EQ(steps.size(), 4u);
  EXPECT_EQ(steps[0], json::parse(R"({"name":"one","type":"chat","model":"m","status":"ok",)"
                                  R"("files":["one.txt"],"prompt_tokens":5,)"
                                  R"("completion_tokens":7,"cost_usd":0E0,"cache":"hit",)"
                                  R"("latency_ms":1.205E2,"attempts":1,)"
                                  R"("request_ids":["id-one.txt"],"error":null})"));
  EXPECT_EQ(steps[1].at("files"), json::parse(R"(["many/001.txt","many/002.txt"])"));
  EXPECT_EQ(steps[1].at("items"), 2);
  EXPECT_EQ(steps[1].at("cache_hits"), 1);
  EXPECT_EQ(steps[1].at("cache"), "mixed");
  EXPECT_EQ(steps[2].at("status"), "failed");
  EXPECT_EQ(steps[2].at("files"), json::array());
  EXPECT_EQ(steps[2].at("attempts"), 3);
  EXPECT_TRUE(steps[2].at("cache").is_null());
  EXPECT_EQ(steps[2].at("error"), "HTTP 500: boom (after 3 attempts)");
  EXPECT_EQ(steps[3].at("status"), "skipped");
  EXPECT_EQ(steps[3].at("latency_ms").as_double(), 0.0);
  EXPECT_EQ(steps[3].at("error"), "not run: it waits for broken, which failed");
}

TEST_F(PipelineOutputTest, AnUnwritableDirectoryIsAnErrorNamingIt) {
  std::string file = dir_.write("plain-file", "x");
  OutputDir out(fs::path(file) / "sub");
  auto created = out.create();
  ASSERT_FALSE(created);
  EXPECT_THAT(created.error().message, ::testing::HasSubstr("plain-file/sub: cannot create"));
}

}  // namespace
}  // namespace sluice::batch
