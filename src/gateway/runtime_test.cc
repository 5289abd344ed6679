// The local buckets a Runtime resolves for the models' and the global rate limits: one per limit
// that is set, found by the names the admit stage charges, and the same objects in the next
// snapshot, so a reload resets no limit. Without a limiter there are none.
#include "gateway/runtime.h"

#include <gtest/gtest.h>

#include <memory>

#include "config/loader.h"

namespace sluice::gateway {
namespace {

constexpr std::string_view kConfig = R"(providers:
  - name: sim
    kind: mock
models:
  - name: limited
    limits: {rpm: 500, tpm: 300000}
    deployments:
      - provider: sim
  - name: rpm-only
    limits: {rpm: 10}
    deployments:
      - provider: sim
  - name: open
    deployments:
      - provider: sim
limits:
  global: {tpm: 90000}
)";

std::shared_ptr<const config::Config> config() {
  return std::make_shared<const config::Config>(config::load_yaml(kConfig, "runtime_test"));
}

TEST(RuntimeBuckets, OnePerLimitSetSharedByTheNextSnapshot) {
  limit::GcraLimiter limiter;
  auto first = Runtime::build(config(), &limiter);
  const auto& routes = first->models().routes();
  ASSERT_EQ(routes.size(), 3u);
  const RouteBuckets* limited = first->buckets(routes[0].index);
  ASSERT_NE(limited, nullptr);
  EXPECT_EQ(limited->rpm, limiter.bucket(routes[0].rpm_bucket));
  EXPECT_EQ(limited->tpm, limiter.bucket(routes[0].tpm_bucket));
  ASSERT_NE(first->buckets(routes[1].index), nullptr);
  EXPECT_NE(first->buckets(routes[1].index)->rpm, nullptr);
  EXPECT_EQ(first->buckets(routes[1].index)->tpm, nullptr);
  EXPECT_EQ(first->buckets(routes[2].index)->rpm, nullptr);
  EXPECT_EQ(first->buckets(routes[2].index)->tpm, nullptr);
  EXPECT_EQ(first->buckets(routes.size()), nullptr);
  EXPECT_EQ(first->global_buckets().rpm, nullptr);
  EXPECT_EQ(first->global_buckets().tpm, limiter.bucket(kGlobalTpmBucket));
  EXPECT_EQ(limiter.size(), 4u);

  auto second = Runtime::build(config(), &limiter);
  EXPECT_EQ(second->buckets(0)->rpm, limited->rpm);
  EXPECT_EQ(second->buckets(0)->tpm, limited->tpm);
  EXPECT_EQ(second->global_buckets().tpm, first->global_buckets().tpm);
  EXPECT_EQ(limiter.size(), 4u);
}

TEST(RuntimeBuckets, NoneWithoutALimiter) {
  auto rt = Runtime::build(config());
  EXPECT_EQ(rt->buckets(0), nullptr);
  EXPECT_EQ(rt->global_buckets().rpm, nullptr);
  EXPECT_EQ(rt->global_buckets().tpm, nullptr);
}

}  // namespace
}  // namespace sluice::gateway
