#include "tokenizer/encoding.h"

#include <gtest/gtest.h>

namespace sluice::tokenizer {
namespace {

TEST(EncodingTest, ModelsFollowTiktoken) {
  for (const char* model :
       {"gpt-4o", "gpt-4o-mini", "gpt-4o-2024-08-06", "chatgpt-4o-latest", "gpt-4.1",
        "gpt-4.1-nano", "gpt-4.5-preview", "gpt-5", "gpt-5-mini", "gpt-5.1", "o1", "o1-mini", "o3",
        "o3-mini", "o4-mini", "gpt-oss-120b", "ft:gpt-4o-mini-2024-07-18:acme::abc123"}) {
    EXPECT_EQ(encoding_for_model(model), Encoding::kO200kBase) << model;
  }
  for (const char* model :
       {"gpt-4", "gpt-4-0613", "gpt-4-32k", "gpt-4-turbo", "gpt-4-turbo-2024-04-09",
        "gpt-3.5-turbo", "gpt-3.5-turbo-16k", "gpt-35-turbo", "text-embedding-3-small",
        "text-embedding-3-large", "text-embedding-ada-002", "davinci-002",
        "ft:gpt-3.5-turbo-0125:acme::xyz"}) {
    EXPECT_EQ(encoding_for_model(model), Encoding::kCl100kBase) << model;
  }
  for (const char* model : {"", "claude-3-5-sonnet", "gemini-2.0-flash", "llama3", "mock", "gpt-40",
                            "o10", "text-davinci-003", "gpt", "GPT-4O"}) {
    EXPECT_EQ(encoding_for_model(model), std::nullopt) << model;
  }
}

TEST(EncodingTest, Names) {
  EXPECT_EQ(encoding_name(Encoding::kO200kBase), "o200k_base");
  EXPECT_EQ(encoding_name(Encoding::kCl100kBase), "cl100k_base");
}

}  // namespace
}  // namespace sluice::tokenizer
