#include "http/sse.h"

#include <cstring>

namespace sluice::http {

std::size_t SseSplitter::complete_prefix(std::string_view data) {
  std::size_t i = scanned_;
  const std::size_t n = data.size();
  const char* base = data.data();
  while (i < n) {
    // Jump to the next line terminator with memchr (vectorised) rather than byte by byte:
    // streams are mostly long `data:` lines.
    const void* nl = std::memchr(base + i, '\n', n - i);
    std::size_t limit = nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - base) : n;
    const void* cr = std::memchr(base + i, '\r', limit - i);
    std::size_t at = cr ? static_cast<std::size_t>(static_cast<const char*>(cr) - base) : limit;
    if (at > i) at_line_start_ = false;
    i = at;
    if (i == n) break;
    char c = data[i];
    // A line terminator: "\r\n", "\r" or "\n".
    std::size_t end = i + 1;
    if (c == '\r') {
      if (end == n) break;  // maybe "\r\n" split across reads: wait
      if (data[end] == '\n') ++end;
    }
    if (at_line_start_) complete_ = end;  // an empty line: the event ends here
    at_line_start_ = true;
    i = end;
  }
  scanned_ = i;
  return complete_;
}

void SseSplitter::consumed(std::size_t n) {
  scanned_ -= n;
  complete_ -= n;
}

}  // namespace sluice::http
