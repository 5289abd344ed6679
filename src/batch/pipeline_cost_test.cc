#include "batch/pipeline_cost.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "config/loader.h"
#include "tokenizer/prompt_tokens.h"

namespace sluice::batch {
namespace {

namespace json = boost::json;

// "fast" is priced by its deployment; its upstream name picks the tokenizer's encoding.
config::Config priced_config() {
  return config::load_yaml(R"(providers:
  - {name: sim, kind: mock}
models:
  - name: fast
    deployments:
      - {provider: sim, model: gpt-4o, input_cost_per_mtok: 1.0, output_cost_per_mtok: 2.0}
  - name: "cheap-*"
    deployments:
      - {provider: sim, input_cost_per_mtok: 0.5, output_cost_per_mtok: 0.5}
)",
                           "sluice.yaml");
}

std::int64_t chat_tokens(const std::string& model, const std::string& prompt) {
  json::array messages{json::object{{"role", "user"}, {"content", prompt}}};
  auto t = tokenizer::count_prompt_tokens(model, messages);
  EXPECT_TRUE(t.exact);
  return static_cast<std::int64_t>(t.tokens);
}

TEST(PipelineCostTest, PricesComeFromTheConfigurationThenTheListPrices) {
  config::Config config = priced_config();
  auto fast = model_price(config, "fast");
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->input, 1.0);
  EXPECT_EQ(fast->output, 2.0);
  auto pattern = model_price(config, "cheap-one");
  ASSERT_TRUE(pattern);
  EXPECT_EQ(pattern->input, 0.5);
  // Not configured: OpenAI's list price, when the name is a known model.
  auto listed = model_price(config, "gpt-4o-mini");
  ASSERT_TRUE(listed);
  EXPECT_EQ(listed->input, config::list_price("gpt-4o-mini")->input);
  EXPECT_FALSE(model_price(config, "no-such-model"));
  EXPECT_DOUBLE_EQ(cost_usd(*fast, 1000000, 500000), 2.0);
}

TEST(PipelineCostTest, EstimatesEveryStepBeforeTheRun) {
  Plan plan = build_plan(parse_pipeline(R"(inputs: {topic: rivers}
defaults: {model: fast}
steps:
  - {name: a, prompt: "About {{inputs.topic}}", params: {max_tokens: 100}}
  - {name: b, foreach: [x, y], prompt: "Item {{item}}"}
  - {name: c, foreach: "{{steps.a.output}}", prompt: "Write {{item}}"}
  - {name: pic, type: image, prompt: a river}
  - {name: emb, type: embedding, model: cheap-e, prompt: "{{inputs.topic}}"}
  - {name: unknown, model: no-such-model, prompt: hi}
)",
                                        "p.yaml"));
  CostEstimate e = estimate_cost(plan, priced_config());
  ASSERT_EQ(e.steps.size(), 6u);

  const StepEstimate& a = e.steps[0];
  EXPECT_EQ(a.calls, 1u);
  EXPECT_EQ(a.prompt_tokens, chat_tokens("gpt-4o", "About rivers"));
  EXPECT_TRUE(a.exact_tokens);
  EXPECT_EQ(a.completion_tokens, 100);  // its max_tokens
  ASSERT_TRUE(a.cost_usd);
  EXPECT_DOUBLE_EQ(*a.cost_usd, (a.prompt_tokens * 1.0 + 100 * 2.0) / 1e6);

  const StepEstimate& b = e.steps[1];
  EXPECT_EQ(b.calls, 2u);
  EXPECT_EQ(b.prompt_tokens, chat_tokens("gpt-4o", "Item x") + chat_tokens("gpt-4o", "Item y"));
  EXPECT_EQ(b.completion_tokens, 2 * kDefaultCompletionTokens);

  // A list an earlier step makes: per call, its item and a's output estimated.
  const StepEstimate& c = e.steps[2];
  EXPECT_FALSE(c.calls);
  EXPECT_FALSE(c.exact_tokens);
  EXPECT_EQ(c.prompt_tokens, chat_tokens("gpt-4o", "Write ") + kUnknownItemTokens);
  EXPECT_EQ(c.completion_tokens, kDefaultCompletionTokens);
  ASSERT_TRUE(c.cost_usd);

  EXPECT_FALSE(e.steps[3].cost_usd) << "images are not priced per token";
  EXPECT_EQ(e.steps[4].completion_tokens, 0) << "an embedding has no completion";
  ASSERT_TRUE(e.steps[4].cost_usd);
  EXPECT_FALSE(e.steps[5].cost_usd);

  EXPECT_DOUBLE_EQ(e.known_usd, *a.cost_usd + *b.cost_usd + *e.steps[4].cost_usd);
}

TEST(PipelineCostTest, AnEarlierOutputCountsAsItsCompletionEstimate) {
  Plan plan = build_plan(parse_pipeline(R"(defaults: {model: fast}
steps:
  - {name: a, prompt: x, params: {max_tokens: 50}}
  - {name: b, prompt: "Use {{steps.a.output}}"}
)",
                                        "p.yaml"));
  CostEstimate e = estimate_cost(plan, priced_config());
  EXPECT_EQ(e.steps[1].prompt_tokens, chat_tokens("gpt-4o", "Use ") + 50);
  EXPECT_FALSE(e.steps[1].exact_tokens);
}

}  // namespace
}  // namespace sluice::batch
