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

namespace {
constexpr std::string_view kBom = "\xEF\xBB\xBF";
}  // namespace

SseEventReader::SseEventReader(std::string_view sse) : sse_(sse) {
  // A byte order mark is not part of the first field name (SSE specification), but it is part
  // of the bytes a replay repeats: it stays in the first event's raw view.
  if (sse_.substr(0, kBom.size()) == kBom) pos_ = kBom.size();
  // Most streams end their lines in "\n" alone: one scan here spares one per line.
  has_cr_ = !sse_.empty() && std::memchr(sse_.data(), '\r', sse_.size()) != nullptr;
}

bool SseEventReader::next(SseEvent& ev) {
  if (raw_begin_ >= sse_.size()) return false;
  ev = SseEvent{};
  joined_.clear();
  multi_line_ = false;
  const char* base = sse_.data();
  const std::size_t n = sse_.size();
  while (pos_ < n) {
    const std::size_t begin = pos_;
    const void* nl = std::memchr(base + begin, '\n', n - begin);
    const std::size_t limit =
        nl ? static_cast<std::size_t>(static_cast<const char*>(nl) - base) : n;
    const void* cr = has_cr_ ? std::memchr(base + begin, '\r', limit - begin) : nullptr;
    const std::size_t end =
        cr ? static_cast<std::size_t>(static_cast<const char*>(cr) - base) : limit;
    std::string_view line = sse_.substr(begin, end - begin);
    if (end == n) {  // an unterminated last line
      field(line, ev);
      pos_ = n;
      ev.whole = false;
      break;
    }
    pos_ = end + 1;
    if (base[end] == '\r' && pos_ < n && base[pos_] == '\n') ++pos_;
    if (line.empty()) {
      ev.raw = sse_.substr(raw_begin_, pos_ - raw_begin_);
      raw_begin_ = pos_;
      return true;
    }
    field(line, ev);
  }
  ev.raw = sse_.substr(raw_begin_, pos_ - raw_begin_);
  raw_begin_ = pos_;
  ev.whole = false;
  return true;
}

void SseEventReader::field(std::string_view line, SseEvent& ev) {
  if (line.empty() || line.front() == ':') return;  // a comment such as ": keep-alive"
  std::size_t colon = line.find(':');
  std::string_view name = line.substr(0, colon);
  std::string_view value =
      colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (name == "data") {
    if (!ev.has_data) {
      ev.has_data = true;
      ev.data = value;
      return;
    }
    if (!multi_line_) {
      joined_.assign(ev.data);
      multi_line_ = true;
    }
    joined_ += '\n';
    joined_ += value;
    ev.data = joined_;
  } else if (name == "event") {
    ev.name = value == "message" ? std::string_view() : value;
  }
}

}  // namespace sluice::http
