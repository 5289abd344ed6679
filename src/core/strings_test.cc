#include "core/strings.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>

namespace sluice::core {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

TEST(StringsTest, Iequals) {
  EXPECT_TRUE(iequals("Content-Type", "content-type"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("abc", "abcd"));
  EXPECT_FALSE(iequals("abc", "abd"));
  // Only ASCII letters fold: '@' (0x40) and '`' (0x60) differ by 32 but are not letters.
  EXPECT_FALSE(iequals("@", "`"));
}

TEST(StringsTest, IstartsWith) {
  EXPECT_TRUE(istarts_with("Bearer sk-1", "bearer "));
  EXPECT_TRUE(istarts_with("abc", ""));
  EXPECT_FALSE(istarts_with("ab", "abc"));
}

TEST(StringsTest, ToLowerAndTrim) {
  EXPECT_EQ(to_lower("X-Mock-*"), "x-mock-*");
  EXPECT_EQ(to_lower("ÄB"),
            "\xc3\x84"
            "b")
      << "non-ASCII bytes are left alone";
  EXPECT_EQ(trim("  \t a b \r\n"), "a b");
  EXPECT_EQ(trim(" \t\r\n"), "");
  EXPECT_EQ(trim(""), "");
}

TEST(StringsTest, SplitTrimmed) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(split_trimmed("a, b ,c", ','), (V{"a", "b", "c"}));
  EXPECT_EQ(split_trimmed("", ','), V{});
  EXPECT_EQ(split_trimmed("a,,b", ','), (V{"a", "", "b"}));
  EXPECT_EQ(split_trimmed(" one ", ','), V{"one"});
}

TEST(ParseDurationTest, Units) {
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("10s"), 10s);
  EXPECT_EQ(parse_duration("5m"), 5min);
  EXPECT_EQ(parse_duration("2min"), 2min);
  EXPECT_EQ(parse_duration("1h"), 1h);
  EXPECT_EQ(parse_duration("0ms"), 0ms);
}

TEST(ParseDurationTest, BareNumberIsSeconds) {
  EXPECT_EQ(parse_duration("1500"), 1500s);
  EXPECT_EQ(parse_duration("0"), 0ms);
}

TEST(ParseDurationTest, Fractions) {
  EXPECT_EQ(parse_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_duration(".5s"), 500ms);
  EXPECT_EQ(parse_duration("1."), 1s);
  EXPECT_EQ(parse_duration("1.5m"), 90s);
  // Below a millisecond rounds to the nearest one.
  EXPECT_EQ(parse_duration("0.4ms"), 0ms);
  EXPECT_EQ(parse_duration("1.6ms"), 2ms);
}

TEST(ParseDurationTest, Whitespace) {
  EXPECT_EQ(parse_duration(" 10s "), 10s);
  EXPECT_EQ(parse_duration("10 s"), 10s);
}

TEST(ParseDurationTest, Rejects) {
  for (const char* text : {"", " ", "s", ".", "-1s", "+1s", "1e3", "1..5s", "10S", "10sec", "1d",
                           "ms10", "1s2", "nan", "inf"}) {
    EXPECT_EQ(parse_duration(text), std::nullopt) << text;
  }
}

