#include <gtest/gtest.h>

#include <set>

#include "store/keys.h"

namespace sluice::store {
namespace {

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

TEST(SecretsTest, ANewSecretIsThePrefixAndFortyBase62Characters) {
  std::set<std::string> seen;
  std::set<char> alphabet;
  for (int i = 0; i < 200; ++i) {
    std::string s = new_secret();
    ASSERT_EQ(s.size(), 50u);
    ASSERT_TRUE(s.starts_with("sk-sluice-")) << s;
    ASSERT_TRUE(well_formed_secret(s)) << s;
    for (char c : s.substr(10)) alphabet.insert(c);
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 200u);
  // 8,000 draws from 62 characters: all of them turn up (a byte mapped without rejection
  // sampling would still show them all, but a broken mapping such as hex would not).
  EXPECT_EQ(alphabet.size(), 62u);
}

TEST(SecretsTest, WellFormedChecksPrefixLengthAndAlphabet) {
  std::string good = "sk-sluice-" + std::string(40, 'a');
  EXPECT_TRUE(well_formed_secret(good));
  EXPECT_TRUE(well_formed_secret("sk-sluice-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcd"));
  EXPECT_FALSE(well_formed_secret(""));
  EXPECT_FALSE(well_formed_secret("sk-sluice-"));
  EXPECT_FALSE(well_formed_secret(good.substr(0, 49)));
  EXPECT_FALSE(well_formed_secret(good + "a"));
  EXPECT_FALSE(well_formed_secret("sk-sluicE-" + std::string(40, 'a')));
  EXPECT_FALSE(well_formed_secret("sk-" + std::string(47, 'a')));
  for (char bad : {'-', '_', '+', '/', '=', ' ', '\0'}) {
    std::string s = good;
    s[30] = bad;
    EXPECT_FALSE(well_formed_secret(s)) << "with " << int(bad);
  }
}

TEST(SecretsTest, TheHashIsSha256InRawBytes) {
  // FIPS 180-2 test vectors.
  EXPECT_EQ(hex(secret_hash("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(secret_hash("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(secret_hash("sk-sluice-x").size(), 32u);
}

TEST(SecretsTest, SameHashComparesWholeValues) {
  std::string a = secret_hash("one"), b = secret_hash("two");
  EXPECT_TRUE(same_hash(a, secret_hash("one")));
  EXPECT_FALSE(same_hash(a, b));
  EXPECT_FALSE(same_hash(a, a.substr(0, 31)));
  EXPECT_FALSE(same_hash(a, ""));
}

TEST(GlobTest, StarMatchesAnyRunAndQuestionMarkOneCharacter) {
  EXPECT_TRUE(glob_matches("gpt-4o", "gpt-4o"));
  EXPECT_FALSE(glob_matches("gpt-4o", "gpt-4o-mini"));
  EXPECT_TRUE(glob_matches("gpt-4o*", "gpt-4o"));
  EXPECT_TRUE(glob_matches("gpt-4o*", "gpt-4o-mini"));
  EXPECT_FALSE(glob_matches("gpt-4o*", "gpt-4"));
  EXPECT_TRUE(glob_matches("*", ""));
  EXPECT_TRUE(glob_matches("*", "anything"));
  EXPECT_TRUE(glob_matches("*-mini", "gpt-4o-mini"));
  EXPECT_FALSE(glob_matches("*-mini", "gpt-4o-mini-2024"));
  EXPECT_TRUE(glob_matches("claude-*-sonnet*", "claude-3-5-sonnet-latest"));
  EXPECT_FALSE(glob_matches("claude-*-sonnet*", "claude-3-opus"));
  EXPECT_TRUE(glob_matches("gpt-?o", "gpt-4o"));
  EXPECT_FALSE(glob_matches("gpt-?o", "gpt-o"));
  EXPECT_FALSE(glob_matches("gpt-?o", "gpt-44o"));
  EXPECT_TRUE(glob_matches("a*b*c", "a-b-b-c"));
  EXPECT_TRUE(glob_matches("a**c", "abc"));
  EXPECT_FALSE(glob_matches("a*b*c", "a-c-b"));
  EXPECT_FALSE(glob_matches("", "x"));
  EXPECT_TRUE(glob_matches("", ""));
  EXPECT_FALSE(glob_matches("GPT-4o", "gpt-4o"));  // case-sensitive
}

TEST(GlobTest, ModelAllowedUsesTheKeysGlobsAndAllowsAllWithNone) {
  KeyRecord key;
  EXPECT_TRUE(model_allowed(key, "anything"));
  key.models = {"gpt-4o*", "mock"};
  EXPECT_TRUE(model_allowed(key, "gpt-4o-mini"));
  EXPECT_TRUE(model_allowed(key, "mock"));
  EXPECT_FALSE(model_allowed(key, "mock-2"));
  EXPECT_FALSE(model_allowed(key, "claude-3-opus"));
}

}  // namespace
}  // namespace sluice::store
