#include "api/inference_request.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sluice::api {
namespace {

core::Result<InferenceRequest> decode(std::string_view body,
                                      Endpoint e = Endpoint::kChatCompletions) {
  return decode_inference(e, body);
}

std::string span_of(const InferenceRequest& r) {
  return std::string(r.body.substr(r.model_begin, r.model_end - r.model_begin));
}

TEST(DecodeInference, ExposesModelStreamAndModelSpan) {
  std::string body = R"({"messages":[{"model":"inner"}],"model" : "fast","stream":true})";
  auto r = decode(body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->model(), "fast");
  EXPECT_TRUE(r->stream);
  EXPECT_EQ(span_of(*r), "\"fast\"");
}

TEST(DecodeInference, NestedAndStringContentIsNotMistakenForTheModel) {
  std::string body =
      R"({"a":{"model":"inner"},"b":"\"model\":\"x\"","c":[{"model":1}],"model":"outer","d":2})";
  auto r = decode(body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->model(), "outer");
  EXPECT_EQ(span_of(*r), "\"outer\"");
}

TEST(DecodeInference, EscapedModelHasNoSpan) {
  auto r = decode(R"({"model":"gpt\u002d4o"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->model(), "gpt-4o");
  EXPECT_EQ(r->model_begin, r->model_end);
  auto key = decode(R"({"mod\u0065l":"fast"})");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->model(), "fast");
}

TEST(DecodeInference, StreamIsIgnoredWhereTheEndpointCannotStream) {
  auto r = decode(R"({"model":"e","input":"x","stream":true})", Endpoint::kEmbeddings);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->stream);
  auto null_stream = decode(R"({"model":"e","stream":null})");
  ASSERT_TRUE(null_stream);
  EXPECT_FALSE(null_stream->stream);
}

TEST(DecodeInference, InvalidJsonNamesLineAndColumn) {
  auto r = decode("{\n  \"model\": \"x\",\n  \"messages\": [,]\n}");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::Errc::kInvalidRequest);
  EXPECT_NE(r.error().message.find("line 3, column 16"), std::string::npos) << r.error().message;
}

TEST(DecodeInference, TrailingGarbageAndTruncationAreInvalid) {
  for (std::string_view bad : {R"({"model":"x"} extra)", R"({"model":"x")", "", "   "}) {
    auto r = decode(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, core::Errc::kInvalidRequest) << bad;
  }
}

TEST(DecodeInference, BodyMustBeAnObject) {
  for (std::string_view bad : {"[1]", "\"model\"", "42", "true", "null"}) {
    auto r = decode(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("must be a JSON object"), std::string::npos) << bad;
  }
}

TEST(DecodeInference, ModelErrors) {
  auto missing = decode(R"({"messages":[]})");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, core::Errc::kModelNotFound);
  EXPECT_EQ(missing.error().param, "model");
  EXPECT_EQ(decode(R"({"model":""})").error().code, core::Errc::kModelNotFound);
  EXPECT_EQ(decode(R"({"model":null})").error().code, core::Errc::kModelNotFound);
  for (std::string_view bad :
       {R"({"model":7})", R"({"model":["x"]})", R"({"model":{}})", R"({"model":true})"}) {
    auto r = decode(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, core::Errc::kInvalidRequest) << bad;
    EXPECT_EQ(r.error().param, "model") << bad;
  }
  auto stream = decode(R"({"model":"x","stream":1})");
  EXPECT_EQ(stream.error().param, "stream");
  auto stream_text = decode(R"({"model":"x","stream":"yes"})");
  EXPECT_EQ(stream_text.error().param, "stream");
}

TEST(DecodeInference, DuplicateModelOrStreamIsRejected) {
  auto model = decode(R"({"model":"a","model":"b"})");
  ASSERT_FALSE(model);
  EXPECT_EQ(model.error().param, "model");
  auto stream = decode(R"({"model":"a","stream":true,"stream":false})");
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error().param, "stream");
  // Nested members of the same names are not duplicates.
  EXPECT_TRUE(decode(R"({"model":"a","x":{"model":"b","stream":1}})"));
}

TEST(DecodeInference, DeepNestingIsRejectedNotOverflowed) {
  std::string body =
      R"({"model":"x","a":)" + std::string(10000, '[') + std::string(10000, ']') + "}";
  auto r = decode(body);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::Errc::kInvalidRequest);
}

TEST(BodyWithModel, SplicesTheOriginalBytes) {
  std::string body = R"({ "model" : "alias", "messages": [ ] , "n":1 })";
  auto r = decode(body);
  ASSERT_TRUE(r);
  EXPECT_EQ(body_with_model(*r, "up\"stream"),
            R"({ "model" : "up\"stream", "messages": [ ] , "n":1 })");
}