TEST(ParseDurationTest, HugeValuesAreRejected) {
  EXPECT_EQ(parse_duration("1000000000000000ms"), milliseconds(1'000'000'000'000'000));
  EXPECT_EQ(parse_duration("1000000000000001ms"), std::nullopt);
  EXPECT_EQ(parse_duration("300000000000h"), std::nullopt);
}

TEST(ParseBytesTest, Units) {
  EXPECT_EQ(parse_bytes("1024"), 1024u);
  EXPECT_EQ(parse_bytes("0"), 0u);
  EXPECT_EQ(parse_bytes("7B"), 7u);
  EXPECT_EQ(parse_bytes("64KiB"), 65536u);
  EXPECT_EQ(parse_bytes("64K"), 65536u);
  EXPECT_EQ(parse_bytes("64k"), 65536u);
  EXPECT_EQ(parse_bytes("16MiB"), 16u * 1024 * 1024);
  EXPECT_EQ(parse_bytes("16M"), 16u * 1024 * 1024);
  EXPECT_EQ(parse_bytes("1GiB"), 1024u * 1024 * 1024);
  EXPECT_EQ(parse_bytes("1G"), 1024u * 1024 * 1024);
  EXPECT_EQ(parse_bytes("10KB"), 10'000u);
  EXPECT_EQ(parse_bytes("10kB"), 10'000u);
  EXPECT_EQ(parse_bytes("2MB"), 2'000'000u);
  EXPECT_EQ(parse_bytes("3GB"), 3'000'000'000u);
}

TEST(ParseBytesTest, FractionsAndWhitespace) {
  EXPECT_EQ(parse_bytes("1.5KiB"), 1536u);
  EXPECT_EQ(parse_bytes(" 5 MiB "), 5u * 1024 * 1024);
}

TEST(ParseBytesTest, Rejects) {
  for (const char* text :
       {"", "KiB", "-1", "+1", "1e3", "1 kib", "1mb", "1TiB", "1 2", "1..2", "12 parsecs"}) {
    EXPECT_EQ(parse_bytes(text), std::nullopt) << text;
  }
}

TEST(ParseBytesTest, DoesNotOverflow) {
  EXPECT_EQ(parse_bytes("17179869184GiB"), std::nullopt);  // 2^64
  EXPECT_EQ(parse_bytes("100000000000GB"), std::nullopt);  // 1e20
  EXPECT_EQ(parse_bytes("8589934592GiB"), 1ull << 63);
}

// parse_bytes rounds through a double with llround, whose result is unspecified above 2^63 - 1,
// so values in [2^63, 1.8e19) come back wrong (9223372036854775808 for 1e19). Enable when
// strings.cc is fixed: such values should either parse exactly or be rejected.
TEST(ParseBytesTest, ValuesAboveInt64AreExactOrRejected) {
  std::optional<std::uint64_t> v = parse_bytes("10000000000000000000");
  EXPECT_TRUE(!v || *v == 10000000000000000000ull) << *v;
}

TEST(FormatTest, Bytes) {
  EXPECT_EQ(format_bytes(0), "0B");
  EXPECT_EQ(format_bytes(1023), "1023B");
  EXPECT_EQ(format_bytes(1024), "1KiB");
  EXPECT_EQ(format_bytes(1536), "1536B");
  EXPECT_EQ(format_bytes(16 * 1024 * 1024), "16MiB");
  EXPECT_EQ(format_bytes(1ull << 50), "1024TiB");
}

TEST(FormatTest, Durations) {
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(30s), "30s");
  EXPECT_EQ(format_duration(2min), "120s");
}

TEST(FormatTest, RoundTrips) {
  for (std::uint64_t b : {1ull, 1024ull, 65536ull, 16ull << 20, 1ull << 30}) {
    EXPECT_EQ(parse_bytes(format_bytes(b)), b) << b;
  }
  for (milliseconds d : {1ms, 999ms, milliseconds(1s), milliseconds(75s)}) {
    EXPECT_EQ(parse_duration(format_duration(d)), d) << d.count();
  }
}

TEST(GlobMatchTest, ExactWithoutStar) {
  EXPECT_TRUE(glob_match("gpt-4o", "gpt-4o"));
  EXPECT_FALSE(glob_match("gpt-4o", "gpt-4o-mini"));
  EXPECT_FALSE(glob_match("gpt-4o", "GPT-4o"));
  EXPECT_TRUE(glob_match("", ""));
  EXPECT_FALSE(glob_match("", "a"));
}

TEST(GlobMatchTest, TrailingStarMatchesAnySuffix) {
  EXPECT_TRUE(glob_match("gpt-*", "gpt-4o"));
  EXPECT_TRUE(glob_match("gpt-*", "gpt-")) << "the suffix may be empty";
  EXPECT_FALSE(glob_match("gpt-*", "gpt"));
  EXPECT_FALSE(glob_match("gpt-*", "o3"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("*", "anything at all"));
}

TEST(GlobMatchTest, OnlyATrailingStarIsSpecial) {
  EXPECT_FALSE(glob_match("x-*-id", "x-trace-id"));
  EXPECT_TRUE(glob_match("x-*-id", "x-*-id"));
  EXPECT_TRUE(glob_match("**", "*a")) << "the first '*' is a literal";
  EXPECT_FALSE(glob_match("**", "a"));
}

TEST(GlobMatchTest, CaseInsensitive) {
  EXPECT_TRUE(glob_match("x-mock-*", "X-Mock-Delay", true));
  EXPECT_FALSE(glob_match("x-mock-*", "X-Mock-Delay"));
  EXPECT_TRUE(glob_match("Authorization", "authorization", true));
  EXPECT_FALSE(glob_match("x-mock-*", "X-Moc", true));
}

}  // namespace
}  // namespace sluice::core
