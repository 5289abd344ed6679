// UTC calendar helpers: the day and month boundaries that budgets and reports count from, and the
// YYYY-MM-DD form that reports and the command line use. Days and months are UTC everywhere, so a
// report means the same wherever it is asked for.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::core {

inline constexpr std::int64_t kDayMs = 86'400'000;

// The first millisecond of the UTC day / month that contains `unix_ms`.
std::int64_t utc_day_start(std::int64_t unix_ms);
std::int64_t utc_month_start(std::int64_t unix_ms);
// The first millisecond of the UTC month after the one that contains `unix_ms`.
std::int64_t utc_next_month_start(std::int64_t unix_ms);

// "2026-01-31" and "2026-01-31 23:59:59" for `unix_ms`.
std::string utc_date(std::int64_t unix_ms);
std::string utc_time(std::int64_t unix_ms);
// RFC 3339 in UTC with milliseconds, for machine readers: "2026-01-31T23:59:59.123Z".
std::string utc_rfc3339(std::int64_t unix_ms);

// "YYYY-MM-DD" (a real calendar date, years 1970 to 9999) -> its first millisecond; nullopt for
// anything else.
std::optional<std::int64_t> parse_utc_date(std::string_view text);

}  // namespace sluice::core
