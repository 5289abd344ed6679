#include "support/openai_error.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sluice::testing {

namespace json = boost::json;

json::object openai_error(const Response& r) {
  json::value v = json::parse(r.body);
  EXPECT_TRUE(v.is_object()) << r.body;
  const auto& outer = v.as_object();
  EXPECT_EQ(outer.size(), 1u) << r.body;
  const auto& inner = outer.at("error").as_object();
  EXPECT_TRUE(inner.at("message").is_string()) << r.body;
  EXPECT_FALSE(inner.at("message").as_string().empty());
  EXPECT_TRUE(inner.at("type").is_string()) << r.body;
  EXPECT_TRUE(inner.contains("param")) << r.body;
  EXPECT_TRUE(inner.contains("code")) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  return inner;
}

}  // namespace sluice::testing
