#include "batch/pipeline_plan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sluice::batch {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

Plan plan_of(const std::string& yaml, const InputOverrides& overrides = {}) {
  return build_plan(parse_pipeline(yaml, "p.yaml", overrides));
}

std::vector<std::string> problems(const std::string& yaml) {
  try {
    plan_of(yaml);
  } catch (const PipelineError& e) {
    return e.problems();
  }
  return {};
}

std::vector<std::string> names(const Plan& plan, const std::vector<std::size_t>& indices) {
  std::vector<std::string> out;
  for (std::size_t i : indices) out.push_back(plan.spec.steps[i].name);
  return out;
}

constexpr const char* kArticle = R"(name: article
inputs: {topic: rivers}
defaults: {model: fast}
steps:
  - name: outline
    prompt: "Five section titles about {{inputs.topic}}"
  - parallel:
      name: drafts
      steps:
        - name: intro
          prompt: "Write an intro for: {{steps.outline.output}}"
        - name: cover
          type: image
          prompt: "A cover about {{inputs.topic}}"
  - name: sections
    foreach: "{{steps.outline.output}}"
    max_workers: 4
    prompt: "Write the section titled {{item}}."
  - name: review
    needs: [drafts, sections]
    prompt: "Review: {{steps.intro.output}}"
)";

TEST(PipelinePlanTest, EdgesComeFromNeedsGroupsAndReferences) {
  Plan plan = plan_of(kArticle);
  auto deps = [&](std::string_view step) {
    return names(plan, plan.steps[plan.index_of(step)].deps);
  };
  EXPECT_THAT(deps("outline"), IsEmpty());
  EXPECT_THAT(deps("intro"), ElementsAre("outline"));
  EXPECT_THAT(deps("cover"), IsEmpty());  // it uses an input only
  EXPECT_THAT(deps("sections"), ElementsAre("outline"));
  // `needs: [drafts]` waits for every member of the group.
  EXPECT_THAT(deps("review"), ElementsAre("intro", "cover", "sections"));
  EXPECT_THAT(names(plan, plan.steps[0].dependants), ElementsAre("intro", "sections"));
}

TEST(PipelinePlanTest, WavesShowWhatRunsSideBySide) {
  Plan plan = plan_of(kArticle);
  ASSERT_EQ(plan.waves.size(), 3u);
  EXPECT_THAT(names(plan, plan.waves[0]), ElementsAre("outline", "cover"));
  EXPECT_THAT(names(plan, plan.waves[1]), ElementsAre("intro", "sections"));
  EXPECT_THAT(names(plan, plan.waves[2]), ElementsAre("review"));
  EXPECT_THAT(describe_waves(plan),
              ElementsAre("1. outline, cover \xE2\x80\x96 parallel",
                          "2. intro, sections ×? (foreach over steps.outline.output, 4 at once) "
                          "\xE2\x80\x96 parallel",
                          "3. review"));
}

TEST(PipelinePlanTest, KnownForeachCountsArePrinted) {
  Plan plan = plan_of(R"(inputs: {tags: [a, b], csv: "x, y, z"}
defaults: {model: m}
steps:
  - {name: lit, foreach: [1, 2, 3, 4], prompt: "{{item}}"}
  - {name: list, foreach: "{{inputs.tags}}", prompt: "{{item}}"}
  - {name: csv, foreach: "{{ inputs.csv }}", prompt: "{{item}}"}
)");
  EXPECT_THAT(describe_waves(plan),
              ElementsAre("1. lit ×4 (foreach over a list), list ×2 (foreach over inputs.tags), "
                          "csv ×3 (foreach over inputs.csv) \xE2\x80\x96 parallel"));
}

