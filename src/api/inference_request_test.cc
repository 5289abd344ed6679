#include "api/inference_request.h"

#include <gtest/gtest.h>

namespace sluice::api {
namespace {

struct Decoded {
  json::monotonic_resource arena;
  json::value storage = json::value(json::storage_ptr(&arena));
  core::Result<InferenceRequest> result = core::Error();
};

std::unique_ptr<Decoded> decode(std::string_view body, Endpoint e = Endpoint::kChatCompletions) {
  auto d = std::make_unique<Decoded>();
  d->result = decode_inference(e, body, d->storage);
  return d;
}

TEST(DecodeInference, ExposesModelStreamAndModelSpan) {
  std::string body = R"({"messages":[],"model" : "fast","stream":true})";
  auto d = decode(body);
  ASSERT_TRUE(d->result);
  EXPECT_EQ(d->result->model, "fast");
  EXPECT_TRUE(d->result->stream);
  EXPECT_EQ(body.substr(d->result->model_begin, d->result->model_end - d->result->model_begin),
            "\"fast\"");
  // The decoded tree lives in the caller's arena, not on the heap.
  EXPECT_EQ(d->result->fields->storage().get(), &d->arena);
}

TEST(DecodeInference, StreamIsIgnoredWhereTheEndpointCannotStream) {
  auto d = decode(R"({"model":"e","input":"x","stream":true})", Endpoint::kEmbeddings);
  ASSERT_TRUE(d->result);
  EXPECT_FALSE(d->result->stream);
}

TEST(DecodeInference, InvalidJsonNamesLineAndColumn) {
  auto d = decode("{\n  \"model\": \"x\",\n  \"messages\": [,]\n}");
  ASSERT_FALSE(d->result);
  EXPECT_EQ(d->result.error().code, core::Errc::kInvalidRequest);
  EXPECT_NE(d->result.error().message.find("line 3, column 16"), std::string::npos)
      << d->result.error().message;
}

TEST(DecodeInference, TrailingGarbageIsInvalid) {
  auto d = decode(R"({"model":"x"} extra)");
  ASSERT_FALSE(d->result);
  EXPECT_EQ(d->result.error().code, core::Errc::kInvalidRequest);
}

TEST(DecodeInference, ModelErrors) {
  auto missing = decode(R"({"messages":[]})");
  ASSERT_FALSE(missing->result);
  EXPECT_EQ(missing->result.error().code, core::Errc::kModelNotFound);
  EXPECT_EQ(missing->result.error().param, "model");
  auto empty = decode(R"({"model":""})");
  EXPECT_EQ(empty->result.error().code, core::Errc::kModelNotFound);
  auto number = decode(R"({"model":7})");
  EXPECT_EQ(number->result.error().code, core::Errc::kInvalidRequest);
  auto stream = decode(R"({"model":"x","stream":1})");
  EXPECT_EQ(stream->result.error().param, "stream");
}

TEST(DecodeInference, DeepNestingIsRejectedNotOverflowed) {
  std::string body =
      R"({"model":"x","a":)" + std::string(10000, '[') + std::string(10000, ']') + "}";
  auto d = decode(body);
  ASSERT_FALSE(d->result);
  EXPECT_EQ(d->result.error().code, core::Errc::kInvalidRequest);
}

TEST(FindTopLevelMember, SkipsNestedAndStringContent) {
  std::string t =
      R"({"a":{"model":"inner"},"b":"\"model\":","c":[{"model":1}],"model":"outer","d":2})";
  std::size_t b = 0, e = 0;
  ASSERT_TRUE(find_top_level_member(t, "model", b, e));
  EXPECT_EQ(t.substr(b, e - b), "\"outer\"");
}

TEST(FindTopLevelMember, DuplicateOrEscapedKeysAreNotLocated) {
  std::size_t b = 0, e = 0;
  EXPECT_FALSE(find_top_level_member(R"({"model":"a","model":"b"})", "model", b, e));
  EXPECT_FALSE(find_top_level_member(R"({"mod\u0065l":"a"})", "model", b, e));
  EXPECT_FALSE(find_top_level_member(R"({"x":1})", "model", b, e));
}

TEST(BodyWithModel, SplicesTheOriginalBytes) {
  std::string body = R"({ "model" : "alias", "messages": [ ] , "n":1 })";
  auto d = decode(body);
  ASSERT_TRUE(d->result);
  EXPECT_EQ(body_with_model(*d->result, "up\"stream"),
            R"({ "model" : "up\"stream", "messages": [ ] , "n":1 })");
}

TEST(BodyWithModel, ReserializesWhenTheKeyIsEscaped) {
  std::string body = R"({"mod\u0065l":"alias","n":1})";
  auto d = decode(body);
  ASSERT_TRUE(d->result);
  auto rewritten = json::parse(body_with_model(*d->result, "real"));
  EXPECT_EQ(rewritten.at("model"), "real");
  EXPECT_EQ(rewritten.at("n"), 1);
}

}  // namespace
}  // namespace sluice::api
