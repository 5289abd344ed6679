#include "limit/rate_headers.h"

#include <algorithm>

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
  std::int64_t ms = std::max<std::int64_t>(0, d.count());
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::int64_t h = ms / 3'600'000;
  std::int64_t m = ms / 60'000 % 60;
  std::int64_t s = ms / 1000 % 60;
  std::int64_t frac = ms % 1000;
  std::string out;
  if (h > 0) out += std::to_string(h) + "h";
  if (h > 0 || m > 0) out += std::to_string(m) + "m";
  out += std::to_string(s);
  if (frac != 0) {
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(frac));
    std::string f = buf;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  out += "s";
  return out;
}

}  // namespace sluice::limit
