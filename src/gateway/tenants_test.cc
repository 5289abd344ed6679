#include "gateway/tenants.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

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

// A key's local buckets are resolved by name at every refresh: the same objects from one snapshot
// to the next (an edit or another key's change resets no limit), shared with the limiter's name;
// none where the key sets no limit; and let go with the key, so an idle one can be swept.
TEST(TenantBuckets, ARefreshKeepsAKeysBuckets) {
  const core::Clock::time_point t0 = core::Clock::time_point{} + std::chrono::hours(1);
  limit::GcraLimiter limiter;
  TenantDirectory directory(&limiter);
  const std::string a = store::new_secret();
  const std::string b = store::new_secret();
  store::KeyRecord ka = key("key_a", a);
  ka.rpm = 60;
  ka.tpm = 1000;
  directory.replace({ka, key("key_b", b)});
  // The tenant `id` of the current snapshot, which `keep` keeps alive.
  std::vector<std::shared_ptr<const TenantSnapshot>> keep;
  auto tenant = [&](std::string_view id) -> const Tenant* {
    TenantDirectory::Reader reader(directory);
    keep.push_back(reader.current());
    for (const auto& t : keep.back()->tenants) {
      if (t->key.id == id) return t.get();
    }
    return nullptr;
  };
  const Tenant* first = tenant("key_a");
  ASSERT_NE(first, nullptr);
  ASSERT_NE(first->rpm_bucket, nullptr);
  ASSERT_NE(first->tpm_bucket, nullptr);
  EXPECT_EQ(first->rpm_bucket, limiter.bucket(first->rpm_key));
  EXPECT_EQ(first->tpm_bucket, limiter.bucket(first->tpm_key));
  EXPECT_EQ(tenant("key_b")->rpm_bucket, nullptr);  // no limits: nothing held
  EXPECT_EQ(tenant("key_b")->tpm_bucket, nullptr);
  std::shared_ptr<limit::GcraBucket> rpm = first->rpm_bucket;
  ASSERT_TRUE(limit::GcraLimiter::acquire(*rpm, limit::Rate{.per_minute = 60}, 10, t0).allowed);

  // Edited (a higher rpm) while another key is revoked: the same bucket, with what it took.
  ka.rpm = 120;
  ka.name = "renamed";
  directory.replace({ka});
  const Tenant* second = tenant("key_a");
  ASSERT_NE(second, nullptr);
  EXPECT_NE(second, first);
  EXPECT_EQ(second->rpm_bucket, rpm);
  EXPECT_EQ(limiter.peek(second->rpm_key, limit::Rate{.per_minute = 60}, 0, t0).remaining, 50);

  // Revoked: the directory lets go, and once full again the bucket is swept like any idle one.
  const std::size_t held = limiter.size();
  rpm.reset();
  keep.clear();
  directory.replace({});
  EXPECT_EQ(limiter.sweep(t0 + std::chrono::minutes(1)), held);
  EXPECT_EQ(limiter.size(), 0u);
}

TEST_F(TenantReaderTest, FindsABatchOwnerByKeyId) {
  store::KeyRecord revoked = key("key_c", store::new_secret());
  revoked.revoked_at_ms = 1;
  directory_.replace({key("key_a", a_), key("key_b", b_, 1000), revoked});
  reader_.current();
  auto a = reader_.find_id("key_a", 5000);
  ASSERT_EQ(a.status, Status::kOk);
  EXPECT_EQ(a.tenant->key.id, "key_a");
  EXPECT_EQ(reader_.find_id("key_b", 500).status, Status::kOk);
  EXPECT_EQ(reader_.find_id("key_b", 5000).status, Status::kExpired);
  EXPECT_EQ(reader_.find_id("key_c", 0).status, Status::kUnknown);  // revoked
  EXPECT_EQ(reader_.find_id("key_zz", 0).status, Status::kUnknown);
  EXPECT_EQ(reader_.find_id("", 0).status, Status::kUnknown);

  directory_.replace({key("key_b", b_)});  // key_a revoked since
  reader_.current();
  EXPECT_EQ(reader_.find_id("key_a", 0).status, Status::kUnknown);
}

}  // namespace
}  // namespace sluice::gateway
