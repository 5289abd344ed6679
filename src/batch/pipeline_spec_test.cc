#include "batch/pipeline_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/temp_dir.h"

namespace sluice::batch {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The shape docs/pipelines.md documents.
constexpr const char* kArticle = R"(name: article
inputs:
  topic: rivers
defaults:
  model: fast
  timeout: 60s
  retries: 2
max_workers: 8
steps:
  - name: outline
    type: chat
    system: You write tight outlines.
    prompt: "Five section titles for an article about {{inputs.topic}}, one per line."
    params: {temperature: 0.2, max_tokens: 200}
  - parallel:
      name: drafts
      steps:
        - name: intro
          prompt: "Write an intro for: {{steps.outline.output}}"
        - name: cover
          type: image
          prompt: "A cover illustration for an article about {{inputs.topic}}"
          params: {size: 256x256}
  - name: sections
    foreach: "{{steps.outline.output}}"
    max_workers: 4
    prompt: "Write the section titled {{item}}."
  - name: review
    needs: [drafts, sections]
    prompt: "Review: {{steps.intro.output}} {{steps.sections.output}}"
)";

// The problems of `yaml`, or none when it parses.
std::vector<std::string> problems(const std::string& yaml, const InputOverrides& overrides = {}) {
  try {
    parse_pipeline(yaml, "p.yaml", overrides);
  } catch (const PipelineError& e) {
    return e.problems();
  }
  return {};
}

std::string only_problem(const std::string& yaml, const InputOverrides& overrides = {}) {
  auto p = problems(yaml, overrides);
  EXPECT_EQ(p.size(), 1u) << ::testing::PrintToString(p);
  return p.empty() ? std::string() : p.front();
}

TEST(PipelineSpecTest, ReadsTheDocumentedShape) {
  PipelineSpec spec = parse_pipeline(kArticle, "article.yaml");
  EXPECT_EQ(spec.name, "article");
  EXPECT_EQ(spec.max_workers, 8);
  ASSERT_EQ(spec.inputs.size(), 1u);
  EXPECT_EQ(spec.inputs[0].name, "topic");
  EXPECT_EQ(spec.inputs[0].text, "rivers");
  EXPECT_EQ(spec.inputs[0].line, 3);

  ASSERT_EQ(spec.steps.size(), 5u);
  std::vector<std::string> names;
  for (const StepSpec& s : spec.steps) names.push_back(s.name);
  EXPECT_THAT(names, ElementsAre("outline", "intro", "cover", "sections", "review"));

  const StepSpec& outline = spec.steps[0];
  EXPECT_EQ(outline.line, 10);
  EXPECT_EQ(outline.type, StepType::kChat);
  EXPECT_EQ(outline.model, "fast");
  ASSERT_TRUE(outline.system);
  EXPECT_EQ(outline.system->source, "You write tight outlines.");
  EXPECT_EQ(outline.prompt_line, 13);
  // YAML numbers become JSON numbers, in the order written.
  ASSERT_EQ(outline.params.size(), 2u);
  EXPECT_EQ(outline.params.begin()->key(), "temperature");
  EXPECT_EQ(outline.params.at("temperature").as_double(), 0.2);
  EXPECT_EQ(outline.params.at("max_tokens").as_int64(), 200);
  EXPECT_EQ(outline.timeout, std::chrono::seconds(60));
  EXPECT_EQ(outline.retries, 2);
  EXPECT_TRUE(outline.group.empty());

  const StepSpec& cover = spec.steps[2];
  EXPECT_EQ(cover.type, StepType::kImage);
  EXPECT_EQ(cover.group, "drafts");
  EXPECT_EQ(cover.params.at("size"), "256x256");
  ASSERT_EQ(spec.groups.size(), 1u);
  EXPECT_EQ(spec.groups[0].name, "drafts");
  EXPECT_THAT(spec.groups[0].members, ElementsAre("intro", "cover"));

  const StepSpec& sections = spec.steps[3];
  ASSERT_TRUE(sections.foreach);
  EXPECT_FALSE(sections.foreach->literal);
  EXPECT_EQ(sections.foreach->source.sole_reference()->text, "outline");
  EXPECT_EQ(sections.max_workers, 4);
  EXPECT_THAT(spec.steps[4].needs, ElementsAre("drafts", "sections"));
}

