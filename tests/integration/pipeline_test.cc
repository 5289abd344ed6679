// `sluice run` through the real binary against a real `sluice mock` upstream: two parallel
// branches finishing in about the time of the longer one, not the sum; every kind of step's file
// and the manifest; --dry-run sending nothing; a cycle refused with its file:line; a re-run
// answered from the cache, and a changed input recomputing only the steps that use it; a failed
// step skipping only what depends on it; Ctrl-C finishing what is in flight, writing the
// manifest, and a re-run asking only for what did not finish.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>

#include "support/await.h"
#include "support/cli_run.h"
#include "support/free_port.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A gateway configuration whose models all go to the mock at `base_url`; `extra` is appended.
std::string config_for(const std::string& base_url, const std::string& extra = "") {
  return "access_log: {enabled: false}\nproviders:\n  - name: up\n"
         "    kind: openai\n    base_url: " +
         base_url +
         "\nmodels:\n  - name: m\n    deployments: [{provider: up}]\n"
         "  - name: img\n    deployments: [{provider: up}]\n" +
         extra;
}

json::object manifest(const fs::path& dir) {
  json::value v = json::parse(slurp(dir / "manifest.json"));
  return v.as_object();
}

const json::object& step(const json::object& manifest, const std::string& name) {
  for (const json::value& s : manifest.at("steps").as_array()) {
    if (s.at("name").as_string() == name) return s.as_object();
  }
  throw std::runtime_error("no step " + name + " in the manifest");
}

TEST(PipelineTest, ParallelBranchesTakeTheLongerBranchsTimeNotTheSum) {
  TempDir dir;
  // Every answer takes 400 ms; each branch is two steps, one after the other.
  auto mock = start_mock(dir, {"--first-token-delay", "400ms", "--workers", "2"});
  ASSERT_NE(mock.port, 0);
  auto gateway = start_gateway(dir, config_for(mock.base_url()));
  ASSERT_NE(gateway.port, 0);
  std::string pipeline = dir.write("branches.yaml", R"(defaults: {model: m, retries: 0}
steps:
  - parallel:
      name: starts
      steps:
        - {name: left1, prompt: "the left branch"}
        - {name: right1, prompt: "the right branch"}
  - {name: left2, prompt: "more of {{steps.left1.output}}"}
  - {name: right2, prompt: "more of {{steps.right1.output}}"}
)");
  auto run =
      sluice(dir, {"run", pipeline, "--url", "http://127.0.0.1:" + std::to_string(gateway.port),
                   "-o", dir.file("out").string()});
  ASSERT_EQ(run.code, 0) << run.err;
  json::object m = manifest(dir.file("out"));
  EXPECT_EQ(m.at("status"), "ok");
  double took = m.at("duration_ms").as_double();
  // Each branch takes 800 ms; one after the other they would take 1600.
  EXPECT_GE(took, 790);
  EXPECT_LT(took, 1250) << "the branches did not run side by side";
  EXPECT_EQ(mock.requests(), 4);
  for (const char* name : {"left1", "right1", "left2", "right2"}) {
    EXPECT_GE(step(m, name).at("latency_ms").as_double(), 390) << name;
    EXPECT_FALSE(slurp(dir.file("out") / (std::string(name) + ".txt")).empty()) << name;
  }
  EXPECT_THAT(run.out, HasSubstr("4 of 4 steps ok"));
}