TEST(PipelinePlanTest, ACycleIsNamedInTheOrderStepsWait) {
  EXPECT_THAT(problems(R"(defaults: {model: m}
steps:
  - name: a
    needs: [b]
    prompt: x
  - name: b
    prompt: "{{steps.a.output}}"
)"),
              ElementsAre("p.yaml:3: the steps wait for each other in a cycle: a -> b -> a "
                          "(each waits for the next, through needs: or {{steps.NAME.output}})"));

  // Through a group: c waits for the group, whose member waits for c.
  auto p = problems(R"(defaults: {model: m}
steps:
  - name: start
    prompt: x
  - name: c
    needs: [g]
    prompt: x
  - parallel:
      name: g
      steps:
        - name: m1
          prompt: "{{steps.start.output}}"
        - name: m2
          prompt: "{{steps.c.output}}"
)");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_THAT(p[0], HasSubstr("cycle: c -> m2 -> c"));
  EXPECT_THAT(p[0], StartsWith("p.yaml:5: "));

  // A longer one, found however the file is ordered.
  EXPECT_THAT(problems(R"(defaults: {model: m}
steps:
  - {name: a, needs: [c], prompt: x}
  - {name: b, prompt: "{{steps.a.output}}"}
  - {name: c, prompt: "{{steps.b.output}}"}
)"),
              Contains(HasSubstr("cycle: a -> c -> b -> a")));
}

TEST(PipelinePlanTest, BadReferencesAreErrorsWithTheirLine) {
  struct Case {
    std::string steps;
    std::string problem;
  };
  const std::vector<Case> cases = {
      {"  - {name: a, needs: [nope], prompt: x}\n",
       "p.yaml:5: step \"a\": needs: unknown step or group \"nope\""},
      {"  - {name: a, needs: [a], prompt: x}\n",
       "p.yaml:5: step \"a\": needs: a step cannot wait for itself"},
      {"  - {name: a, prompt: \"{{inputs.nope}}\"}\n",
       "p.yaml:5: step \"a\": prompt: unknown input \"nope\" in {{inputs.nope}} (declared: topic)"},
      {"  - {name: a, prompt: \"{{steps.nope.output}}\"}\n",
       "p.yaml:5: step \"a\": prompt: {{steps.nope.output}} refers to an unknown step"},
      {"  - {name: a, prompt: \"{{steps.a.output}}\"}\n",
       "p.yaml:5: step \"a\": prompt: {{steps.a.output}} refers to the step's own output"},
      {"  - {name: a, prompt: \"{{steps.b.output}}\"}\n  - {name: b, prompt: x}\n",
       "p.yaml:5: step \"a\": prompt: {{steps.b.output}} refers to a step written later in the "
       "file; add \"b\" to this step's needs: to wait for it"},
      {"  - {name: a, prompt: \"{{item}}\"}\n",
       "p.yaml:5: step \"a\": prompt: {{item}} and {{index}} exist only in a foreach step's"},
      {"  - {name: a, type: chat, system: \"{{steps.z.output}}\", prompt: x}\n",
       "p.yaml:5: step \"a\": system: {{steps.z.output}} refers to an unknown step"},
      {"  - {name: a, foreach: \"{{steps.z.output}}\", prompt: x}\n",
       "p.yaml:5: step \"a\": foreach: {{steps.z.output}} refers to an unknown step"},
      {"  - parallel: {name: g, steps: [{name: a, prompt: x}]}\n"
       "  - {name: b, prompt: \"{{steps.g.output}}\"}\n",
       "p.yaml:6: step \"b\": prompt: {{steps.g.output}}: \"g\" is a parallel group"},
      {"  - parallel: {name: g, steps: [{name: a, needs: [g], prompt: x}]}\n",
       "p.yaml:5: step \"a\": needs: \"g\" is the parallel group this step belongs to"},
      {"  - parallel: {name: g, needs: [g], steps: [{name: a, prompt: x}]}\n",
       "p.yaml:5: parallel group \"g\": needs: \"g\" is the parallel group this step belongs"},
  };
  for (const Case& c : cases) {
    std::string yaml = "inputs: {topic: t}\ndefaults: {model: m}\n\nsteps:\n" + c.steps;
    EXPECT_THAT(problems(yaml), Contains(StartsWith(c.problem))) << yaml;
  }
}

