#include "http/multipart.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace sluice::http {
namespace {

using ::testing::HasSubstr;

// What the official OpenAI Node client (undici's FormData) sends for files.create.
const std::string kUpload =
    "------formdata-undici-0123\r\n"
    "Content-Disposition: form-data; name=\"purpose\"\r\n"
    "\r\n"
    "batch\r\n"
    "------formdata-undici-0123\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"input.jsonl\"\r\n"
    "Content-Type: application/jsonl\r\n"
    "\r\n"
    "{\"custom_id\":\"a\"}\n{\"custom_id\":\"b\"}\n\r\n"
    "------formdata-undici-0123--\r\n";

std::string error_of(std::string_view body, std::string_view boundary) {
  auto parsed = parse_multipart(body, boundary);
  EXPECT_FALSE(parsed) << "parsed " << body;
  return parsed ? std::string() : parsed.error().message;
}

TEST(MultipartBoundary, FromTheContentType) {
  EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=----formdata-undici-0123").value(),
            "----formdata-undici-0123");
  EXPECT_EQ(multipart_boundary("Multipart/Form-Data;boundary=\"a b:c\"").value(), "a b:c");
  EXPECT_EQ(multipart_boundary("multipart/form-data; charset=utf-8; BOUNDARY=xyz").value(), "xyz");
}

TEST(MultipartBoundary, RefusesOtherTypesAndBadBoundaries) {
  EXPECT_THAT(multipart_boundary("application/json").error().message,
              HasSubstr("must be multipart/form-data (got \"application/json\")"));
  EXPECT_THAT(multipart_boundary("").error().message, HasSubstr("no Content-Type"));
  EXPECT_THAT(multipart_boundary("multipart/form-data").error().message,
              HasSubstr("no boundary parameter"));
  EXPECT_THAT(multipart_boundary("multipart/form-data; boundary=\"unterminated").error().message,
              HasSubstr("no boundary parameter"));
  EXPECT_THAT(multipart_boundary("multipart/form-data; boundary=\"\"").error().message,
              HasSubstr("1 to 70"));
  EXPECT_THAT(
      multipart_boundary("multipart/form-data; boundary=" + std::string(71, 'a')).error().message,
      HasSubstr("1 to 70"));
  EXPECT_THAT(
      multipart_boundary("multipart/form-data; boundary=\"ends with space \"").error().message,
      HasSubstr("1 to 70"));
  EXPECT_THAT(multipart_boundary("multipart/form-data; boundary=a\"b").error().message,
              HasSubstr("1 to 70"));
}

TEST(Multipart, ReadsTheOfficialClientsUpload) {
  auto parts = parse_multipart(kUpload, "----formdata-undici-0123");
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "purpose");
  EXPECT_FALSE((*parts)[0].filename);
  EXPECT_EQ((*parts)[0].body, "batch");
  EXPECT_EQ((*parts)[1].name, "file");
  EXPECT_EQ((*parts)[1].filename, "input.jsonl");
  EXPECT_EQ((*parts)[1].content_type, "application/jsonl");
  // The file's own last line end stays; only the CRLF before the delimiter is framing.
  EXPECT_EQ((*parts)[1].body, "{\"custom_id\":\"a\"}\n{\"custom_id\":\"b\"}\n");
  // Views into the body, not copies.
  EXPECT_GE((*parts)[1].body.data(), kUpload.data());
  EXPECT_LT((*parts)[1].body.data(), kUpload.data() + kUpload.size());
  EXPECT_EQ(find_part(*parts, "file"), &(*parts)[1]);
  EXPECT_EQ(find_part(*parts, "missing"), nullptr);
}

TEST(Multipart, PreambleEpiloguePaddingAndBareLineFeeds) {
  std::string body =
      "This is the preamble.\r\n"
      "--XyZ  \t\r\n"
      "content-disposition: FORM-DATA; filename=a.txt; name=f\n"
      "\n"
      "line one\r\nline two\r\n"
      "--XyZ--\r\n"
      "epilogue, ignored\r\n--XyZ\r\nnot a part";
  auto parts = parse_multipart(body, "XyZ");
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].name, "f");
  EXPECT_EQ((*parts)[0].filename, "a.txt");
  EXPECT_EQ((*parts)[0].body, "line one\r\nline two");
}

