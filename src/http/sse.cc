#include "http/sse.h"

namespace sluice::http {

std::size_t SseSplitter::complete_prefix(std::string_view data) {
  std::size_t i = scanned_;
  const std::size_t n = data.size();
  while (i < n) {
    char c = data[i];
    if (c != '\n' && c != '\r') {
      at_line_start_ = false;
      ++i;
      continue;
    }
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
