// Streams under faults: events pass through as they arrive, a broken upstream stream ends with
// an error event and no [DONE], a stalled one times out, and a client that leaves cancels the
// upstream request at once.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <thread>

#include "support/http_client.h"
#include "support/process.h"

namespace sluice::testing {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

class StreamingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mock_ = start_mock(dir_);
    gateway_ = start_gateway(dir_, R"(
providers:
  - name: up
    kind: openai
    base_url: )" + mock_.base_url() + R"(
    forward_headers: [x-mock-*]
    timeouts: {idle: 1s}
  - name: sim
    kind: mock
    timeouts: {idle: 1s}
models:
  - name: fast
    deployments: [{provider: up}]
  - name: inproc
    deployments: [{provider: sim}]
)");
  }

  static std::string stream_body(const std::string& model) {
    return R"({"model":")" + model +
           R"(","stream":true,"messages":[{"role":"user","content":"Tell me a story"}]})";
  }

  TempDir dir_;
  MockUpstream mock_;
  Gateway gateway_;
};

// The error event a broken stream must end with: `data: {"error":{...}}`, after the events that
// made it through, and no [DONE].
void expect_error_ending(const Response& r, std::size_t events_before, const std::string& code) {
  EXPECT_EQ(r.status, 200);
  auto events = sse_data(r.body);
  ASSERT_EQ(events.size(), events_before + 1) << r.body;
  for (const auto& e : events) EXPECT_NE(e, "[DONE]");
  auto last = json::parse(events.back()).as_object();
  const auto& error = last.at("error").as_object();
  EXPECT_EQ(error.at("code"), json::value(code)) << r.body;
  EXPECT_FALSE(error.at("message").as_string().empty());
}

TEST_F(StreamingTest, UpstreamCutMidStreamEndsWithAnErrorEvent) {
  auto r = request(gateway_.port, "POST", "/v1/chat/completions", stream_body("fast"),
                   {{"x-mock-cut-after", "3"}});
  ASSERT_TRUE(r);  // the HTTP response itself is complete: the chunked body ended properly
  expect_error_ending(*r, 3, "upstream_protocol_error");
}

TEST_F(StreamingTest, InProcessCutMidStreamEndsWithAnErrorEvent) {
  auto r = request(gateway_.port, "POST", "/v1/chat/completions", stream_body("inproc"),
                   {{"x-mock-cut-after", "2"}});
  ASSERT_TRUE(r);
  expect_error_ending(*r, 2, "upstream_protocol_error");
}

TEST_F(StreamingTest, CutBeforeAnyEventIsAPlainError) {
  auto r = request(gateway_.port, "POST", "/v1/chat/completions", stream_body("fast"),
                   {{"x-mock-cut-after", "0"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(json::parse(r->body).at("error").at("code"), "upstream_protocol_error");
}

TEST_F(StreamingTest, EventsArriveAsTheyAreProduced) {
  HttpClient c(gateway_.port);
  ASSERT_TRUE(c.send("POST", "/v1/chat/completions", stream_body("fast"),
                     {{"x-mock-tokens-per-second", "10"}, {"x-mock-tokens", "10"}}));
  auto began = Clock::now();
  auto head = c.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  auto first = c.read_body_some();
  auto first_at = Clock::now() - began;
  ASSERT_TRUE(first);
  std::string all = *first;
  while (auto more = c.read_body_some()) all += *more;
  auto done_at = Clock::now() - began;
  EXPECT_TRUE(c.body_complete());
  EXPECT_EQ(sse_data(all).back(), "[DONE]");
  // Ten tokens at ten per second take about a second; the first event must not wait for them.
  EXPECT_LT(first_at, 400ms);
  EXPECT_GT(done_at, 800ms);
}

TEST_F(StreamingTest, StalledUpstreamStreamTimesOut) {
  // One event every 3 s against an idle timeout of 1 s.
  auto r = request(gateway_.port, "POST", "/v1/chat/completions", stream_body("fast"),
                   {{"x-mock-tokens-per-second", "0.33"}});
  ASSERT_TRUE(r);
  auto events = sse_data(r->body);
  ASSERT_GE(events.size(), 2u);
  EXPECT_NE(events.back(), "[DONE]");
  EXPECT_EQ(json::parse(events.back()).at("error").at("code"), "upstream_timeout");
}

TEST_F(StreamingTest, ClientDisconnectCancelsTheUpstreamStream) {
  {
    HttpClient c(gateway_.port);
    ASSERT_TRUE(c.send("POST", "/v1/chat/completions", stream_body("fast"),
                       {{"x-mock-tokens-per-second", "5"}, {"x-mock-tokens", "100"}}));
    ASSERT_TRUE(c.read_head());
    ASSERT_TRUE(c.read_body_some());
    ASSERT_TRUE(
        mock_.wait_for_stats([](const json::object& s) { return s.at("in_flight") == 1; }, 2s));
  }  // the client hangs up twenty seconds early
  auto hung_up = Clock::now();
  EXPECT_TRUE(mock_.wait_for_stats(
      [](const json::object& s) { return s.at("cancelled") == 1 && s.at("in_flight") == 0; }, 3s))
      << json::serialize(mock_.stats());
  EXPECT_LT(Clock::now() - hung_up, 1s);
  EXPECT_EQ(mock_.stats().at("completed"), 0);
}

TEST_F(StreamingTest, ClientDisconnectCancelsAWaitingRequest) {
  {
    HttpClient c(gateway_.port);
    ASSERT_TRUE(c.send("POST", "/v1/chat/completions",
                       R"({"model":"fast","messages":[{"role":"user","content":"hi"}]})",
                       {{"x-mock-delay-ms", "20000"}}));
    ASSERT_TRUE(
        mock_.wait_for_stats([](const json::object& s) { return s.at("in_flight") == 1; }, 2s));
  }
  EXPECT_TRUE(mock_.wait_for_stats(
      [](const json::object& s) { return s.at("cancelled") == 1 && s.at("in_flight") == 0; }, 3s))
      << json::serialize(mock_.stats());
}

TEST_F(StreamingTest, GatewayKeepsServingAfterCancelledStreams) {
  for (int i = 0; i < 5; ++i) {
    HttpClient c(gateway_.port);
    ASSERT_TRUE(c.send("POST", "/v1/chat/completions", stream_body("fast"),
                       {{"x-mock-tokens-per-second", "20"}}));
    ASSERT_TRUE(c.read_head());
  }
  auto r = request(gateway_.port, "POST", "/v1/chat/completions", stream_body("fast"));
  ASSERT_TRUE(r);
  EXPECT_EQ(sse_data(r->body).back(), "[DONE]");
}

TEST_F(StreamingTest, UsageChunkIsPassedThroughWhenAsked) {
  auto r = request(gateway_.port, "POST", "/v1/chat/completions",
                   R"({"model":"fast","stream":true,"stream_options":{"include_usage":true},
                       "messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(r);
  auto events = sse_data(r->body);
  ASSERT_GE(events.size(), 3u);
  auto usage_chunk = json::parse(events[events.size() - 2]).as_object();
  EXPECT_TRUE(usage_chunk.at("choices").as_array().empty());
  EXPECT_GT(usage_chunk.at("usage").at("completion_tokens").as_int64(), 0);
}

}  // namespace
}  // namespace sluice::testing
