#include "limit/rate_headers.h"

#include <gtest/gtest.h>

namespace sluice::limit {
namespace {

using namespace std::chrono_literals;

TEST(FormatReset, AsOpenAIWritesIt) {
  EXPECT_EQ(format_reset(0ms), "0ms");
  EXPECT_EQ(format_reset(250ms), "250ms");
  EXPECT_EQ(format_reset(1000ms), "1s");
  EXPECT_EQ(format_reset(1500ms), "1.5s");
  EXPECT_EQ(format_reset(1250ms), "1.25s");
  EXPECT_EQ(format_reset(360s), "6m0s");
  EXPECT_EQ(format_reset(3723s), "1h2m3s");
  EXPECT_EQ(format_reset(-5ms), "0ms");
}

TEST(RateHeaders, TheTightestLimitOfEachKind) {
  Charge charges[] = {{"k:a:r", Rate{60, 0}, 1},
                      {"g:r", Rate{1000, 0}, 1},
                      {"k:a:t", Rate{10000, 0}, 300},
                      {"m:x:t", Rate{5000, 0}, 300}};
  Decision decisions[] = {{true, 59, 0ms, 1000ms},
                          {true, 999, 0ms, 60ms},
                          {true, 9700, 0ms, 1800ms},
                          {true, 4700, 0ms, 3600ms}};
  RateHeaders h = rate_headers(charges, decisions, 2);
  ASSERT_TRUE(h.requests);
  EXPECT_EQ(h.requests->limit, 60u);
  EXPECT_EQ(h.requests->remaining, 59);
  EXPECT_EQ(h.requests->reset, 1000ms);
  ASSERT_TRUE(h.tokens);
  EXPECT_EQ(h.tokens->limit, 5000u);
  EXPECT_EQ(h.tokens->remaining, 4700);
}

TEST(RateHeaders, NoTokenChargesNoTokenHeaders) {
  Charge charges[] = {{"k:a:r", Rate{60, 0}, 1}};
  Decision decisions[] = {{false, 0, 1000ms, 60000ms}};
  RateHeaders h = rate_headers(charges, decisions, 1);
  ASSERT_TRUE(h.requests);
  EXPECT_EQ(h.requests->remaining, 0);
  EXPECT_FALSE(h.tokens);
}

}  // namespace
}  // namespace sluice::limit
