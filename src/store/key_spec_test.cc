#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "core/asio.h"
#include "store/keys.h"

namespace sluice::store {
namespace {

core::Result<KeySpec> parse(std::string_view body, SpecMode mode = SpecMode::kCreate) {
  return parse_key_spec(json::parse(body), mode);
}

TEST(KeySpecTest, ReadsEveryField) {
  auto spec = parse(R"({"name":"team-a","models":["gpt-4o*","mock"],"rpm":60,"tpm":100000,
      "max_concurrency":4,"budget":{"daily":1.5,"monthly":20,"total":100},
      "cache_namespace":"shared-team","expires_at":1798761600,"metadata":{"owner":"ana","n":1}})");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->name, "team-a");
  EXPECT_EQ(spec->models, (std::vector<std::string>{"gpt-4o*", "mock"}));
  EXPECT_EQ(spec->rpm, 60u);
  EXPECT_EQ(spec->tpm, 100000u);
  EXPECT_EQ(spec->max_concurrency, 4);
  EXPECT_EQ(spec->budget_daily, 1.5);
  EXPECT_EQ(spec->budget_monthly, 20.0);
  EXPECT_EQ(spec->budget_total, 100.0);
  EXPECT_EQ(spec->cache_namespace, "shared-team");
  EXPECT_EQ(spec->expires_at_ms, 1798761600000);
  ASSERT_TRUE(spec->metadata);
  EXPECT_EQ(json::serialize(*spec->metadata), R"({"owner":"ana","n":1})");
}

TEST(KeySpecTest, APatchSetsOnlyWhatItGives) {
  auto spec = parse(R"({"budget":{"daily":2}})", SpecMode::kPatch);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_FALSE(spec->name);
  EXPECT_FALSE(spec->rpm);
  EXPECT_EQ(spec->budget_daily, 2.0);
  EXPECT_FALSE(spec->budget_monthly);
  EXPECT_FALSE(spec->budget_total);
  auto empty = parse("{}", SpecMode::kPatch);
  EXPECT_TRUE(empty);
}

TEST(KeySpecTest, CreateRequiresAName) {
  auto spec = parse(R"({"rpm":5})");
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, core::Errc::kInvalidRequest);
  EXPECT_EQ(spec.error().param, "name");
  EXPECT_EQ(spec.error().message, "name is required");
}

TEST(KeySpecTest, WholeNumbersWrittenAsFloatsAreLimits) {
  auto spec = parse(R"({"name":"x","rpm":60.0,"tpm":1e3})");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->rpm, 60u);
  EXPECT_EQ(spec->tpm, 1000u);
}

TEST(KeySpecTest, NullClearsTheExpiryAndTheSharedNamespace) {
  auto spec = parse(R"({"expires_at":null,"cache_namespace":null})", SpecMode::kPatch);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->expires_at_ms, 0);
  EXPECT_EQ(spec->cache_namespace, "");
}

TEST(KeySpecTest, AnExpiryInThePastIsAccepted) {
  // The key is expired at once: a way to stop a key for now without revoking it.
  auto spec = parse(R"({"name":"x","expires_at":1000000})");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->expires_at_ms, 1000000000);
}

struct BadCase {
  const char* body;
  const char* param;
  const char* message;  // a substring
};

class KeySpecBadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(KeySpecBadInputTest, IsRefusedNamingTheField) {
  const BadCase& c = GetParam();
  auto spec = parse(c.body, SpecMode::kPatch);
  ASSERT_FALSE(spec) << c.body;
  EXPECT_EQ(spec.error().code, core::Errc::kInvalidRequest);
  EXPECT_EQ(spec.error().param, c.param) << c.body;
  EXPECT_NE(spec.error().message.find(c.message), std::string::npos)
      << c.body << " -> " << spec.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, KeySpecBadInputTest,
    ::testing::Values(
        BadCase{R"({"nmae":"x"})", "nmae", "unknown field \"nmae\""},
        BadCase{R"({"id":"key_1"})", "id", "id cannot be set"},
        BadCase{R"({"secret":"sk-sluice-x"})", "secret", "secret cannot be set"},
        BadCase{R"({"rpm":-1})", "rpm", "rpm must not be negative"},
        BadCase{R"({"rpm":1.5})", "rpm", "rpm must be a whole number, not 1.5"},
        BadCase{R"({"rpm":"60"})", "rpm", "rpm must be a whole number, not a string"},
        BadCase{R"({"tpm":true})", "tpm", "tpm must be a whole number, not a boolean"},
        BadCase{R"({"tpm":18446744073709551615})", "tpm",
                "tpm must be at most 9223372036854775807"},
        BadCase{R"({"max_concurrency":-3})", "max_concurrency", "must not be negative"},
        BadCase{R"({"max_concurrency":4294967296})", "max_concurrency", "at most 2147483647"},
        BadCase{R"({"budget":{"daily":-1}})", "budget.daily", "budget.daily must not be negative"},
        BadCase{R"({"budget":{"monthly":"5"}})", "budget.monthly", "budget.monthly must be a num"},
        BadCase{R"({"budget":{"weekly":5}})", "budget.weekly", "unknown field budget.weekly"},
        BadCase{R"({"budget":5})", "budget", "budget must be an object"},
        BadCase{R"({"models":"gpt-4o"})", "models", "models must be an array"},
        BadCase{R"({"models":["gpt-4o",7]})", "models", "models[1] must be a string"},
        BadCase{R"({"models":[""]})", "models", "models[0] must not be empty"},
        BadCase{R"({"models":["gpt 4o"]})", "models", "models[0] must not contain spaces"},
        BadCase{R"({"models":["gpt-[34]o"]})", "models", "models[0] uses [...]"},
        BadCase{R"({"name":""})", "name", "name must not be empty"},
        BadCase{R"({"name":7})", "name", "name must be a string"},
        BadCase{R"({"name":"tab\there"})", "name", "control characters"},
        BadCase{R"({"cache_namespace":"key_0123456789abcdef"})", "cache_namespace",
                "must not start with \"key_\""},
        BadCase{R"({"cache_namespace":"a b"})", "cache_namespace", "only letters, digits"},
        BadCase{R"({"cache_namespace":5})", "cache_namespace", "must be a string"},
        BadCase{R"({"expires_at":"2027-01-01"})", "expires_at", "unix time in seconds"},
        BadCase{R"({"expires_at":0})", "expires_at", "greater than 0"},
        BadCase{R"({"expires_at":-5})", "expires_at", "greater than 0"},
        BadCase{R"({"expires_at":1e15})", "expires_at", "at most 253402300799"},
        BadCase{R"({"metadata":[1]})", "metadata", "metadata must be an object"},
        BadCase{R"([1,2])", "", "must be a JSON object"}));

TEST(KeySpecTest, NamesAndMetadataHaveBounds) {
  std::string long_name = R"({"name":")" + std::string(kMaxNameBytes + 1, 'n') + R"("})";
  auto name = parse(long_name);
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().param, "name");
  EXPECT_NE(name.error().message.find("at most 100 bytes"), std::string::npos);
  std::string exact = R"({"name":")" + std::string(kMaxNameBytes, 'n') + R"("})";
  EXPECT_TRUE(parse(exact));

  std::string big = R"({"metadata":{"k":")" + std::string(kMaxMetadataBytes, 'v') + R"("}})";
  auto meta = parse(big, SpecMode::kPatch);
  ASSERT_FALSE(meta);
  EXPECT_EQ(meta.error().param, "metadata");
}

TEST(KeyJsonTest, ShowsEverythingButTheHash) {
  KeyRecord k;
  k.id = "key_0123456789abcdef";
  k.name = "team-a";
  k.hash = std::string(32, '\x01');
  k.prefix = "sk-sluice-AbCd";
  k.models = {"gpt-4o*"};
  k.rpm = 60;
  k.budget_daily = 1.5;
  k.expires_at_ms = 1798761600123;
  k.metadata = {{"owner", "ana"}};
  k.created_at_ms = 1767225600999;
  json::object o = key_json(k);
  EXPECT_EQ(json::serialize(o),
            R"({"id":"key_0123456789abcdef","object":"sluice.key","name":"team-a",)"
            R"("prefix":"sk-sluice-AbCd","models":["gpt-4o*"],"rpm":60,"tpm":0,)"
            R"("max_concurrency":0,"budget":{"daily":1.5E0,"monthly":0E0,"total":0E0},)"
            R"("cache_namespace":null,"expires_at":1798761600,"metadata":{"owner":"ana"},)"
            R"("created_at":1767225600,"revoked_at":null})");
  k.cache_namespace = "shared";
  k.revoked_at_ms = 1767225700000;
  k.expires_at_ms = 0;
  o = key_json(k);
  EXPECT_EQ(o["cache_namespace"], "shared");
  EXPECT_EQ(o["revoked_at"], 1767225700);
  EXPECT_TRUE(o["expires_at"].is_null());
}

TEST(KeyJsonTest, RoundTripsThroughParseKeySpecAfterRemovingReadOnlyFields) {
  KeyRecord k;
  k.id = "key_0123456789abcdef";
  k.name = "x";
  k.models = {"a*", "b?"};
  k.tpm = 5;
  k.budget_total = 3;
  k.cache_namespace = "team";
  k.expires_at_ms = 2000000000000;
  json::object o = key_json(k);
  for (const char* f : {"id", "object", "prefix", "created_at", "revoked_at"}) o.erase(f);
  auto spec = parse_key_spec(o, SpecMode::kCreate);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->models, k.models);
  EXPECT_EQ(spec->tpm, 5u);
  EXPECT_EQ(spec->budget_total, 3.0);
  EXPECT_EQ(spec->cache_namespace, "team");
  EXPECT_EQ(spec->expires_at_ms, k.expires_at_ms);
}

}  // namespace
}  // namespace sluice::store
