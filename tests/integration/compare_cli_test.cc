// `sluice compare` through the real binary against `sluice mock`: a table with each model's
// first-token and total latency, tokens and outcome, the answers side by side, JSON on request,
// every run reaching the upstream (the cache is bypassed), and a model that fails named as failed
// with the gateway's error and exit 1.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <fstream>

#include "support/cli_run.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;

class CompareCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = start_mock(dir_, {"--first-token-delay", "150ms"});
    ASSERT_NE(mock_.port, 0);
    std::ofstream(dir_.file("sluice.yaml"))
        << "cache: {enabled: true}\nproviders:\n  - name: up\n    kind: openai\n    base_url: "
        << mock_.base_url()
        << "\nmodels:\n  - name: small\n    deployments: [{provider: up, model: mock}]\n"
           "  - name: large\n    deployments: [{provider: up, model: mock}]\n";
  }
  CliRun compare(std::vector<std::string> args) {
    args.insert(args.begin(), {"compare", "-c", dir_.file("sluice.yaml").string()});
    return sluice(dir_, args);
  }

  TempDir dir_;
  MockUpstream mock_;
};

TEST_F(CompareCliTest, ATableOfLatencyAndTokensThenTheAnswersSideBySide) {
  auto run = compare({"--models", "small,large", "--prompt", "Name a river.", "--runs", "2",
                      "--max-tokens", "20"});
  ASSERT_EQ(run.code, 0) << run.err << run.out;
  EXPECT_NE(run.out.find("first token"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("completion tok"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("2/2"), std::string::npos) << run.out;
  // The answers' columns, headed by the model names, one " | " apart.
  EXPECT_NE(run.out.find("small"), std::string::npos);
  EXPECT_NE(run.out.find(" | large"), std::string::npos) << run.out;
  // Two runs of two models, all upstream: identical requests did not come from the cache.
  EXPECT_EQ(mock_.requests(), 4);
}

TEST_F(CompareCliTest, JsonHasEveryRunWithItsTimings) {
  auto run = compare({"--models", "small,large", "--prompt", "Name a river.", "--runs", "2",
                      "--max-tokens", "20", "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  json::value v = json::parse(run.out);
  const json::array& models = v.at("models").as_array();
  ASSERT_EQ(models.size(), 2u);
  for (const json::value& m : models) {
    const json::array& runs = m.at("runs").as_array();
    ASSERT_EQ(runs.size(), 2u);
    for (const json::value& r : runs) {
      EXPECT_EQ(r.at("status").as_int64(), 200);
      double first = r.at("first_token_ms").as_double(), total = r.at("total_ms").as_double();
      EXPECT_GE(first, 140) << "the mock waits 150 ms before the first token";
      EXPECT_GE(total, first);
      EXPECT_GT(r.at("completion_tokens").as_int64(), 0);
      EXPECT_GT(r.at("prompt_tokens").as_int64(), 0);
      EXPECT_FALSE(r.at("output").as_string().empty());
    }
  }
}

TEST_F(CompareCliTest, AModelThatFailsIsShownFailedAndTheExitIsOne) {
  auto run = compare({"--models", "small,missing", "--prompt", "Hi"});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.out.find("0/1"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("(failed: HTTP 404"), std::string::npos) << run.out;
  auto none = compare({"--models", " , ", "--prompt", "Hi"});
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find("--models needs at least one model name"), std::string::npos);
}

}  // namespace
}  // namespace sluice::testing
