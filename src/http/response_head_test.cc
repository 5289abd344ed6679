#include "http/response_head.h"

#include <gtest/gtest.h>

#include <regex>

namespace sluice::http {
namespace {

TEST(ResponseHead, JsonResponse) {
  std::string out;
  Header extra[] = {{"retry-after", "3"}};
  HeadOptions o;
  o.status = 429;
  o.content_type = "application/json";
  o.content_length = 42;
  o.request_id = "req_1";
  o.extra = extra;
  write_head(out, o);
  std::regex expected(
      "HTTP/1\\.1 429 Too Many Requests\r\n"
      "date: [A-Z][a-z]{2}, \\d{2} [A-Z][a-z]{2} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT\r\n"
      "content-type: application/json\r\n"
      "content-length: 42\r\n"
      "x-request-id: req_1\r\n"
      "retry-after: 3\r\n"
      "\r\n");
  EXPECT_TRUE(std::regex_match(out, expected)) << out;
}

TEST(ResponseHead, ChunkedAndClose) {
  std::string out;
  HeadOptions o;
  o.content_length = kChunked;
  o.close = true;
  write_head(out, o);
  EXPECT_NE(out.find("transfer-encoding: chunked\r\n"), std::string::npos);
  EXPECT_NE(out.find("connection: close\r\n"), std::string::npos);
  EXPECT_EQ(out.find("content-length"), std::string::npos);
}

TEST(ResponseHead, UntilCloseHasNoLength) {
  std::string out;
  HeadOptions o;
  o.content_length = kUntilClose;
  write_head(out, o);
  EXPECT_EQ(out.find("content-length"), std::string::npos);
  EXPECT_EQ(out.find("transfer-encoding"), std::string::npos);
}

TEST(ResponseHead, UnknownStatusKeepsItsNumber) {
  EXPECT_EQ(status_line(200), "200 OK");
  EXPECT_EQ(status_line(418).substr(0, 4), "418 ");
  EXPECT_EQ(status_line(42).substr(0, 4), "500 ");
}

TEST(ResponseHead, ChunkSizeIsHex) {
  std::string out;
  append_chunk_size(out, 255);
  EXPECT_EQ(out, "ff\r\n");
}

}  // namespace
}  // namespace sluice::http
