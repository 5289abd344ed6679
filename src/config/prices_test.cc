#include "config/prices.h"

#include <gtest/gtest.h>

namespace sluice::config {
namespace {

TEST(ListPrice, DatedSnapshotsTakeTheirFamilysPrice) {
  auto p = list_price("gpt-4o-2024-08-06");
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(p->input, 2.50);
  EXPECT_DOUBLE_EQ(p->cached_input, 1.25);
  EXPECT_DOUBLE_EQ(p->output, 10.00);
}

TEST(ListPrice, TheLongestMatchingNameWins) {
  auto mini = list_price("gpt-4o-mini-2024-07-18");
  ASSERT_TRUE(mini);
  EXPECT_DOUBLE_EQ(mini->input, 0.15);
  auto o3mini = list_price("o3-mini");
  ASSERT_TRUE(o3mini);
  EXPECT_DOUBLE_EQ(o3mini->output, 4.40);
}

TEST(ListPrice, UnknownModelsHaveNone) {
  EXPECT_FALSE(list_price("llama-3.1-8b-instruct"));
  EXPECT_FALSE(list_price(""));
  EXPECT_FALSE(list_price("mock"));
}

}  // namespace
}  // namespace sluice::config
