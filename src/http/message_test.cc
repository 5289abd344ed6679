#include "http/message.h"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

namespace sluice::http {
namespace {

namespace bhttp = boost::beast::http;

template <class Parser>
beast::error_code feed(Parser& parser, std::string_view bytes) {
  beast::error_code ec;
  parser.eager(true);
  std::size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  EXPECT_TRUE(ec || used == bytes.size());
  return ec;
}

TEST(RequestParser, KeepsStartLineFieldsAndBody) {
  Request request;
  RequestParser parser(request);
  auto ec = feed(parser,
                 "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\nX-Mock-Status: 503\r\n"
                 "Content-Length: 5\r\n\r\nhello");
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(parser.is_done());
  EXPECT_EQ(request.method(), bhttp::verb::post);
  EXPECT_EQ(request.method_string(), "POST");
  EXPECT_EQ(request.target(), "/v1/chat/completions?x=1");
  EXPECT_EQ(request.version(), 11u);
  EXPECT_EQ(request["x-mock-status"], "503");  // names match case-insensitively
  EXPECT_EQ(request.fields().get(bhttp::field::host), "a");
  EXPECT_TRUE(request.fields().contains(bhttp::field::content_length));
  EXPECT_EQ(request["missing"], "");
  EXPECT_EQ(request.body(), "hello");
  EXPECT_TRUE(request.keep_alive());
  std::vector<std::string> names;
  for (auto f : request.fields()) names.emplace_back(f.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Host", "X-Mock-Status", "Content-Length"}));
}

TEST(RequestParser, ReusesTheRequestAndDecodesChunkedBodies) {
  Request request;
  {
    RequestParser first(request);
    ASSERT_FALSE(feed(first, "GET /a HTTP/1.1\r\nHost: a\r\nX-Old: 1\r\n\r\n"));
  }
  RequestParser second(request);
  ASSERT_FALSE(feed(second,
                    "POST /b HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n"
                    "Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  EXPECT_EQ(request.target(), "/b");
  EXPECT_EQ(request["x-old"], "");  // nothing left over from the previous request
  EXPECT_EQ(request.body(), "abcde");
  EXPECT_FALSE(request.keep_alive());
}

TEST(RequestParser, BodyLimitIsEnforced) {
  Request request;
  RequestParser parser(request);
  parser.body_limit(4);
  auto ec = feed(parser, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(ec, bhttp::error::body_limit);
}

TEST(ResponseParser, StatusFieldsAndBody) {
  Response response;
  ResponseParser parser(response);
  ASSERT_FALSE(feed(parser,
                    "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Type: "
                    "application/json\r\nContent-Length: 2\r\n\r\n{}"));
  EXPECT_EQ(response.status(), 429);
  EXPECT_EQ(response["retry-after"], "3");
  EXPECT_EQ(response.fields().get(bhttp::field::content_type), "application/json");
  EXPECT_EQ(response.body(), "{}");
}

}  // namespace
}  // namespace sluice::http
