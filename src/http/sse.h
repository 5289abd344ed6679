// Finds the boundaries of server-sent events in a byte stream, so the gateway forwards whole
// events only: a stream that breaks mid-way then ends on an event boundary, where an error event
// can follow (DESIGN.md, "Life of a request", step 11). The bytes themselves are never rewritten.
//
// An event ends at a blank line; lines end with "\r\n", "\n" or "\r" (the SSE specification).
// A lone "\r" at the end of the data is ambiguous (a "\n" may follow) and waits for more bytes.
//
// SseEventReader reads the events themselves, the way an SSE client does, for the code that
// looks inside a stream (the cache's stream assembly, the providers that translate streams).
//
// Thread safety: a splitter or a reader belongs to one stream.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::http {

class SseSplitter {
 public:
  // Returns the length of the longest prefix of `data` made of complete events. `data` must be
  // the previous call's data with bytes appended, minus any prefix the caller consumed and
  // reported with consumed().
  std::size_t complete_prefix(std::string_view data);

  // The caller dropped the first `n` bytes (a prefix returned by complete_prefix()).
  void consumed(std::size_t n);

  void reset() { *this = SseSplitter(); }

 private:
  std::size_t scanned_ = 0;    // bytes of the current data already examined
  std::size_t complete_ = 0;   // end of the last complete event found
  bool at_line_start_ = true;  // the byte at `scanned_` starts a line
};

// One event of a stream.
struct SseEvent {
  std::string_view raw;   // the event's bytes, through the blank line that ends it
  std::string_view data;  // the data lines joined with "\n"
  std::string_view name;  // the `event` field; empty for the default "message"
  bool has_data = false;
  bool whole = true;  // false: the bytes ran out before the blank line
};

// Splits a stream into events: lines end in "\r\n", "\n" or "\r", comments (": keep-alive")
// and fields other than `data` and `event` are skipped, several data lines join with "\n", a
// leading byte order mark is skipped. Events (and their data) are views into the stream, except
// that an event with several data lines is joined into a buffer that the next call reuses.
class SseEventReader {
 public:
  explicit SseEventReader(std::string_view sse);

  // The next event, or false at the end of the bytes. The last event may lack its blank line
  // (`whole` false).
  bool next(SseEvent& ev);

 private:
  void field(std::string_view line, SseEvent& ev);

  std::string_view sse_;
  std::size_t pos_ = 0;
  std::size_t raw_begin_ = 0;
  std::string joined_;
  bool multi_line_ = false;
  bool has_cr_ = true;  // the bytes hold a '\r': lines may end in "\r\n" or "\r"
};

}  // namespace sluice::http
