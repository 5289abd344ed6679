#include "core/utc.h"

#include <chrono>
#include <cstdio>

namespace sluice::core {

namespace {

using std::chrono::days;
using std::chrono::milliseconds;
using std::chrono::sys_days;
using std::chrono::year_month_day;

using SysMs = std::chrono::sys_time<milliseconds>;

year_month_day civil(std::int64_t unix_ms) {
  return year_month_day{std::chrono::floor<days>(SysMs(milliseconds(unix_ms)))};
}

std::int64_t to_ms(sys_days day) {
  return std::chrono::duration_cast<milliseconds>(day.time_since_epoch()).count();
}

bool digits(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return !s.empty();
}

int number(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

}  // namespace

std::int64_t utc_day_start(std::int64_t unix_ms) {
  return to_ms(std::chrono::floor<days>(SysMs(milliseconds(unix_ms))));
}

std::int64_t utc_month_start(std::int64_t unix_ms) {
  auto ymd = civil(unix_ms);
  return to_ms(sys_days(ymd.year() / ymd.month() / 1));
}

std::int64_t utc_next_month_start(std::int64_t unix_ms) {
  auto ymd = civil(unix_ms);
  return to_ms(sys_days((ymd.year() / ymd.month() + std::chrono::months{1}) / 1));
}

std::string utc_date(std::int64_t unix_ms) {
  auto ymd = civil(unix_ms);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string utc_time(std::int64_t unix_ms) {
  std::int64_t in_day = unix_ms - utc_day_start(unix_ms);
  std::int64_t s = in_day / 1000;
  char buf[16];
  std::snprintf(buf, sizeof buf, " %02d:%02d:%02d", static_cast<int>(s / 3600),
                static_cast<int>(s / 60 % 60), static_cast<int>(s % 60));
  return utc_date(unix_ms) + buf;
}

std::string utc_rfc3339(std::int64_t unix_ms) {
  std::string out = utc_time(unix_ms);
  out[10] = 'T';
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>(unix_ms - utc_day_start(unix_ms)) % 1000);
  return out + ms;
}

std::optional<std::int64_t> parse_utc_date(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto y = text.substr(0, 4), m = text.substr(5, 2), d = text.substr(8, 2);
  if (!digits(y) || !digits(m) || !digits(d)) return std::nullopt;
  int year = number(y);
  if (year < 1970) return std::nullopt;
  year_month_day ymd{std::chrono::year(year), std::chrono::month(number(m)),
                     std::chrono::day(number(d))};
  if (!ymd.ok()) return std::nullopt;
  return to_ms(sys_days(ymd));
}

}  // namespace sluice::core
