#include "cache/entry_codec.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::cache {
namespace {

Entry sample(std::string body) {
  Entry e;
  e.format = Format::kSse;
  e.endpoint = api::Endpoint::kCompletions;
  e.ns = "team-a";
  e.body = std::move(body);
  e.created_ms = 1767225600123;
  e.expires_ms = 1767229200123;
  e.prompt_tokens = 12;
  e.completion_tokens = 345;
  return e;
}

void expect_same(const Entry& a, const Entry& b) {
  EXPECT_EQ(a.format, b.format);
  EXPECT_EQ(a.endpoint, b.endpoint);
  EXPECT_EQ(a.ns, b.ns);
  EXPECT_EQ(a.body, b.body);
  EXPECT_EQ(a.created_ms, b.created_ms);
  EXPECT_EQ(a.expires_ms, b.expires_ms);
  EXPECT_EQ(a.prompt_tokens, b.prompt_tokens);
  EXPECT_EQ(a.completion_tokens, b.completion_tokens);
}

TEST(EntryCodecTest, RoundTripsSmallAndLargeBodies) {
  for (std::string body :
       {std::string(), std::string("data: [DONE]\n\n"), std::string(100000, 'x') + "tail"}) {
    Entry e = sample(body);
    auto back = decode_entry(encode_entry(e), 1 << 20);
    ASSERT_TRUE(back) << back.error().message;
    expect_same(*back, e);
  }
}

TEST(EntryCodecTest, LargeRepetitiveBodiesAreCompressed) {
  Entry e = sample(std::string(100000, 'x'));
  EXPECT_LT(encode_entry(e).size(), 2000u);
  Entry incompressible = sample("");
  for (int i = 0; i < 1000; ++i) incompressible.body += static_cast<char>((i * 7919) % 251);
  EXPECT_LT(encode_entry(incompressible).size(), incompressible.body.size() + 100);
}

TEST(EntryCodecTest, AnyDamageIsDetected) {
  std::string bytes = encode_entry(sample(std::string(5000, 'y')));
  for (std::size_t at :
       {std::size_t(0), std::size_t(5), std::size_t(20), bytes.size() / 2, bytes.size() - 1}) {
    std::string bad = bytes;
    bad[at] = static_cast<char>(bad[at] ^ 0x40);
    EXPECT_FALSE(decode_entry(bad, 1 << 20)) << "flip at " << at;
  }
  for (std::size_t keep : {std::size_t(0), std::size_t(10), bytes.size() - 1}) {
    EXPECT_FALSE(decode_entry(bytes.substr(0, keep), 1 << 20)) << "truncated to " << keep;
  }
  EXPECT_FALSE(decode_entry(bytes + "x", 1 << 20));
  EXPECT_FALSE(decode_entry("not an entry at all, but long enough to have a header", 1 << 20));
}

TEST(EntryCodecTest, BodiesOverTheLimitAreRefused) {
  std::string bytes = encode_entry(sample(std::string(5000, 'z')));
  EXPECT_TRUE(decode_entry(bytes, 5000));
  auto refused = decode_entry(bytes, 4999);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("larger"), std::string::npos);
}

}  // namespace
}  // namespace sluice::cache
