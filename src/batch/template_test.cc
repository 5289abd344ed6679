#include "batch/template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace sluice::batch {
namespace {

using ::testing::HasSubstr;
using Kind = TemplatePiece::Kind;

std::string render_with(const Template& t, const std::map<std::string, std::string>& inputs,
                        const std::map<std::string, std::string>& outputs,
                        const std::string* item = nullptr, std::size_t index = 0) {
  TemplateValues v;
  v.input = [&](std::string_view name) -> const std::string* {
    auto it = inputs.find(std::string(name));
    return it == inputs.end() ? nullptr : &it->second;
  };
  v.step_output = [&](std::string_view name) -> const std::string* {
    auto it = outputs.find(std::string(name));
    return it == outputs.end() ? nullptr : &it->second;
  };
  v.item = item;
  v.index = index;
  return render(t, v);
}

TEST(TemplateTest, ParsesEveryReferenceWithOrWithoutSpaces) {
  auto t = parse_template(
      "About {{inputs.topic}} and {{ steps.outline.output }}: {{item}} #{{  index  }}.");
  ASSERT_TRUE(t) << t.error().message;
  ASSERT_EQ(t->pieces.size(), 9u);
  EXPECT_EQ(t->pieces[1].kind, Kind::kInput);
  EXPECT_EQ(t->pieces[1].text, "topic");
  EXPECT_EQ(t->pieces[3].kind, Kind::kStepOutput);
  EXPECT_EQ(t->pieces[3].text, "outline");
  EXPECT_EQ(t->pieces[5].kind, Kind::kItem);
  EXPECT_EQ(t->pieces[7].kind, Kind::kIndex);
  EXPECT_TRUE(t->uses_item());

  std::string item = "Rivers";
  EXPECT_EQ(render_with(*t, {{"topic", "water"}}, {{"outline", "1. A"}}, &item, 3),
            "About water and 1. A: Rivers #3.");
}

TEST(TemplateTest, PlainTextAndLoneClosingBracesStayAsWritten) {
  auto t = parse_template("no refs here }} at all { not open");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->pieces.size(), 1u);
  EXPECT_EQ(render_with(*t, {}, {}), "no refs here }} at all { not open");
  EXPECT_FALSE(t->uses_item());
  auto empty = parse_template("");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(TemplateTest, SoleReferenceIgnoresSurroundingWhitespace) {
  auto t = parse_template("  {{ inputs.topics }}\n");
  ASSERT_TRUE(t);
  ASSERT_NE(t->sole_reference(), nullptr);
  EXPECT_EQ(t->sole_reference()->text, "topics");
  EXPECT_EQ(parse_template("x {{inputs.a}}")->sole_reference(), nullptr);
  EXPECT_EQ(parse_template("{{inputs.a}}{{inputs.b}}")->sole_reference(), nullptr);
}

TEST(TemplateTest, SyntaxErrorsSayWhatIsWrong) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : {
           Case{"Write about {{inputs.topic", "unclosed {{"},
           Case{"{{inputs.a {{inputs.b}}", "unclosed {{"},
           Case{"{{}}", "empty {{ }}"},
           Case{"{{   }}", "empty {{ }}"},
           Case{"{{ topic }}", "unknown reference {{ topic }}"},
           Case{"{{input.topic}}", "unknown reference"},
           Case{"{{inputs.}}", "an input is written {{inputs.NAME}}"},
           Case{"{{inputs.a.b}}", "an input is written {{inputs.NAME}}"},
           Case{"{{inputs.a b}}", "an input is written {{inputs.NAME}}"},
           Case{"{{steps.outline}}", "{{steps.outline.output}}"},
           Case{"{{steps.outline.text}}", "a step has only an output"},
           Case{"{{steps..output}}", "{{steps.NAME.output}}"},
       }) {
    auto t = parse_template(c.text);
    ASSERT_FALSE(t) << c.text;
    EXPECT_THAT(t.error().message, HasSubstr(c.message)) << c.text;
  }
}

TEST(TemplateTest, NamesAreFileSafe) {
  EXPECT_TRUE(is_template_name("outline_2-b"));
  EXPECT_FALSE(is_template_name(""));
  EXPECT_FALSE(is_template_name("a.b"));
  EXPECT_FALSE(is_template_name("a/b"));
  EXPECT_FALSE(is_template_name(".."));
  EXPECT_FALSE(is_template_name("a b"));
}

}  // namespace
}  // namespace sluice::batch