TEST(PipelineSpecTest, DefaultsAndTheirOverrides) {
  PipelineSpec spec = parse_pipeline(R"(steps:
  - name: a
    model: m
    prompt: hi
  - name: b
    model: m
    prompt: hi
    timeout: 5s
    retries: 0
    type: embedding
)",
                                     "dir/simple.yaml");
  EXPECT_EQ(spec.name, "simple");  // the file's name when `name:` is left out
  EXPECT_EQ(spec.max_workers, kDefaultMaxWorkers);
  EXPECT_EQ(spec.steps[0].timeout, kDefaultStepTimeout);
  EXPECT_EQ(spec.steps[0].retries, kDefaultRetries);
  EXPECT_EQ(spec.steps[1].timeout, std::chrono::seconds(5));
  EXPECT_EQ(spec.steps[1].retries, 0);
  EXPECT_EQ(step_target(spec.steps[1].type), "/v1/embeddings");
}

TEST(PipelineSpecTest, DefaultParamsApplyToTextStepsAndStepParamsWin) {
  PipelineSpec spec = parse_pipeline(R"(defaults:
  model: m
  params: {temperature: 0, seed: 7}
steps:
  - name: a
    prompt: hi
    params: {temperature: 0.5, stop: "0.5", flag: true, none: null}
  - name: img
    type: image
    prompt: a cat
)",
                                     "p.yaml");
  const boost::json::object& params = spec.steps[0].params;
  std::vector<std::string> keys;
  for (const auto& kv : params) keys.emplace_back(kv.key());
  EXPECT_THAT(keys, ElementsAre("temperature", "seed", "stop", "flag", "none"));
  EXPECT_EQ(params.at("temperature").as_double(), 0.5);
  EXPECT_EQ(params.at("seed").as_int64(), 7);
  EXPECT_EQ(params.at("stop").as_string(), "0.5");  // quoted: a string
  EXPECT_EQ(params.at("flag").as_bool(), true);
  EXPECT_TRUE(params.at("none").is_null());
  EXPECT_TRUE(spec.steps[1].params.empty());
}

TEST(PipelineSpecTest, ListInputsAndOverrides) {
  const std::string yaml = R"(inputs:
  topic: null
  tags: [a, b, c]
defaults: {model: m}
steps:
  - name: a
    prompt: "{{inputs.topic}}"
)";
  EXPECT_EQ(only_problem(yaml), "p.yaml:2: input \"topic\" is required: pass --set topic=VALUE");
  PipelineSpec spec = parse_pipeline(yaml, "p.yaml", {{"topic", "lakes"}});
  EXPECT_EQ(spec.find_input("topic")->text, "lakes");
  const Input* tags = spec.find_input("tags");
  ASSERT_TRUE(tags->list);
  EXPECT_THAT(*tags->list, ElementsAre("a", "b", "c"));
  EXPECT_EQ(tags->text, "a, b, c");

  // --set replaces a list with the text given; the later --set wins.
  spec = parse_pipeline(yaml, "p.yaml", {{"topic", "x"}, {"tags", "d,e"}, {"topic", "y"}});
  EXPECT_EQ(spec.find_input("topic")->text, "y");
  EXPECT_FALSE(spec.find_input("tags")->list);
  EXPECT_EQ(spec.find_input("tags")->text, "d,e");

  EXPECT_EQ(only_problem(yaml, {{"topic", "x"}, {"topc", "y"}}),
            "--set topc: p.yaml has no input \"topc\" (its inputs: topic, tags)");
}

