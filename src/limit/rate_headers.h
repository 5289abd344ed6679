// OpenAI's rate-limit response headers from a set of limiter decisions:
//   x-ratelimit-limit-requests / -remaining-requests / -reset-requests, and the same for tokens.
// Several limits may apply to one request (its key's, its model's, the gateway's); the headers
// describe the tightest of each kind, the one with the fewest units left, as that is the one a
// client runs into first.
//
// Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "limit/gcra.h"
#include "limit/limiter.h"

namespace sluice::limit {

struct RateHeader {
  std::uint64_t limit = 0;  // per minute
  std::int64_t remaining = 0;
  std::chrono::milliseconds reset{0};  // until the bucket is full again
};

struct RateHeaders {
  std::optional<RateHeader> requests;
  std::optional<RateHeader> tokens;
};

// `charges[i]` was decided by `decisions[i]`; the first `request_charges` count requests, the rest
// tokens. Charges without a limit (per_minute 0) are ignored.
RateHeaders rate_headers(std::span<const Charge> charges, std::span<const Decision> decisions,
                         std::size_t request_charges);

// A duration as OpenAI writes it in x-ratelimit-reset-*: "250ms" below a second, else Go's
// duration format ("1s", "1.5s", "6m0s", "1h2m3s").
std::string format_reset(std::chrono::milliseconds d);
// The same, written at `out`, which has room for kMaxResetChars; returns the end.
inline constexpr std::size_t kMaxResetChars = 32;
char* format_reset(std::chrono::milliseconds d, char* out);

}  // namespace sluice::limit
