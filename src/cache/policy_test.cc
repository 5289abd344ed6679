#include "cache/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace sluice::cache {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

config::Cache enabled() {
  config::Cache c;
  c.enabled = true;
  c.ttl = 600s;
  return c;
}

http::Fields fields(std::vector<std::pair<std::string_view, std::string_view>> list) {
  http::Fields f;
  for (auto [name, value] : list) f.add(beast::http::string_to_field(name), name, value);
  return f;
}

Policy policy(std::vector<std::pair<std::string_view, std::string_view>> headers,
              bool deterministic = false, config::Cache c = enabled()) {
  auto p = request_policy(c, fields(std::move(headers)), deterministic);
  EXPECT_TRUE(p) << (p ? "" : p.error().message);
  return p ? *p : Policy{};
}

core::Error failure(std::vector<std::pair<std::string_view, std::string_view>> headers) {
  auto p = request_policy(enabled(), fields(std::move(headers)), false);
  EXPECT_FALSE(p);
  return p ? core::Error() : p.error();
}

TEST(CachePolicyTest, DefaultLooksUpAndStoresForTheConfiguredTtl) {
  Policy p = policy({});
  EXPECT_TRUE(p.lookup);
  EXPECT_TRUE(p.store);
  EXPECT_EQ(p.ttl_ms, 600000);
  EXPECT_LT(p.max_age_ms, 0);
}

TEST(CachePolicyTest, NoCacheSkipsTheLookupButStores) {
  Policy p = policy({{"Cache-Control", "no-cache"}});
  EXPECT_FALSE(p.lookup);
  EXPECT_TRUE(p.store);
  EXPECT_EQ(p.bypass_reason, "no-cache");
}

TEST(CachePolicyTest, NoStoreDoesNeither) {
  Policy p = policy({{"cache-control", "No-Store"}});
  EXPECT_FALSE(p.lookup);
  EXPECT_FALSE(p.store);
}

TEST(CachePolicyTest, MaxAgeBoundsTheEntryAge) {
  EXPECT_EQ(policy({{"Cache-Control", "max-age=30"}}).max_age_ms, 30000);
  EXPECT_EQ(policy({{"Cache-Control", "private, max-age = 5 , must-revalidate"}}).max_age_ms, 5000);
  // Several directives or lines: the strictest wins.
  EXPECT_EQ(policy({{"Cache-Control", "max-age=60"}, {"Cache-Control", "max-age=10"}}).max_age_ms,
            10000);
  EXPECT_EQ(policy({{"Cache-Control", "max-age=0"}}).max_age_ms, 0);
  EXPECT_EQ(policy({{"Cache-Control", "max-age=\"7\""}}).max_age_ms, 7000);
}

TEST(CachePolicyTest, TtlHeaderSetsTheStoredLifetime) {
  EXPECT_EQ(policy({{"x-sluice-cache-ttl", "120"}}).ttl_ms, 120000);
  Policy zero = policy({{"x-sluice-cache-ttl", "0"}});
  EXPECT_FALSE(zero.store);
  EXPECT_TRUE(zero.lookup);
}

TEST(CachePolicyTest, MalformedValuesAre400NamingTheHeader) {
  for (std::string_view bad : {"max-age=ten", "max-age=-1", "max-age", "max-age=1.5"}) {
    core::Error e = failure({{"Cache-Control", bad}});
    EXPECT_EQ(e.code, core::Errc::kInvalidRequest) << bad;
    EXPECT_THAT(e.message, HasSubstr("Invalid Cache-Control header")) << bad;
  }
  for (std::string_view bad : {"soon", "-5", "31536001", "1e3", ""}) {
    if (bad.empty()) continue;  // an empty header is no header
    core::Error e = failure({{"x-sluice-cache-ttl", bad}});
    EXPECT_THAT(e.message, HasSubstr("Invalid x-sluice-cache-ttl header")) << bad;
  }
}

TEST(CachePolicyTest, UnknownDirectivesAreIgnored) {
  Policy p = policy({{"Cache-Control", "private, stale-while-revalidate=30"}});
  EXPECT_TRUE(p.lookup);
  EXPECT_TRUE(p.store);
}

TEST(CachePolicyTest, OnlyDeterministicBypassesTheRest) {
  config::Cache c = enabled();
  c.only_deterministic = true;
  Policy random = policy({}, false, c);
  EXPECT_FALSE(random.lookup);
  EXPECT_FALSE(random.store);
  EXPECT_EQ(random.bypass_reason, "not deterministic");
  EXPECT_TRUE(policy({}, true, c).lookup);
}

TEST(CachePolicyTest, EndpointsFollowTheConfiguration) {
  config::Cache c = enabled();
  EXPECT_TRUE(endpoint_cached(c, api::Endpoint::kChatCompletions));
  EXPECT_TRUE(endpoint_cached(c, api::Endpoint::kEmbeddings));
  EXPECT_FALSE(endpoint_cached(c, api::Endpoint::kImageGenerations));
  c.enabled = false;
  EXPECT_FALSE(endpoint_cached(c, api::Endpoint::kChatCompletions));
}

}  // namespace
}  // namespace sluice::cache
