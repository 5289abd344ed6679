#include "gateway/tenants.h"

#include <gtest/gtest.h>

namespace sluice::gateway {
namespace {

using Status = TenantDirectory::Found::Status;

store::KeyRecord key(std::string id, std::string_view secret, std::int64_t expires_at_ms = 0) {
  store::KeyRecord k;
  k.id = std::move(id);
  k.name = k.id;
  k.hash = store::secret_hash(secret);
  k.expires_at_ms = expires_at_ms;
  return k;
}

// A secret that differs from `secret` only before its last 8 characters: the memory keeps both
// in one slot, so a mix-up would show.
std::string same_tail(std::string secret) {
  std::size_t i = store::kSecretPrefix.size();
  secret[i] = secret[i] == 'A' ? 'B' : 'A';
  return secret;
}

class TenantReaderTest : public ::testing::Test {
 protected:
  std::string a_ = store::new_secret();
  std::string b_ = store::new_secret();
  TenantDirectory directory_;
  TenantDirectory::Reader reader_{directory_};
};

TEST_F(TenantReaderTest, FindsEachKeyAgainAndNeverAnUnknownOne) {
  directory_.replace({key("key_a", a_), key("key_b", b_)});
  reader_.current();
  for (int round = 0; round < 3; ++round) {  // the first finds by hash, the others remember
    auto a = reader_.find(a_, 0);
    ASSERT_EQ(a.status, Status::kOk);
    EXPECT_EQ(a.tenant->key.id, "key_a");
    auto b = reader_.find(b_, 0);
    ASSERT_EQ(b.status, Status::kOk);
    EXPECT_EQ(b.tenant->key.id, "key_b");
    EXPECT_EQ(reader_.find(same_tail(a_), 0).status, Status::kUnknown);
    EXPECT_EQ(reader_.find("sk-sluice-short", 0).status, Status::kUnknown);
  }
}

TEST_F(TenantReaderTest, ARevokedKeyIsForgottenAtTheNextSnapshot) {
  directory_.replace({key("key_a", a_), key("key_b", b_)});
  reader_.current();
  ASSERT_EQ(reader_.find(a_, 0).status, Status::kOk);
  ASSERT_EQ(reader_.find(a_, 0).status, Status::kOk);
  directory_.replace({key("key_b", b_)});  // key_a revoked
  reader_.current();
  EXPECT_EQ(reader_.find(a_, 0).status, Status::kUnknown);
  auto b = reader_.find(b_, 0);
  ASSERT_EQ(b.status, Status::kOk);
  EXPECT_EQ(b.tenant, reader_.current()->tenants.front().get());  // of the new snapshot
}

TEST_F(TenantReaderTest, ARememberedKeyStillExpires) {
  directory_.replace({key("key_a", a_, /*expires_at_ms=*/1000)});
  reader_.current();
  EXPECT_EQ(reader_.find(a_, 999).status, Status::kOk);
  EXPECT_EQ(reader_.find(a_, 999).status, Status::kOk);
  EXPECT_EQ(reader_.find(a_, 1000).status, Status::kExpired);
}

}  // namespace
}  // namespace sluice::gateway
