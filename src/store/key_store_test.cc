#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/asio.h"
#include "store/keys.h"
#include "store/testing.h"

namespace sluice::store {
namespace {

using testing::TempDir;

constexpr std::int64_t kNow = 1767225600000;  // 2026-01-01T00:00:00Z

std::unique_ptr<Database> open_db(const TempDir& dir) {
  auto db = Database::open(testing::db_path(dir));
  EXPECT_TRUE(db) << db.error().message;
  return std::move(*db);
}

KeySpec named(std::string name) {
  KeySpec s;
  s.name = std::move(name);
  return s;
}

TEST(KeyStoreTest, CreateGetListUpdateRevoke) {
  TempDir dir;
  auto db = open_db(dir);
  KeyStore keys(*db);

  KeySpec spec = named("team-a");
  spec.models = std::vector<std::string>{"gpt-4o*", "mock"};
  spec.rpm = 60;
  spec.tpm = 1000;
  spec.max_concurrency = 3;
  spec.budget_daily = 1.25;
  spec.budget_monthly = 10;
  spec.budget_total = 100;
  spec.cache_namespace = "team";
  spec.expires_at_ms = kNow + 86'400'000;
  spec.metadata = json::object{{"owner", "ana"}};
  auto created = keys.create(spec, kNow);
  ASSERT_TRUE(created) << created.error().message;
  const KeyRecord& k = created->key;
  EXPECT_TRUE(well_formed_secret(created->secret));
  EXPECT_EQ(k.hash, secret_hash(created->secret));
  EXPECT_EQ(k.prefix, created->secret.substr(0, 14));
  EXPECT_EQ(k.id.size(), 20u);
  EXPECT_TRUE(k.id.starts_with("key_"));
  EXPECT_EQ(k.created_at_ms, kNow);
  EXPECT_EQ(k.revoked_at_ms, 0);

  auto got = keys.get(k.id);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->name, "team-a");
  EXPECT_EQ(got->hash, k.hash);
  EXPECT_EQ(got->prefix, k.prefix);
  EXPECT_EQ(got->models, (std::vector<std::string>{"gpt-4o*", "mock"}));
  EXPECT_EQ(got->rpm, 60u);
  EXPECT_EQ(got->tpm, 1000u);
  EXPECT_EQ(got->max_concurrency, 3);
  EXPECT_EQ(got->budget_daily, 1.25);
  EXPECT_EQ(got->budget_monthly, 10.0);
  EXPECT_EQ(got->budget_total, 100.0);
  EXPECT_EQ(got->cache_namespace, "team");
  EXPECT_EQ(got->expires_at_ms, kNow + 86'400'000);
  EXPECT_EQ(json::serialize(got->metadata), R"({"owner":"ana"})");
  // The secret itself is nowhere in the database.
  auto leak = db->prepare(
      "SELECT COUNT(*) FROM keys WHERE instr(id || name || prefix || models || "
      "metadata, ?1) > 0");
  ASSERT_TRUE(leak);
  leak->bind_text(1, created->secret.substr(14));
  ASSERT_TRUE(leak->step());
  EXPECT_EQ(leak->column_int(0), 0);

  auto second = keys.create(named("team-b"), kNow + 1);
  ASSERT_TRUE(second) << second.error().message;
  auto all = keys.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].name, "team-a");
  EXPECT_EQ(all[1].name, "team-b");
  EXPECT_TRUE(all[1].models.empty());

  KeySpec patch;
  patch.rpm = 120;
  patch.models = std::vector<std::string>{};
  patch.expires_at_ms = 0;
  auto updated = keys.update(k.id, patch);
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->rpm, 120u);
  EXPECT_TRUE(updated->models.empty());
  EXPECT_EQ(updated->expires_at_ms, 0);
  EXPECT_EQ(updated->tpm, 1000u);  // untouched fields stay
  EXPECT_EQ(updated->cache_namespace, "team");
  EXPECT_EQ(keys.get(k.id)->rpm, 120u);

  auto revoked = keys.revoke(k.id, kNow + 5000);
  ASSERT_TRUE(revoked) << revoked.error().message;
  EXPECT_EQ(revoked->revoked_at_ms, kNow + 5000);
  EXPECT_EQ(keys.get(k.id)->revoked_at_ms, kNow + 5000);
  // Revoking again changes nothing.
  auto again = keys.revoke(k.id, kNow + 9000);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->revoked_at_ms, kNow + 5000);

  auto active = keys.active();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].name, "team-b");
  EXPECT_EQ(keys.list().size(), 2u);  // list keeps revoked keys
}

