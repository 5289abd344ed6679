#include "mock/fault_defaults.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <atomic>
#include <thread>
#include <vector>

namespace sluice::mock {
namespace {

TEST(MockFaultDefaults, JsonRoundTrip) {
  auto f =
      faults_from_json(R"({"status":503,"retry_after":2,"cut_after":3,"hang":true,"delay_ms":100,)"
                       R"("tokens_per_second":12.5,"tokens":50})");
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->status, 503);
  EXPECT_EQ(f->retry_after, 2);
  EXPECT_EQ(f->cut_after, 3);
  EXPECT_TRUE(f->hang);
  EXPECT_EQ(f->delay, Duration(100));
  EXPECT_EQ(f->tokens_per_second, 12.5);
  EXPECT_EQ(f->tokens, 50);
  auto again = faults_from_json(faults_to_json(*f));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *f);
}

TEST(MockFaultDefaults, EmptyAndNullFieldsAreUnset) {
  auto f = faults_from_json(R"({"status":null,"hang":false})");
  ASSERT_TRUE(f);
  EXPECT_EQ(*f, Faults{});
  EXPECT_EQ(faults_to_json(*f), "{}");
  auto empty = faults_from_json("{}");
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, Faults{});
}

TEST(MockFaultDefaults, BadBodiesNameTheField) {
  struct Case {
    const char* body;
    const char* param;
  };
  for (auto [body, param] :
       {Case{"{oops", ""}, Case{"[]", ""}, Case{R"({"status":"x"})", "status"},
        Case{R"({"status":99})", "status"}, Case{R"({"status":600})", "status"},
        Case{R"({"retry_after":-1})", "retry_after"}, Case{R"({"cut_after":1.5})", "cut_after"},
        Case{R"({"hang":"yes"})", "hang"}, Case{R"({"delay_ms":-5})", "delay_ms"},
        Case{R"({"tokens_per_second":0})", "tokens_per_second"},
        Case{R"({"tokens":100001})", "tokens"}, Case{R"({"statuss":500})", "statuss"}}) {
    auto f = faults_from_json(body);
    ASSERT_FALSE(f) << body;
    EXPECT_EQ(f.error().code, core::Errc::kInvalidRequest) << body;
    EXPECT_EQ(f.error().param, param) << body;
  }
}

TEST(MockFaultDefaults, SetGetAndClear) {
  FaultDefaults d;
  EXPECT_EQ(d.get(), nullptr);
  Faults f;
  f.status = 500;
  d.set(f);
  ASSERT_NE(d.get(), nullptr);
  EXPECT_EQ(*d.get(), f);
  d.set(Faults{});
  EXPECT_EQ(d.get(), nullptr);
}

// For the sanitizers: workers reading while the test sets and clears.
TEST(MockFaultDefaults, ConcurrentReadersSeeWholeValues) {
  FaultDefaults d;
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto f = d.get();
        if (f) {
          EXPECT_EQ(f->status, f->retry_after + 400);
        }
      }
    });
  }
  for (int i = 0; i < 2000; ++i) {
    Faults f;
    f.status = 400 + i % 100;
    f.retry_after = i % 100;
    d.set(i % 3 == 0 ? Faults{} : f);
  }
  stop = true;
  for (auto& t : readers) t.join();
}

}  // namespace
}  // namespace sluice::mock