TEST(PipelinePlanTest, AGroupsBadNeedsAreReportedOnce) {
  EXPECT_THAT(problems(R"(defaults: {model: m}
steps:
  - parallel: {name: g, needs: [zz], steps: [{name: a, prompt: x}, {name: b, prompt: y}]}
)"),
              ElementsAre("p.yaml:3: parallel group \"g\": needs: unknown step or group \"zz\""));
}

TEST(PipelinePlanTest, ALaterStepMayBeReferredToWhenNeeded) {
  Plan plan = plan_of(R"(defaults: {model: m}
steps:
  - {name: a, needs: [b], prompt: "{{steps.b.output}}"}
  - {name: b, prompt: x}
  - {name: c, needs: [g], prompt: "{{steps.d.output}}"}
  - parallel: {name: g, steps: [{name: d, prompt: x}]}
)");
  EXPECT_THAT(names(plan, plan.waves[0]), ElementsAre("b", "d"));
  EXPECT_THAT(names(plan, plan.waves[1]), ElementsAre("a", "c"));
}

TEST(PipelinePlanTest, AGroupsNeedsApplyToEveryMember) {
  Plan plan = plan_of(R"(defaults: {model: m}
steps:
  - {name: first, prompt: x}
  - parallel: {name: g, needs: [first], steps: [{name: a, prompt: x}, {name: b, prompt: y}]}
)");
  EXPECT_THAT(names(plan, plan.steps[1].deps), ElementsAre("first"));
  EXPECT_THAT(names(plan, plan.steps[2].deps), ElementsAre("first"));
  EXPECT_THAT(describe_waves(plan), ElementsAre("1. first", "2. a, b \xE2\x80\x96 parallel"));
}

TEST(PipelinePlanTest, ItemsSplitFromJsonOrLines) {
  EXPECT_THAT(split_items(R"( ["a", 2, {"k": "v"}] )"), ElementsAre("a", "2", R"({"k":"v"})"));
  EXPECT_THAT(
      split_items("1. Source\n\n2) Delta\n- Floods\n* Dams\n\xE2\x80\xA2 Fish\n  Plain  \n"),
      ElementsAre("Source", "Delta", "Floods", "Dams", "Fish", "Plain"));
  EXPECT_THAT(split_items("3.14 is pi\n-5 degrees\n"), ElementsAre("3.14 is pi", "-5 degrees"));
  EXPECT_THAT(split_items("[not json\n"), ElementsAre("[not json"));
  EXPECT_THAT(split_items("\n  \n"), IsEmpty());
}

TEST(PipelinePlanTest, KnownItemsBeforeTheRun) {
  Plan plan = plan_of(R"(inputs: {tags: [a, b], csv: " x ,, y ", topic: t}
defaults: {model: m}
steps:
  - {name: lit, foreach: [1, 2], prompt: "{{item}}"}
  - {name: list, foreach: "{{inputs.tags}}", prompt: "{{item}}"}
  - {name: csv, foreach: "{{inputs.csv}}", prompt: "{{item}}"}
  - {name: lines, foreach: "{{inputs.topic}}\nsecond", prompt: "{{item}}"}
  - {name: later, foreach: "{{steps.lit.output}}", prompt: "{{item}}"}
  - {name: plain, prompt: x}
)",
                      {{"topic", "first"}});
  auto items = [&](std::string_view step) {
    return known_items(plan.spec, plan.spec.steps[plan.index_of(step)]);
  };
  EXPECT_THAT(*items("lit"), ElementsAre("1", "2"));
  EXPECT_THAT(*items("list"), ElementsAre("a", "b"));
  EXPECT_THAT(*items("csv"), ElementsAre("x", "y"));
  EXPECT_THAT(*items("lines"), ElementsAre("first", "second"));
  EXPECT_FALSE(items("later"));
  EXPECT_FALSE(items("plain"));
}

}  // namespace
}  // namespace sluice::batch