TEST(KeyStoreTest, UnknownIdsAreNotFound) {
  TempDir dir;
  auto db = open_db(dir);
  KeyStore keys(*db);
  auto got = keys.get("key_0000000000000000");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code, core::Errc::kNotFound);
  EXPECT_EQ(keys.update("key_nope", named("x")).error().code, core::Errc::kNotFound);
  EXPECT_EQ(keys.revoke("key_nope", kNow).error().code, core::Errc::kNotFound);
}

TEST(KeyStoreTest, NamesAreUniqueAmongActiveKeysAndFreedByRevoking) {
  TempDir dir;
  auto db = open_db(dir);
  KeyStore keys(*db);
  auto first = keys.create(named("ci"), kNow);
  ASSERT_TRUE(first);
  auto dup = keys.create(named("ci"), kNow);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, core::Errc::kInvalidRequest);
  EXPECT_EQ(dup.error().param, "name");
  EXPECT_NE(dup.error().message.find("\"ci\""), std::string::npos);

  auto other = keys.create(named("other"), kNow);
  ASSERT_TRUE(other);
  auto rename = keys.update(other->key.id, named("ci"));
  ASSERT_FALSE(rename);
  EXPECT_EQ(rename.error().param, "name");
  // Renaming a key to its own name is no conflict.
  EXPECT_TRUE(keys.update(other->key.id, named("other")));

  // A revoked key's name may be given to its replacement.
  ASSERT_TRUE(keys.revoke(first->key.id, kNow));
  auto replacement = keys.create(named("ci"), kNow);
  ASSERT_TRUE(replacement) << replacement.error().message;
  EXPECT_NE(replacement->key.id, first->key.id);
}

TEST(KeyStoreTest, ARevokedKeyCannotBeChanged) {
  TempDir dir;
  auto db = open_db(dir);
  KeyStore keys(*db);
  auto k = keys.create(named("gone"), kNow);
  ASSERT_TRUE(k);
  ASSERT_TRUE(keys.revoke(k->key.id, kNow));
  KeySpec patch;
  patch.rpm = 5;
  auto r = keys.update(k->key.id, patch);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::Errc::kInvalidRequest);
  EXPECT_NE(r.error().message.find("revoked"), std::string::npos);
}

TEST(KeyStoreTest, CreateWithoutANameIsRefused) {
  TempDir dir;
  auto db = open_db(dir);
  auto r = KeyStore(*db).create(KeySpec{}, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().param, "name");
}

TEST(KeyStoreTest, SecretsAndIdsDifferBetweenKeys) {
  TempDir dir;
  auto db = open_db(dir);
  KeyStore keys(*db);
  auto a = keys.create(named("a"), kNow);
  auto b = keys.create(named("b"), kNow);
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->secret, b->secret);
  EXPECT_NE(a->key.id, b->key.id);
  EXPECT_NE(a->key.hash, b->key.hash);
}

TEST(KeyStoreTest, TheVersionMovesWithWritesFromAnotherConnection) {
  TempDir dir;
  auto gateway = open_db(dir);
  auto cli = open_db(dir);  // as `sluice keys` in another process would
  KeyStore mine(*gateway), theirs(*cli);
  std::int64_t v0 = mine.version();
  ASSERT_GE(v0, 0);

  auto k = theirs.create(named("x"), kNow);
  ASSERT_TRUE(k);
  std::int64_t v1 = mine.version();
  EXPECT_NE(v1, v0);
  EXPECT_EQ(mine.version(), v1);  // reads alone change nothing

  KeySpec patch;
  patch.tpm = 9;
  ASSERT_TRUE(theirs.update(k->key.id, patch));
  std::int64_t v2 = mine.version();
  EXPECT_NE(v2, v1);

  ASSERT_TRUE(theirs.revoke(k->key.id, kNow));
  std::int64_t v3 = mine.version();
  EXPECT_NE(v3, v2);
  EXPECT_TRUE(mine.active().empty());

  // A write that does not touch keys leaves the version alone.
  ASSERT_TRUE(cli->exec("INSERT INTO meta (name, value) VALUES ('other', 1)"));
  EXPECT_EQ(mine.version(), v3);
}

TEST(KeyStoreTest, ASnapshotHoldsTheActiveKeysWithTheirVersion) {
  TempDir dir;
  auto db = open_db(dir);
  KeyStore keys(*db);
  ASSERT_TRUE(keys.create(named("a"), kNow));
  auto b = keys.create(named("b"), kNow);
  ASSERT_TRUE(b);
  ASSERT_TRUE(keys.revoke(b->key.id, kNow));
  auto snap = keys.snapshot();
  ASSERT_TRUE(snap) << snap.error().message;
  EXPECT_EQ(snap->version, keys.version());
  ASSERT_EQ(snap->keys.size(), 1u);
  EXPECT_EQ(snap->keys[0].name, "a");
}

}  // namespace
}  // namespace sluice::store
