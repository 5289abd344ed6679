// Finds the boundaries of server-sent events in a byte stream, so the gateway forwards whole
// events only: a stream that breaks mid-way then ends on an event boundary, where an error event
// can follow (DESIGN.md, "Life of a request", step 11). The bytes themselves are never rewritten.
//
// An event ends at a blank line; lines end with "\r\n", "\n" or "\r" (the SSE specification).
// A lone "\r" at the end of the data is ambiguous (a "\n" may follow) and waits for more bytes.
//
// Thread safety: a splitter belongs to one stream.
#pragma once

#include <cstddef>
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

}  // namespace sluice::http
