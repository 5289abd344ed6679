#include "api/json_text.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <limits>
#include <string>

namespace sluice::api {
namespace {

std::string as_json(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

// Every special character at every offset of a string long enough for the word-at-a-time scan:
// the text is escaped exactly as Boost.JSON escapes it, and reads back as itself.
TEST(JsonText, StringsAreEscapedAsBoostEscapesThem) {
  std::string specials = "\"\\\b\f\n\r\t";
  for (int c = 0; c < 0x20; ++c) specials += static_cast<char>(c);
  specials += "\x7f";
  const std::string plain = "plain text, \xc3\xa9t\xc3\xa9 \xf0\x9f\x91\x8b and more words";
  for (char special : specials) {
    for (std::size_t at = 0; at <= plain.size(); ++at) {
      if (at < plain.size() && (plain[at] & 0xC0) == 0x80) continue;  // inside a character
      std::string s = plain;
      s.insert(at, 1, special);
      const std::string got = as_json(s);
      ASSERT_EQ(got, json::serialize(json::string_view(s)))
          << "byte " << int(special) << " at " << at;
      ASSERT_EQ(json::parse(got).as_string(), s);
    }
  }
  EXPECT_EQ(as_json(""), "\"\"");
  EXPECT_EQ(as_json("\x01"), "\"\\u0001\"");
}

TEST(JsonText, ValuesAreWrittenCompactly) {
  const char* text =
      R"({"a":[1,-2,18446744073709551615,true,false,null,"s\"\n"],"b":{},"c":[],"d":{"e":{"f":1}}})";
  json::value v = json::parse(text);
  std::string out;
  append_json(out, v);
  EXPECT_EQ(out, text);
}

TEST(JsonText, DoublesTakeTheirShortestForm) {
  auto written = [](double d) {
    std::string out;
    append_json(out, json::value(d));
    return out;
  };
  EXPECT_EQ(written(0.7), "0.7");
  EXPECT_EQ(written(1.0), "1");
  EXPECT_EQ(written(-2.5e-7), "-2.5e-07");
  EXPECT_EQ(written(1e300), "1e+300");
  for (double d : {0.1, 1.0 / 3, 123456.789, 6.02214076e23}) {
    EXPECT_EQ(json::parse(written(d)).to_number<double>(), d);
  }
}

TEST(JsonText, NumbersWrittenOnTheirOwn) {
  std::string out;
  append_int(out, -9223372036854775807 - 1);
  out += ',';
  append_int(out, 0);
  out += ',';
  append_uint(out, 18446744073709551615u);
  out += ',';
  append_double(out, 0.7);
  EXPECT_EQ(out, "-9223372036854775808,0,18446744073709551615,0.7");
  // JSON has no infinity or NaN: what a computation made of them still leaves valid JSON.
  for (double d :
       {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
        std::numeric_limits<double>::quiet_NaN()}) {
    out.clear();
    append_json(out, json::value(d));
    EXPECT_EQ(out, "0");
    EXPECT_EQ(json::parse(out), 0);
  }
}

TEST(JsonText, CountsAreNonNegativeNumbers) {
  EXPECT_EQ(json_count(nullptr), std::nullopt);
  json::value n = json::parse("[5, -1, 2.9, \"5\", null, 18446744073709551615]");
  const json::array& a = n.as_array();
  EXPECT_EQ(json_count(&a[0]), 5u);
  EXPECT_EQ(json_count(&a[1]), std::nullopt);
  EXPECT_EQ(json_count(&a[2]), 2u);
  EXPECT_EQ(json_count(&a[3]), std::nullopt);
  EXPECT_EQ(json_count(&a[4]), std::nullopt);
  EXPECT_EQ(json_count(&a[5]), 18446744073709551615u);
}

// Documents larger than the arena's first block, many of them: Boost's monotonic_resource would
// double its next block across release() until an allocation failed, after about twenty.
TEST(JsonText, TheParserReusesItsArenaAndSaysWhereTextBreaks) {
  JsonArenaParser parser;
  for (int i = 0; i < 1000; ++i) {
    const std::string text =
        R"({"i":)" + std::to_string(i) + R"(,"s":")" + std::string(5000, 'x') + "\"}";
    const json::value* v = parser.parse(text);
    ASSERT_NE(v, nullptr);
    ASSERT_EQ(v->at("i"), i);
  }
  boost::system::error_code ec;
  std::size_t at = 0;
  EXPECT_EQ(parser.parse(R"({"a": tru})", ec, at), nullptr);
  EXPECT_TRUE(ec);
  EXPECT_EQ(at, 6u);  // where the bad literal begins
  EXPECT_EQ(parser.parse("{} {}", ec, at), nullptr);
  EXPECT_EQ(parser.parse("", ec, at), nullptr);
  EXPECT_NE(parser.parse("[]"), nullptr);
}

}  // namespace
}  // namespace sluice::api
