#include "api/json_scan.h"

#include <gtest/gtest.h>

namespace sluice::api {
namespace {

std::string_view value_at(std::string_view text, std::size_t at) {
  std::size_t end = json_value_end(text, at);
  if (end == std::string_view::npos) return "<none>";
  while (text[at] == ' ') ++at;
  return text.substr(at, end - at);
}

TEST(JsonValueEnd, ObjectsArraysStringsAndScalars) {
  std::string_view t = R"({"a": [1, {"b": "]}\"x"}], "c": "s\\", "d": 12, "e": null})";
  EXPECT_EQ(value_at(t, 5), R"([1, {"b": "]}\"x"}])");
  EXPECT_EQ(value_at(t, t.find("\"s")), R"("s\\")");
  EXPECT_EQ(value_at(t, t.find("12")), "12");
  EXPECT_EQ(value_at(t, t.find("null")), "null");
  EXPECT_EQ(value_at(t, 0), t);
}

TEST(JsonValueEnd, QuotesAfterRunsOfBackslashes) {
  // An even run of backslashes escapes itself; an odd one escapes the quote.
  EXPECT_EQ(value_at(R"("\\\\")", 0), R"("\\\\")");
  EXPECT_EQ(value_at(R"("a\\\"b" )", 0), R"("a\\\"b")");
  EXPECT_EQ(value_at(R"(["\\", "\"]", "x"] )", 0), R"(["\\", "\"]", "x"])");
  EXPECT_EQ(json_value_end(R"("\\\")", 0), std::string_view::npos);
}

TEST(JsonValueEnd, UnclosedIsNpos) {
  EXPECT_EQ(json_value_end(R"([1, "]")", 0), std::string_view::npos);
  EXPECT_EQ(json_value_end(R"("abc)", 0), std::string_view::npos);
  EXPECT_EQ(json_value_end("   ", 0), std::string_view::npos);
}

TEST(OffsetIn, OnlyAViewIntoTheTextWithAByteAfterIt) {
  std::string_view text = R"({"model":"m"})";
  EXPECT_EQ(offset_in(text, text.substr(2, 5)), 2u);  // model
  EXPECT_EQ(offset_in(text, text.substr(0, 1)), 0u);
  EXPECT_EQ(offset_in(text, text.substr(12, 1)), std::string_view::npos);  // nothing after it
  std::string copy(text.substr(2, 5));  // what the parser decoded elsewhere
  EXPECT_EQ(offset_in(text, copy), std::string_view::npos);
}

}  // namespace
}  // namespace sluice::api
