#include "gateway/server_timing.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "gateway/request_context.h"
#include "http/server_session.h"

namespace sluice::gateway {

namespace {

// Appends `d` in milliseconds with three decimals ("12.345"), from whole microseconds, with
// to_chars: this runs on every answer, and fmt's formatting (of a double with a precision, or even
// of two integers through a format string) cost about a thousand instructions a value.
void append_ms(std::string& out, std::chrono::nanoseconds d) {
  const std::int64_t us = std::max<std::int64_t>(0, (d.count() + 500) / 1000);
  char buf[32];
  char* end = std::to_chars(buf, buf + sizeof buf - 4, us / 1000).ptr;
  const int frac = static_cast<int>(us % 1000);
  *end++ = '.';
  *end++ = static_cast<char>('0' + frac / 100);
  *end++ = static_cast<char>('0' + frac / 10 % 10);
  *end++ = static_cast<char>('0' + frac % 10);
  out.append(buf, end);
}

}  // namespace

std::string server_timing(const RequestContext& ctx, std::chrono::steady_clock::time_point now,
                          bool cache_hit) {
  const std::chrono::nanoseconds total = now - ctx.session.started();
  std::string out;
  out.reserve(64);
  if (cache_hit) {
    out += "cache;desc=hit;dur=";
    append_ms(out, total);
    out += ", total;dur=";
    append_ms(out, total);
    return out;
  }
  std::chrono::nanoseconds upstream{0};
  if (ctx.upstream_started != std::chrono::steady_clock::time_point{}) {
    auto end = ctx.upstream_finished > ctx.upstream_started ? ctx.upstream_finished : now;
    upstream = end - ctx.upstream_started;
  }
  out += "gateway;dur=";
  append_ms(out, total - upstream);
  out += ", upstream;dur=";
  append_ms(out, upstream);
  out += ", total;dur=";
  append_ms(out, total);
  return out;
}

}  // namespace sluice::gateway