TEST(PipelineSpecTest, ErrorsNameFileAndLine) {
  struct Case {
    std::string yaml;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {"steps:\n  - name: a\n    model: m\n    promt: hi\n",
       "p.yaml:4: step \"a\": unknown key \"promt\" (expected name, type, model"},
      {"steps:\n  - model: m\n    prompt: hi\n",
       "p.yaml:2: step: missing key \"name\" (every step needs a name)"},
      {"defaults: {model: m}\nsteps:\n  - name: a\n    prompt: x\n  - name: a\n    prompt: y\n",
       "p.yaml:5: duplicate name \"a\" (first at line 3)"},
      {"steps:\n  - name: a\n    model: m\n    type: audio\n    prompt: x\n",
       "p.yaml:4: step \"a\": type: unknown type \"audio\" (expected chat, completion, embedding "
       "or image)"},
      {"steps:\n  - name: a\n    prompt: x\n",
       "p.yaml:2: step \"a\": no model (set `model:` on the step or in `defaults:`)"},
      {"steps:\n  - name: a\n    model: m\n", "p.yaml:2: step \"a\": missing key \"prompt\""},
      {"steps:\n  - name: a\n    model: m\n    prompt: \"x {{inputs.t\"\n",
       "p.yaml:4: step \"a\": prompt: unclosed {{"},
      {"steps:\n  - name: a\n    model: m\n    type: embedding\n    system: s\n    prompt: x\n",
       "p.yaml:5: step \"a\": system: only chat steps have a system message"},
      {"steps:\n  - name: a\n    model: m\n    max_workers: 2\n    prompt: x\n",
       "p.yaml:4: step \"a\": max_workers: only a foreach step"},
      {"steps:\n  - name: a\n    model: m\n    timeout: soon\n    prompt: x\n",
       "p.yaml:4: step \"a\": timeout: expected a duration"},
      {"steps:\n  - name: a\n    model: m\n    retries: 11\n    prompt: x\n",
       "p.yaml:4: step \"a\": retries: expected a whole number from 0 to 10, got \"11\""},
      {"steps:\n  - name: a\n    model: m\n    prompt: x\n    params: {messages: []}\n",
       "p.yaml:5: step \"a\": params: messages is set by the step itself"},
      {"steps:\n  - name: a\n    model: m\n    type: image\n    prompt: x\n"
       "    params: {response_format: url}\n",
       "p.yaml:6: step \"a\": params: response_format: an image step asks for b64_json"},
      {"steps:\n  - name: a/b\n    model: m\n    prompt: x\n",
       "p.yaml:2: name \"a/b\": use letters, digits, '_' and '-' only"},
      {"steps:\n  - name: manifest\n    model: m\n    prompt: x\n",
       "p.yaml:2: name \"manifest\" is reserved"},
      {"stepz: []\n", "p.yaml:1: top level: unknown key \"stepz\""},
      {"name: x\n", "p.yaml:1: steps: a pipeline needs a list of at least one step"},
      {"", "p.yaml:1: the file is empty"},
      {"steps:\n  - name: a\n    prompt: [unclosed\n", "p.yaml:4:"},
      {"max_workers: 0\nsteps:\n  - {name: a, model: m, prompt: x}\n",
       "p.yaml:1: top level: max_workers: expected a whole number from 1 to 1024, got \"0\""},
      {"steps:\n  - parallel:\n      steps:\n        - {name: a, model: m, prompt: x}\n",
       "p.yaml:2: parallel: a group needs a name"},
      {"steps:\n  - parallel: {name: g, steps: [{parallel: {name: h, steps: []}}]}\n",
       "p.yaml:2: parallel group \"g\": parallel groups do not nest"},
      {"steps:\n  - parallel: {name: g, steps: [{name: a, model: m, prompt: x}]}\n"
       "    name: b\n",
       "p.yaml:2: a parallel group is written"},
      {"steps:\n  - parallel: {name: g, steps: [{name: g, model: m, prompt: x}]}\n",
       "p.yaml:2: duplicate name \"g\" (first at line 2)"},
      {"inputs: {a: {b: c}}\nsteps:\n  - {name: a, model: m, prompt: x}\n",
       "p.yaml:1: inputs: a: expected a value, a list or null"},
      {"steps:\n  - name: a\n    model: m\n    prompt: x\n    needs: [\"b c\"]\n",
       "p.yaml:5: step \"a\": needs: expected step or group names, got \"b c\""},
      {"steps:\n  - name: a\n    model: m\n    prompt: x\n    foreach: \"{{item}}\"\n",
       "p.yaml:5: step \"a\": foreach: expected a list, {{inputs.NAME}} or "
       "{{steps.NAME.output}}"},
  };
  for (const Case& c : cases) {
    auto p = problems(c.yaml);
    // The problem starts with its FILE:LINE:, so the prefix is part of what is matched.
    EXPECT_THAT(p, Contains(StartsWith(c.problem))) << c.yaml;
  }
}

TEST(PipelineSpecTest, EveryProblemOfAFileAtOnceInLineOrder) {
  auto p = problems(R"(steps:
  - name: a
    prompt: x
  - name: b
    model: m
    type: sound
    prompt: y
)");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_THAT(p[0], HasSubstr("p.yaml:2: step \"a\": no model"));
  EXPECT_THAT(p[1], HasSubstr("p.yaml:6: step \"b\": type: unknown type"));
}

TEST(PipelineSpecTest, ForeachTakesAListLiteral) {
  PipelineSpec spec = parse_pipeline(R"(steps:
  - name: a
    model: m
    foreach: [one, two, {k: v}]
    prompt: "{{item}}"
)",
                                     "p.yaml");
  ASSERT_TRUE(spec.steps[0].foreach->literal);
  EXPECT_THAT(*spec.steps[0].foreach->literal, ElementsAre("one", "two", R"({"k":"v"})"));
}

TEST(PipelineSpecTest, LoadsFromAFileAndSaysWhenItCannot) {
  testing::TempDir dir;
  std::string path = dir.write("x.yaml", "steps:\n  - {name: a, model: m, prompt: hi}\n");
  EXPECT_EQ(load_pipeline(path).steps.size(), 1u);
  try {
    load_pipeline((dir.path() / "missing.yaml").string());
    FAIL() << "a missing file loaded";
  } catch (const PipelineError& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing.yaml: cannot read: No such file"));
  }
}

}  // namespace
}  // namespace sluice::batch