TEST(PipelineTest, EveryKindOfStepWritesItsFileAndTheManifestSaysSo) {
  TempDir dir;
  auto mock = start_mock(dir);
  ASSERT_NE(mock.port, 0);
  std::string config = dir.write("sluice.yaml", config_for(mock.base_url()));
  std::string pipeline = dir.write("kinds.yaml", R"yaml(name: kinds
inputs: {topic: null, colours: [red, green, blue]}
defaults: {model: m}
steps:
  - {name: text, system: Be brief., prompt: "A line about {{inputs.topic}}"}
  - {name: legacy, type: completion, prompt: "Once upon {{inputs.topic}}"}
  - {name: vector, type: embedding, prompt: "{{steps.text.output}}", params: {dimensions: 8}}
  - {name: cover, type: image, model: img, prompt: "{{inputs.topic}}", params: {size: 256x256}}
  - name: swatches
    foreach: "{{inputs.colours}}"
    max_workers: 2
    prompt: "Describe {{item}} (#{{index}})"
  - {name: caption, prompt: "A caption for {{steps.cover.output}}"}
)yaml");
  fs::path out = dir.file("out");
  auto run =
      sluice(dir, {"run", pipeline, "-c", config, "-o", out.string(), "--set", "topic=rivers"});
  ASSERT_EQ(run.code, 0) << run.err;

  EXPECT_FALSE(slurp(out / "text.txt").empty());
  EXPECT_FALSE(slurp(out / "legacy.txt").empty());
  json::value vectors = json::parse(slurp(out / "vector.json"));
  ASSERT_EQ(vectors.as_array().size(), 1u);
  EXPECT_EQ(vectors.at(0).as_array().size(), 8u);
  std::string png = slurp(out / "cover.png");
  ASSERT_GE(png.size(), 8u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  for (const char* item : {"swatches/001.txt", "swatches/002.txt", "swatches/003.txt"}) {
    EXPECT_FALSE(slurp(out / item).empty()) << item;
  }
  EXPECT_FALSE(fs::exists(out / "swatches" / "004.txt"));

  json::object m = manifest(out);
  EXPECT_EQ(m.at("pipeline"), "kinds");
  EXPECT_EQ(m.at("status"), "ok");
  EXPECT_EQ(m.at("inputs"), json::parse(R"({"topic":"rivers","colours":["red","green","blue"]})"));
  EXPECT_TRUE(m.at("started").as_string().ends_with("Z"));
  EXPECT_EQ(m.at("steps").as_array().size(), 6u);
  const json::object& text = step(m, "text");
  EXPECT_EQ(text.at("status"), "ok");
  EXPECT_EQ(text.at("type"), "chat");
  EXPECT_EQ(text.at("model"), "m");
  EXPECT_EQ(text.at("files"), json::parse(R"(["text.txt"])"));
  EXPECT_GT(text.at("prompt_tokens").as_int64(), 0);
  EXPECT_GT(text.at("completion_tokens").as_int64(), 0);
  EXPECT_TRUE(text.at("cache").is_null());  // the configuration has no cache
  EXPECT_EQ(text.at("request_ids").as_array().size(), 1u);
  EXPECT_TRUE(text.at("error").is_null());
  const json::object& swatches = step(m, "swatches");
  EXPECT_EQ(swatches.at("items"), 3);
  EXPECT_EQ(swatches.at("files").as_array().size(), 3u);
  EXPECT_EQ(swatches.at("request_ids").as_array().size(), 3u);
  EXPECT_EQ(step(m, "cover").at("files"), json::parse(R"(["cover.png"])"));
  EXPECT_EQ(m.at("totals").at("requests"), 8);
  EXPECT_EQ(mock.requests(), 8);
  // Progress on stderr, one line per step.
  EXPECT_THAT(run.err, HasSubstr("ok       cover ("));
  EXPECT_THAT(run.err, HasSubstr("-> cover.png"));
  EXPECT_THAT(run.err, HasSubstr("3 items, 0 from the cache"));

  // A required input left out: refused before anything is sent.
  auto missing = sluice(dir, {"run", pipeline, "-c", config, "-o", out.string()});
  EXPECT_EQ(missing.code, 1);
  EXPECT_THAT(missing.err,
              HasSubstr(pipeline + ":2: input \"topic\" is required: pass --set topic=VALUE"));
  EXPECT_EQ(mock.requests(), 8);
}

TEST(PipelineTest, DryRunPrintsThePlanAndSendsNothing) {
  TempDir dir;
  auto mock = start_mock(dir);
  ASSERT_NE(mock.port, 0);
  auto gateway = start_gateway(dir, config_for(mock.base_url()));
  ASSERT_NE(gateway.port, 0);
  std::string config = dir.write(
      "priced.yaml", "providers:\n  - {name: up, kind: openai, base_url: " + mock.base_url() +
                         "}\nmodels:\n  - name: m\n    deployments: [{provider: up, model: gpt-4o,"
                         " input_cost_per_mtok: 2, output_cost_per_mtok: 8}]\n");
  std::string pipeline = dir.write("plan.yaml", R"(defaults: {model: m}
steps:
  - {name: outline, prompt: "Three titles", params: {max_tokens: 50}}
  - parallel:
      name: drafts
      steps:
        - {name: intro, prompt: "Intro for {{steps.outline.output}}"}
        - {name: outro, prompt: "Outro for {{steps.outline.output}}"}
  - {name: sections, foreach: "{{steps.outline.output}}", prompt: "Write {{item}}"}
  - {name: review, needs: [drafts, sections], prompt: "Review it all"}
)");
  fs::path out = dir.file("out");
  for (const std::vector<std::string>& target :
       {std::vector<std::string>{"-c", config},
        std::vector<std::string>{"--url", "http://127.0.0.1:" + std::to_string(gateway.port)}}) {
    std::vector<std::string> args = {"run", pipeline, "--dry-run", "-o", out.string()};
    args.insert(args.end(), target.begin(), target.end());
    auto run = sluice(dir, args);
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_THAT(run.out, HasSubstr("5 steps in 3 waves, at most 8 requests at once"));
    EXPECT_THAT(run.out, HasSubstr("  1. outline\n"));
    EXPECT_THAT(run.out, HasSubstr("  2. intro, outro, sections ×? (foreach over "
                                   "steps.outline.output) \xE2\x80\x96 parallel\n"));
    EXPECT_THAT(run.out, HasSubstr("  3. review\n"));
    EXPECT_THAT(run.out, HasSubstr("No request was sent (--dry-run)"));
  }
  EXPECT_EQ(mock.requests(), 0);
  EXPECT_FALSE(fs::exists(out));

  // With -c the configuration's prices: outline is 50 completion tokens at 8 USD per million.
  auto priced = sluice(dir, {"run", pipeline, "--dry-run", "-c", config});
  EXPECT_THAT(priced.out, ::testing::MatchesRegex(
                              "(.|\n)*outline +chat +m +1 +[0-9]+ +50 +0\\.000[0-9]+\n(.|\n)*"));
  EXPECT_THAT(priced.out, HasSubstr("per call"));
}

TEST(PipelineTest, ACycleIsRefusedWithItsFileAndLine) {
  TempDir dir;
  auto mock = start_mock(dir);
  ASSERT_NE(mock.port, 0);
  std::string config = dir.write("sluice.yaml", config_for(mock.base_url()));
  std::string pipeline = dir.write("cycle.yaml", R"(defaults: {model: m}
steps:
  - name: a
    needs: [b]
    prompt: x
  - name: b
    prompt: "{{steps.a.output}}"
)");
  auto run = sluice(dir, {"run", pipeline, "-c", config, "-o", dir.file("out").string()});
  EXPECT_EQ(run.code, 1);
  EXPECT_THAT(run.err, HasSubstr(pipeline + ":3: the steps wait for each other in a cycle: "
                                            "a -> b -> a"));
  EXPECT_EQ(mock.requests(), 0);
  EXPECT_FALSE(fs::exists(dir.file("out") / "manifest.json"));

  // A bad template and an unknown key: every problem at once, each at its line.
  std::string bad = dir.write("bad.yaml", R"(defaults: {model: m}
steps:
  - name: a
    prompt: "about {{inputs.topic"
  - name: b
    promt: x
)");
  auto problems = sluice(dir, {"run", bad, "-c", config});
  EXPECT_EQ(problems.code, 1);
  EXPECT_THAT(problems.err, HasSubstr(bad + ":4: step \"a\": prompt: unclosed {{"));
  EXPECT_THAT(problems.err, HasSubstr(bad + ":6: step \"b\": unknown key \"promt\""));
  EXPECT_EQ(mock.requests(), 0);
}

TEST(PipelineTest, AReRunIsAnsweredFromTheCacheAndRecomputesOnlyWhatChanged) {
  TempDir dir;
  auto mock = start_mock(dir);
  ASSERT_NE(mock.port, 0);
  std::string config = dir.write(
      "sluice.yaml", config_for(mock.base_url(),
                                "cache:\n  enabled: true\n  endpoints: [chat, embeddings, "
                                "images]\n  disk: {path: " +
                                    dir.file("cache").string() + "}\n"));
  std::string pipeline = dir.write("cached.yaml", R"(inputs: {topic: rivers}
defaults: {model: m, params: {temperature: 0}}
steps:
  - {name: fixed, prompt: "A fixed question"}
  - {name: topical, prompt: "About {{inputs.topic}}"}
  - {name: both, prompt: "{{steps.fixed.output}} and {{steps.topical.output}}"}
  - {name: cover, type: image, model: img, prompt: "A cover"}
  - {name: fan, foreach: [one, two], prompt: "{{item}}"}
)");
  fs::path out = dir.file("out");
  auto first = sluice(dir, {"run", pipeline, "-c", config, "-o", out.string()});
  ASSERT_EQ(first.code, 0) << first.err;
  json::object m1 = manifest(out);
  EXPECT_EQ(step(m1, "fixed").at("cache"), "miss");
  std::int64_t sent = mock.requests();
  EXPECT_EQ(sent, 6);
  std::string both_before = slurp(out / "both.txt");

  auto second = sluice(dir, {"run", pipeline, "-c", config, "-o", out.string()});
  ASSERT_EQ(second.code, 0) << second.err;
  json::object m2 = manifest(out);
  for (const char* name : {"fixed", "topical", "both", "cover", "fan"}) {
    EXPECT_EQ(step(m2, name).at("cache"), "hit") << name;
    EXPECT_EQ(step(m2, name).at("cost_usd").as_double(), 0) << name;
  }
  EXPECT_EQ(step(m2, "fan").at("cache_hits"), 2);
  EXPECT_EQ(m2.at("totals").at("cache_hits"), 6);
  EXPECT_EQ(mock.requests(), sent) << "nothing reached the upstream";
  EXPECT_EQ(slurp(out / "both.txt"), both_before);
  EXPECT_THAT(second.out, HasSubstr("6 answers from the cache"));

  // A new topic: what uses it (directly or through an output) is recomputed, the rest is not.
  auto third =
      sluice(dir, {"run", pipeline, "-c", config, "-o", out.string(), "--set", "topic=lakes"});
  ASSERT_EQ(third.code, 0) << third.err;
  json::object m3 = manifest(out);
  EXPECT_EQ(step(m3, "fixed").at("cache"), "hit");
  EXPECT_EQ(step(m3, "cover").at("cache"), "hit");
  EXPECT_EQ(step(m3, "topical").at("cache"), "miss");
  EXPECT_EQ(step(m3, "both").at("cache"), "miss");
  EXPECT_EQ(mock.requests(), sent + 2);
}

TEST(PipelineTest, AnInterruptWritesTheManifestAndAReRunAsksOnlyForWhatDidNotFinish) {
  TempDir dir;
  auto mock = start_mock(dir, {"--first-token-delay", "500ms"});
  ASSERT_NE(mock.port, 0);
  std::string config = dir.write(
      "sluice.yaml", config_for(mock.base_url(), "cache:\n  enabled: true\n  disk: {path: " +
                                                     dir.file("cache").string() + "}\n"));
  std::string pipeline = dir.write("chain.yaml", R"(defaults: {model: m, params: {temperature: 0}}
steps:
  - {name: first, prompt: "One"}
  - {name: second, prompt: "Two after {{steps.first.output}}"}
  - {name: third, prompt: "Three after {{steps.second.output}}"}
  - {name: fourth, prompt: "Four after {{steps.third.output}}"}
)");
  fs::path out = dir.file("out");
  auto run = Process::start({sluice_binary(), "run", pipeline, "-c", config, "-o", out.string()},
                            dir.file("run.log").string());
  ASSERT_TRUE(eventually([&] { return fs::exists(out / "first.txt"); }, 20s)) << run->log();
  run->signal(SIGINT);
  EXPECT_EQ(run->wait(10s), 130) << run->log();
  EXPECT_THAT(run->log(), HasSubstr("interrupted"));
  json::object m = manifest(out);
  EXPECT_EQ(m.at("status"), "interrupted");
  EXPECT_EQ(step(m, "first").at("status"), "ok");
  // The step in flight when the signal came finished; nothing after it was sent.
  EXPECT_EQ(step(m, "second").at("status"), "ok");
  EXPECT_FALSE(slurp(out / "second.txt").empty());
  EXPECT_EQ(step(m, "third").at("status"), "skipped");
  EXPECT_EQ(step(m, "third").at("error"), "not run: the run was interrupted");
  EXPECT_EQ(step(m, "fourth").at("status"), "skipped");
  const std::int64_t sent = mock.requests();
  EXPECT_EQ(sent, 2);

  auto again = sluice(dir, {"run", pipeline, "-c", config, "-o", out.string()});
  ASSERT_EQ(again.code, 0) << again.err;
  json::object m2 = manifest(out);
  EXPECT_EQ(m2.at("status"), "ok");
  EXPECT_EQ(step(m2, "first").at("cache"), "hit");
  EXPECT_EQ(step(m2, "second").at("cache"), "hit");
  EXPECT_EQ(mock.requests(), sent + 2) << "only third and fourth reached the upstream";
}

TEST(PipelineTest, AFailedStepSkipsWhatDependsOnItAndTheRunExits1) {
  TempDir dir;
  auto mock = start_mock(dir);
  ASSERT_NE(mock.port, 0);
  // "dead" goes to a port nothing listens on.
  std::string config = dir.write(
      "sluice.yaml",
      "log_level: warn\naccess_log: {enabled: false}\nproviders:\n"
      "  - {name: up, kind: openai, base_url: " +
          mock.base_url() + "}\n  - {name: nowhere, kind: openai, base_url: \"http://127.0.0.1:" +
          std::to_string(free_port()) +
          "/v1\"}\nmodels:\n  - {name: m, deployments: [{provider: up}]}\n"
          "  - {name: dead, deployments: [{provider: nowhere}]}\n");
  std::string pipeline = dir.write("fails.yaml", R"(defaults: {model: m, retries: 1}
steps:
  - {name: broken, model: dead, prompt: x}
  - {name: child, prompt: "{{steps.broken.output}}"}
  - {name: fine, prompt: "unrelated"}
)");
  fs::path out = dir.file("out");
  auto run = sluice(dir, {"run", pipeline, "-c", config, "-o", out.string()});
  EXPECT_EQ(run.code, 1);
  json::object m = manifest(out);
  EXPECT_EQ(m.at("status"), "failed");
  const json::object& broken = step(m, "broken");
  EXPECT_EQ(broken.at("status"), "failed");
  EXPECT_EQ(broken.at("attempts"), 2);
  EXPECT_THAT(std::string(broken.at("error").as_string()), HasSubstr("HTTP 502"));
  EXPECT_EQ(step(m, "child").at("status"), "skipped");
  EXPECT_EQ(step(m, "child").at("error"), "not run: it waits for broken, which failed");
  EXPECT_EQ(step(m, "fine").at("status"), "ok");
  EXPECT_FALSE(fs::exists(out / "broken.txt"));
  EXPECT_FALSE(fs::exists(out / "child.txt"));
  EXPECT_TRUE(fs::exists(out / "fine.txt"));
  EXPECT_THAT(run.err, HasSubstr("failed   broken: HTTP 502"));
  EXPECT_THAT(run.out, HasSubstr("1 of 3 steps ok, 1 failed, 1 skipped"));
}

// The example docs/pipelines.md walks through, with its offline configuration, as a user runs it
// (the configuration's cache moved into the test's directory).
TEST(PipelineTest, TheExampleRunsOfflineAndAgainFromTheCache) {
  TempDir dir;
  std::string source = SLUICE_SOURCE_DIR;
  std::string config = slurp(source + "/examples/pipeline-offline.yaml");
  auto at = config.find("./sluice-cache");
  ASSERT_NE(at, std::string::npos);
  config.replace(at, std::string("./sluice-cache").size(), dir.file("cache").string());
  std::string config_path = dir.write("offline.yaml", config);
  std::string pipeline = source + "/examples/pipeline.yaml";
  fs::path out = dir.file("out");

  auto plan = sluice(dir, {"run", pipeline, "-c", config_path, "--dry-run"});
  ASSERT_EQ(plan.code, 0) << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("1. outline, cover, pitches ×3 (foreach over inputs.audiences)"));
  EXPECT_THAT(plan.out, HasSubstr("Total: 0.00"));

  auto first = sluice(dir, {"run", pipeline, "-c", config_path, "-o", out.string()});
  ASSERT_EQ(first.code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("6 of 6 steps ok"));
  for (const char* file : {"outline.txt", "intro.txt", "cover.png", "sections/001.txt",
                           "pitches/003.txt", "review.txt", "manifest.json"}) {
    EXPECT_TRUE(fs::exists(out / file)) << file;
  }
  auto second = sluice(dir, {"run", pipeline, "-c", config_path, "-o", out.string()});
  ASSERT_EQ(second.code, 0) << second.err;
  json::object m = manifest(out);
  EXPECT_EQ(m.at("totals").at("cache_hits"), m.at("totals").at("requests"));
  EXPECT_EQ(m.at("totals").at("requests"), 8);
}

}  // namespace
}  // namespace sluice::testing
