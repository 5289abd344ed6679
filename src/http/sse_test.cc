#include "http/sse.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::http {
namespace {

// Feeds `stream` in pieces of `piece` bytes and returns the complete-event batches released.
std::vector<std::string> split(const std::string& stream, std::size_t piece) {
  SseSplitter splitter;
  std::string buffer;
  std::vector<std::string> out;
  for (std::size_t at = 0; at < stream.size(); at += piece) {
    buffer.append(stream, at, piece);
    std::size_t n = splitter.complete_prefix(buffer);
    if (n > 0) {
      out.push_back(buffer.substr(0, n));
      buffer.erase(0, n);
      splitter.consumed(n);
    }
  }
  if (!buffer.empty()) out.push_back("TAIL:" + buffer);
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  std::string s;
  for (const auto& p : parts) s += p;
  return s;
}

TEST(SseSplitter, ReleasesOnlyWholeEvents) {
  std::string stream = "data: one\n\ndata: two\n\n";
  for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
    auto parts = split(stream, piece);
    EXPECT_EQ(join(parts), stream) << piece;
    for (const auto& p : parts) {
      EXPECT_TRUE(p.ends_with("\n\n")) << "piece " << piece << ": " << p;
    }
  }
}

TEST(SseSplitter, KeepsAPartialEventBack) {
  auto parts = split("data: one\n\ndata: tw", 100);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0], "data: one\n\n");
  EXPECT_EQ(parts[1], "TAIL:data: tw");
}

TEST(SseSplitter, MultiLineEventsStayTogether) {
  std::string stream = "event: x\ndata: a\ndata: b\n\n";
  for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
    auto parts = split(stream, piece);
    ASSERT_EQ(parts.size(), 1u) << piece;
    EXPECT_EQ(parts[0], stream);
  }
}

TEST(SseSplitter, AcceptsEveryLineEnding) {
  // A final event follows so that a trailing "\r" is never ambiguous.
  for (std::string stream :
       {"data: a\r\n\r\ndata: b\r\n\r\n", "data: a\r\rdata: b\r\r", "data: a\n\r\ndata: b\r\n\n"}) {
    stream += "data: end\n\n";
    for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
      auto parts = split(stream, piece);
      EXPECT_EQ(join(parts), stream);
      EXPECT_TRUE(parts.back().ends_with("data: end\n\n")) << piece << " " << stream;
    }
  }
}

TEST(SseSplitter, ALoneCarriageReturnAtTheEndWaits) {
  SseSplitter splitter;
  std::string buffer = "data: a\r\n\r";
  EXPECT_EQ(splitter.complete_prefix(buffer), 0u);  // "\r" may be the start of "\r\n"
  buffer += "\n";
  EXPECT_EQ(splitter.complete_prefix(buffer), buffer.size());
}

TEST(SseSplitter, MultiByteTextSplitAnywhereIsNeverCut) {
  std::string stream = "data: {\"content\":\"héllo 世界 🌊\"}\n\ndata: [DONE]\n\n";
  for (std::size_t piece = 1; piece <= stream.size(); ++piece) {
    auto parts = split(stream, piece);
    ASSERT_EQ(join(parts), stream);
    EXPECT_TRUE(parts.front().starts_with("data: {\"content\":\"héllo 世界 🌊\"}\n\n")) << piece;
  }
}

TEST(SseEventReader, ReadsNamesDataCommentsAndLineEndingsAsAClientDoes) {
  SseEventReader reader(
      "\xEF\xBB\xBF"
      "event: message_start\r\ndata: {\"a\":1}\r\n\r\n: keep-alive\n\nevent: message\ndata: "
      "x\ndata: "
      "y\rid: 7\r\rdata: tail");
  SseEvent ev;
  ASSERT_TRUE(reader.next(ev));
  EXPECT_EQ(ev.name, "message_start");
  EXPECT_EQ(ev.data, "{\"a\":1}");
  EXPECT_TRUE(ev.has_data);
  EXPECT_TRUE(ev.whole);
  EXPECT_TRUE(
      ev.raw.starts_with("\xEF\xBB\xBF"
                         "event"));
  ASSERT_TRUE(reader.next(ev));  // the comment alone
  EXPECT_FALSE(ev.has_data);
  ASSERT_TRUE(reader.next(ev));
  EXPECT_EQ(ev.name, "");  // "message" is the default name
  EXPECT_EQ(ev.data, "x\ny");
  ASSERT_TRUE(reader.next(ev));
  EXPECT_EQ(ev.data, "tail");
  EXPECT_FALSE(ev.whole);
  EXPECT_FALSE(reader.next(ev));
}

}  // namespace
}  // namespace sluice::http
