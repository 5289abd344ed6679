#include "api/errors.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sluice::api {
namespace {

namespace json = boost::json;
using core::Errc;

json::object inner(const std::string& body) {
  auto v = json::parse(body);
  EXPECT_EQ(v.as_object().size(), 1u);
  return v.at("error").as_object();
}

TEST(Errors, EveryErrcHasAStatusAndTheFullShape) {
  for (Errc c :
       {Errc::kInvalidRequest, Errc::kUnauthorized, Errc::kPermissionDenied, Errc::kNotFound,
        Errc::kModelNotFound, Errc::kObjectNotFound, Errc::kMethodNotAllowed, Errc::kRequestTimeout,
        Errc::kConflict, Errc::kPayloadTooLarge, Errc::kHeadersTooLarge, Errc::kUpstreamUnreachable,
        Errc::kUpstreamProtocol, Errc::kUpstreamTimeout, Errc::kServiceUnavailable,
        Errc::kInsufficientQuota, Errc::kInternal}) {
    core::Error e(c, "message", "param");
    int status = http_status(e);
    EXPECT_GE(status, 400);
    EXPECT_LE(status, 599);
    auto o = inner(error_body(e));
    EXPECT_EQ(o.at("message"), "message");
    EXPECT_EQ(o.at("param"), "param");
    EXPECT_TRUE(o.at("type").is_string());
    EXPECT_TRUE(o.contains("code"));
  }
  EXPECT_EQ(http_status(core::Error(Errc::kUpstreamTimeout, "")), 504);
  EXPECT_EQ(http_status(core::Error(Errc::kUpstreamUnreachable, "")), 502);
  EXPECT_EQ(http_status(core::Error(Errc::kModelNotFound, "")), 404);
  core::Error conflict(Errc::kConflict, "busy");
  EXPECT_EQ(http_status(conflict), 409);
  EXPECT_EQ(error_type(conflict), "invalid_request_error");
  EXPECT_EQ(error_code(conflict), "conflict");
  // A file or batch that is not there: 404 with OpenAI's null code, unlike an unknown path's.
  core::Error missing(Errc::kObjectNotFound, "No such File object: file-x", "file_id");
  EXPECT_EQ(http_status(missing), 404);
  EXPECT_EQ(error_type(missing), "invalid_request_error");
  EXPECT_EQ(inner(error_body(missing)).at("code"), nullptr);
  EXPECT_EQ(error_code(core::Error(Errc::kNotFound, "")), "unknown_url");
  core::Error denied(Errc::kPermissionDenied, "no");
  EXPECT_EQ(http_status(denied), 403);
  EXPECT_EQ(error_type(denied), "permission_error");
}

TEST(Errors, KeysAndBudgetsHaveOpenAIsStatusesTypesAndCodes) {
  core::Error unauthorized(Errc::kUnauthorized, "Incorrect API key provided.");
  EXPECT_EQ(http_status(unauthorized), 401);
  EXPECT_EQ(error_type(unauthorized), "authentication_error");
  EXPECT_EQ(error_code(unauthorized), "invalid_api_key");
  core::Error quota(Errc::kInsufficientQuota, "You exceeded your current quota.");
  EXPECT_EQ(http_status(quota), 429);
  EXPECT_EQ(error_type(quota), "insufficient_quota");
  EXPECT_EQ(error_code(quota), "insufficient_quota");
}

TEST(Errors, UpstreamStatusPicksTheType) {
  core::Error e(Errc::kUpstreamError, "x");
  e.status = 429;
  EXPECT_EQ(http_status(e), 429);
  EXPECT_EQ(error_type(e), "rate_limit_error");
  e.status = 401;
  EXPECT_EQ(error_type(e), "authentication_error");
  e.status = 200;  // nonsense for an error: reported as a bad gateway
  EXPECT_EQ(http_status(e), 502);
}

TEST(Errors, ErrorEventIsOneSseEvent) {
  std::string ev = error_event(core::Error(Errc::kUpstreamTimeout, "slow"));
  ASSERT_TRUE(ev.starts_with("data: {"));
  ASSERT_TRUE(ev.ends_with("}\n\n"));
  EXPECT_EQ(inner(ev.substr(6)).at("code"), "upstream_timeout");
}

TEST(NormalizeUpstreamError, KeepsCompleteOpenAIErrors) {
  std::string body =
      R"({"error":{"message":"m","type":"invalid_request_error","param":null,"code":"c"}})";
  EXPECT_EQ(normalize_upstream_error(400, body), body);
}

TEST(NormalizeUpstreamError, CompletesPartialOnes) {
  auto o = inner(normalize_upstream_error(500, R"({"error":{"message":"boom"}})"));
  EXPECT_EQ(o.at("message"), "boom");
  EXPECT_EQ(o.at("type"), "server_error");
  EXPECT_TRUE(o.at("param").is_null());
}

TEST(NormalizeUpstreamError, WrapsOtherShapes) {
  EXPECT_EQ(inner(normalize_upstream_error(400, R"({"object":"error","message":"vllm says"})"))
                .at("message"),
            "vllm says");
  EXPECT_EQ(inner(normalize_upstream_error(503, R"({"detail":"loading"})")).at("message"),
            "loading");
  EXPECT_EQ(inner(normalize_upstream_error(429, R"({"error":"slow down"})")).at("type"),
            "rate_limit_error");
  auto text = inner(normalize_upstream_error(502, "<html>Bad Gateway</html>"));
  EXPECT_NE(std::string(text.at("message").as_string()).find("<html>Bad Gateway</html>"),
            std::string::npos);
  auto long_text = inner(normalize_upstream_error(500, std::string(5000, 'x')));
  EXPECT_LT(long_text.at("message").as_string().size(), 300u);
}

}  // namespace
}  // namespace sluice::api
