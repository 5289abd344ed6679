#include "limit/rate_headers.h"

#include <algorithm>
#include <charconv>

namespace sluice::limit {

namespace {

std::optional<RateHeader> tightest(std::span<const Charge> charges,
                                   std::span<const Decision> decisions) {
  std::optional<RateHeader> best;
  for (std::size_t i = 0; i < charges.size() && i < decisions.size(); ++i) {
    if (charges[i].rate.per_minute == 0) continue;
    RateHeader h{charges[i].rate.per_minute, std::max<std::int64_t>(0, decisions[i].remaining),
                 decisions[i].reset_after};
    if (!best || h.remaining < best->remaining ||
        (h.remaining == best->remaining && h.reset > best->reset)) {
      best = h;
    }
  }
  return best;
}

}  // namespace

RateHeaders rate_headers(std::span<const Charge> charges, std::span<const Decision> decisions,
                         std::size_t request_charges) {
  request_charges = std::min(request_charges, charges.size());
  RateHeaders out;
  out.requests = tightest(charges.first(request_charges),
                          decisions.first(std::min(request_charges, decisions.size())));
  if (decisions.size() > request_charges) {
    out.tokens = tightest(charges.subspan(request_charges), decisions.subspan(request_charges));
  }
  return out;
}

std::string format_reset(std::chrono::milliseconds d) {
  char buf[kMaxResetChars];
  return std::string(buf, format_reset(d, buf));
}

char* format_reset(std::chrono::milliseconds d, char* out) {
  // Into the caller's buffer, not by concatenation: this runs for every answer that carries rate
  // headers. At most 13 digits of hours (in int64 milliseconds), then "h59m59.999s": 24 characters.
  char* p = out;
  char* end = out + kMaxResetChars;
  auto number = [&](std::int64_t v) { p = std::to_chars(p, end, v).ptr; };
  std::int64_t ms = std::max<std::int64_t>(0, d.count());
  if (ms < 1000) {
    number(ms);
    *p++ = 'm';
  } else {
    std::int64_t h = ms / 3'600'000;
    std::int64_t m = ms / 60'000 % 60;
    if (h > 0) {
      number(h);
      *p++ = 'h';
    }
    if (h > 0 || m > 0) {
      number(m);
      *p++ = 'm';
    }
    number(ms / 1000 % 60);
    if (int frac = static_cast<int>(ms % 1000); frac != 0) {
      *p++ = '.';
      for (int unit = 100; frac != 0; unit /= 10) {  // as many digits as it takes
        *p++ = static_cast<char>('0' + frac / unit);
        frac %= unit;
      }
    }
  }
  *p++ = 's';
  return p;
}

}  // namespace sluice::limit