TEST(Multipart, QuotedParametersKeepSemicolonsAndEscapes) {
  std::string body =
      "--b\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"we\\\"ird; name=x.jsonl\"\r\n"
      "\r\n"
      "x\r\n"
      "--b--";
  auto parts = parse_multipart(body, "b");
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].name, "file");
  EXPECT_EQ((*parts)[0].filename, "we\"ird; name=x.jsonl");
  EXPECT_EQ((*parts)[0].body, "x");
}

TEST(Multipart, EmptyPartsAndCrlfAtTheEdges) {
  std::string body =
      "--b\r\n"
      "Content-Disposition: form-data; name=\"empty\"\r\n"
      "\r\n"
      "\r\n"
      "--b\r\n"
      "Content-Disposition: form-data; name=\"crlf\"\r\n"
      "\r\n"
      "\r\n\r\n"
      "--b\r\n"
      "Content-Disposition: form-data; name=\"cr\"\r\n"
      "\r\n"
      "\r"
      "\r\n"
      "--b--";
  auto parts = parse_multipart(body, "b");
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 3u);
  EXPECT_EQ((*parts)[0].body, "");
  EXPECT_EQ((*parts)[1].body, "\r\n");
  EXPECT_EQ((*parts)[2].body, "\r");
}

TEST(Multipart, TheBoundaryInsideContentIsContentUnlessItEndsTheLine) {
  std::string body =
      "--b\r\n"
      "Content-Disposition: form-data; name=\"file\"\r\n"
      "\r\n"
      "--b is here but not at a line start\r\n"
      "--bb starts a line but is a longer word\r\n"
      "--b-not-a-delimiter\r\n"
      "end\r\n"
      "--b--\r\n";
  auto parts = parse_multipart(body, "b");
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].body,
            "--b is here but not at a line start\r\n"
            "--bb starts a line but is a longer word\r\n"
            "--b-not-a-delimiter\r\n"
            "end");
}

TEST(Multipart, MissingPiecesAreClearErrors) {
  EXPECT_THAT(error_of("no delimiter at all", "b"), HasSubstr("no part starts with the boundary"));
  EXPECT_THAT(error_of("--b--\r\n", "b"), HasSubstr("has no parts"));
  EXPECT_THAT(
      error_of("--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nbody without end", "b"),
      HasSubstr("ends before the closing boundary (--b--)"));
  // A delimiter that is never closed is still a missing close.
  EXPECT_THAT(
      error_of("--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nx\r\n--b\r\n", "b"),
      HasSubstr("headers of part 2 do not end"));
  EXPECT_THAT(error_of("--b\r\nContent-Disposition: form-data; name=\"f\"\r\n", "b"),
              HasSubstr("headers of part 1 do not end"));
  EXPECT_THAT(error_of("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", "b"),
              HasSubstr("part 1 has no Content-Disposition"));
  EXPECT_THAT(error_of("--b\r\nContent-Disposition: attachment; name=\"f\"\r\n\r\nx\r\n--b--", "b"),
              HasSubstr("must be form-data, got \"attachment\""));
  EXPECT_THAT(
      error_of("--b\r\nContent-Disposition: form-data; filename=\"f\"\r\n\r\nx\r\n--b--", "b"),
      HasSubstr("part 1 has no name"));
  EXPECT_THAT(error_of("--b\r\nContent-Disposition: form-data; name=\"f\r\n\r\nx\r\n--b--", "b"),
              HasSubstr("malformed parameters"));
  EXPECT_THAT(error_of("--b\r\nno colon here\r\n\r\nx\r\n--b--", "b"),
              HasSubstr("malformed header line"));
}

TEST(Multipart, BoundsOnHeadersAndParts) {
  std::string long_header = "--b\r\nContent-Disposition: form-data; name=\"f\"\r\nX-Pad: " +
                            std::string(kMaxPartHeaderBytes, 'p') + "\r\n\r\nx\r\n--b--";
  EXPECT_THAT(error_of(long_header, "b"), HasSubstr("do not end within 8KiB"));

  std::string many;
  for (std::size_t i = 0; i <= kMaxMultipartParts; ++i) {
    many +=
        "--b\r\nContent-Disposition: form-data; name=\"p" + std::to_string(i) + "\"\r\n\r\nx\r\n";
  }
  many += "--b--";
  EXPECT_THAT(error_of(many, "b"), HasSubstr("more than 32 parts"));
}

}  // namespace
}  // namespace sluice::http