TEST(BodyWithModel, ReserializesWhenTheModelIsEscaped) {
  std::string body = R"({"model":"ali\u0061s","n":1})";
  auto r = decode(body);
  ASSERT_TRUE(r);
  auto rewritten = boost::json::parse(body_with_model(*r, "real"));
  EXPECT_EQ(rewritten.at("model"), "real");
  EXPECT_EQ(rewritten.at("n"), 1);
}

TEST(DecodeInference, UserAndPromptStartForRoutingAffinity) {
  std::string body =
      R"({"model":"m","user":"u-\u0041","messages":[{"role":"user","content":"hi"}],"x":{"user":1}})";
  auto r = decode(body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->user, "u-A");
  ASSERT_GT(r->prompt_begin, 0u);
  EXPECT_EQ(body.substr(r->prompt_begin, 4), R"(:[{")");

  auto e = decode(R"({"model":"m","input":"abc","user":7})", Endpoint::kEmbeddings);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->user, "");  // not a string: left for the upstream to judge
  EXPECT_EQ(e->body.substr(e->prompt_begin, 6), R"(:"abc")");

  auto none = decode(R"({"model":"m"})");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->prompt_begin, 0u);
}

// The prompt's value, as the token reservation reads it: from after the colon to its last byte,
// wherever the member stands and whatever whitespace surrounds it.
TEST(DecodeInference, PromptEndsWhereItsValueEnds) {
  auto value = [](const InferenceRequest& r) {
    std::size_t colon = r.body.find(':', r.prompt_begin);
    return r.body.substr(colon + 1, r.prompt_end - colon - 1);
  };
  std::string middle = R"({"model":"m","messages":[{"role":"user","content":"a,b}"}] , "n":1})";
  auto r = decode(middle);
  ASSERT_TRUE(r);
  EXPECT_EQ(value(*r), R"([{"role":"user","content":"a,b}"}])");

  std::string last = "{\"model\":\"m\",\"messages\": [{\"role\":\"user\",\"content\":\"x\"}]\n }\n";
  r = decode(last);
  ASSERT_TRUE(r);
  EXPECT_EQ(value(*r), R"( [{"role":"user","content":"x"}])");

  std::string text = R"({"prompt":"say \"hi\"","model":"m"})";
  r = decode(text, Endpoint::kCompletions);
  ASSERT_TRUE(r);
  EXPECT_EQ(value(*r), R"("say \"hi\"")");

  // A second prompt member does not move the first one's end.
  std::string twice = R"({"model":"m","input":[1,2],"input":"zzz"})";
  r = decode(twice, Endpoint::kEmbeddings);
  ASSERT_TRUE(r);
  EXPECT_EQ(value(*r), "[1,2]");
}

TEST(DecodeInference, WhatATokenReservationNeeds) {
  std::string body =
      R"({"model":"m","max_completion_tokens":300,"n":2,"messages":[{"role":"user","content":"hello"}],)"
      R"("stream":true,"stream_options":{"include_usage":true},"x":{"max_tokens":9}})";
  auto r = decode(body);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->max_tokens, 300u);
  EXPECT_EQ(r->n, 2u);
  EXPECT_EQ(r->prompt_bytes, 4u + 5u);  // "user" and "hello"
  EXPECT_TRUE(r->include_usage);
  EXPECT_TRUE(r->has_stream_options);

  auto plain =
      decode(R"({"model":"m","max_tokens":-3,"n":"x","prompt":"abc"})", Endpoint::kCompletions);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->max_tokens, 0u);  // not a count: the upstream judges it
  EXPECT_EQ(plain->n, 0u);
  EXPECT_EQ(plain->prompt_bytes, 3u);
  EXPECT_FALSE(plain->include_usage);
  EXPECT_FALSE(plain->has_stream_options);

  auto off = decode(R"({"model":"m","stream_options":{"include_usage":false}})");
  ASSERT_TRUE(off);
  EXPECT_FALSE(off->include_usage);
  EXPECT_TRUE(off->has_stream_options);
}

TEST(BodyWithStreamUsage, SplicesTheMemberBeforeTheClosingBrace) {
  std::string body = R"({"model":"m","stream":true} )";
  auto r = decode(body);
  ASSERT_TRUE(r);
  std::string out = body_with_stream_usage(*r);
  EXPECT_EQ(out, R"({"model":"m","stream":true,"stream_options":{"include_usage":true}} )");
  // The model's offsets are still right, so the alias can be rewritten after.
  InferenceRequest moved = *r;
  moved.body = out;
  EXPECT_EQ(moved.model(), "m");
}

TEST(BodyWithStreamUsage, TurnsAnExistingOptionOn) {
  std::string body = R"({"model":"m","stream":true,"stream_options":{"include_usage":false}})";
  auto r = decode(body);
  ASSERT_TRUE(r);
  auto doc = boost::json::parse(body_with_stream_usage(*r));
  EXPECT_EQ(doc.at("stream_options").at("include_usage"), true);
  EXPECT_EQ(doc.at("model"), "m");
}

}  // namespace
}  // namespace sluice::api
