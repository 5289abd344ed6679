#include "route/retry_policy.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/strings.h"

namespace sluice::route {

namespace {

// Beyond 2^62 every base of a millisecond or more is past any sane backoff_max, and the shift
// stays defined.
constexpr int kMaxExponent = 62;

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

// A left-to-right reader over an HTTP-date; each step fails (returns false) on anything but
// exactly what it expects, so the parsers below accept only the three RFC 9110 forms.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  bool done() const { return s_.empty(); }

  bool literal(std::string_view text) {
    if (s_.substr(0, text.size()) != text) return false;
    s_.remove_prefix(text.size());
    return true;
  }

  // Exactly `width` digits; width 0 means one or more.
  bool digits(int width, int& out) {
    std::size_t n = 0;
    while (n < s_.size() && s_[n] >= '0' && s_[n] <= '9') ++n;
    if (n == 0 || (width > 0 && n != static_cast<std::size_t>(width)) || n > 9) return false;
    std::from_chars(s_.data(), s_.data() + n, out);
    s_.remove_prefix(n);
    return true;
  }

  // The index of the name the input starts with (the first match wins, so list longer names
  // that share a prefix first), or -1.
  template <std::size_t N>
  int one_of(const std::array<std::string_view, N>& names) {
    for (std::size_t i = 0; i < N; ++i) {
      if (literal(names[i])) return static_cast<int>(i);
    }
    return -1;
  }

  // "08:49:37"
  bool time_of_day(int& h, int& m, int& sec) {
    return digits(2, h) && literal(":") && digits(2, m) && literal(":") && digits(2, sec);
  }

 private:
  std::string_view s_;
};

struct DateTime {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;  // month 1..12
};

// IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT", the form every current server sends.
bool parse_imf_fixdate(std::string_view s, DateTime& t) {
  Cursor c(s);
  if (c.one_of(kDays) < 0 || !c.literal(", ") || !c.digits(2, t.day) || !c.literal(" ")) {
    return false;
  }
  t.month = c.one_of(kMonths) + 1;
  return t.month > 0 && c.literal(" ") && c.digits(4, t.year) && c.literal(" ") &&
         c.time_of_day(t.hour, t.minute, t.second) && c.literal(" GMT") && c.done();
}

// Obsolete RFC 850 form: "Sunday, 06-Nov-94 08:49:37 GMT". RFC 9110 says a two-digit year that
// looks more than 50 years ahead is in the past century.
bool parse_rfc850(std::string_view s, DateTime& t, int current_year) {
  Cursor c(s);
  if (c.one_of(kLongDays) < 0 || !c.literal(", ") || !c.digits(2, t.day) || !c.literal("-")) {
    return false;
  }
  t.month = c.one_of(kMonths) + 1;
  if (t.month == 0 || !c.literal("-") || !c.digits(2, t.year) || !c.literal(" ") ||
      !c.time_of_day(t.hour, t.minute, t.second) || !c.literal(" GMT") || !c.done()) {
    return false;
  }
  const int century = current_year / 100 * 100;
  t.year += century;
  if (t.year > current_year + 50) t.year -= 100;
  return true;
}

// Obsolete asctime form: "Sun Nov  6 08:49:37 1994" (a one-digit day is padded with a space).
bool parse_asctime(std::string_view s, DateTime& t) {
  Cursor c(s);
  if (c.one_of(kDays) < 0 || !c.literal(" ")) return false;
  t.month = c.one_of(kMonths) + 1;
  if (t.month == 0 || !c.literal(" ")) return false;
  c.literal(" ");
  return c.digits(0, t.day) && t.day <= 31 && c.literal(" ") &&
         c.time_of_day(t.hour, t.minute, t.second) && c.literal(" ") && c.digits(4, t.year) &&
         c.done();
}

// Milliseconds since the epoch, or nullopt for a date that does not exist ("31 Feb").
std::optional<std::int64_t> to_unix_ms(const DateTime& t) {
  using namespace std::chrono;
  const year_month_day date{year{t.year}, month{static_cast<unsigned>(t.month)},
                            day{static_cast<unsigned>(t.day)}};
  // 60 is a leap second, which the epoch count has no place for; it is read as the next second.
  if (!date.ok() || t.hour > 23 || t.minute > 59 || t.second > 60) return std::nullopt;
  const auto at = sys_days{date} + hours{t.hour} + minutes{t.minute} + seconds{t.second};
  return duration_cast<milliseconds>(at.time_since_epoch()).count();
}

std::optional<std::int64_t> parse_http_date(std::string_view s, std::int64_t unix_ms_now) {
  DateTime t;
  if (parse_imf_fixdate(s, t) || parse_asctime(s, t)) return to_unix_ms(t);
  using namespace std::chrono;
  const year_month_day today{floor<days>(sys_time<milliseconds>{milliseconds{unix_ms_now}})};
  if (parse_rfc850(s, t, static_cast<int>(today.year()))) return to_unix_ms(t);
  return std::nullopt;
}

}  // namespace

bool retryable_status(int status) {
  switch (status) {
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return true;
    default:
      return false;
  }
}

Duration backoff_delay(const config::Retries& config, int retry, Rng& rng) {
  const std::int64_t base = std::max<std::int64_t>(config.backoff_base.count(), 0);
  const std::int64_t max = std::max<std::int64_t>(config.backoff_max.count(), 0);
  const int exponent = std::clamp(retry - 1, 0, kMaxExponent);
  // base << exponent only when it cannot pass max (and so cannot overflow).
  const std::int64_t ceiling = base <= (max >> exponent) ? base << exponent : max;
  // Uniform over the whole milliseconds in [0, ceiling], both ends included.
  const double pick = rng.uniform() * static_cast<double>(ceiling + 1);
  return Duration{std::min(static_cast<std::int64_t>(pick), ceiling)};
}

std::optional<Duration> parse_retry_after(std::string_view value, std::int64_t unix_ms_now,
                                          Duration cap) {
  value = core::trim(value);
  if (value.empty()) return std::nullopt;
  const std::int64_t cap_ms = std::max<std::int64_t>(cap.count(), 0);
  if (value.front() >= '0' && value.front() <= '9') {
    // delta-seconds is 1*DIGIT: no sign, no fraction, no unit.
    std::uint64_t seconds = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
    if (end != value.data() + value.size()) return std::nullopt;
    // Out of range is still a well-formed (absurdly long) delay; the cap decides.
    if (ec == std::errc::result_out_of_range ||
        seconds > static_cast<std::uint64_t>(cap_ms / 1000 + 1)) {
      return Duration{cap_ms};
    }
    return Duration{std::min(static_cast<std::int64_t>(seconds) * 1000, cap_ms)};
  }
  const auto at = parse_http_date(value, unix_ms_now);
  if (!at) return std::nullopt;
  return Duration{std::clamp<std::int64_t>(*at - unix_ms_now, 0, cap_ms)};
}

RetryBudget::RetryBudget(double budget, int min_concurrency)
    : budget_(budget), min_concurrency_(min_concurrency) {}

// The counter gates nothing else, so relaxed ordering is enough.
void RetryBudget::end_retry() { retries_.fetch_sub(1, std::memory_order_relaxed); }

bool RetryBudget::try_begin_retry(std::int64_t requests_in_flight) {
  std::int64_t current = retries_.load(std::memory_order_relaxed);
  for (;;) {
    // The epsilon keeps products such as 0.1 x 30 = 2.9999999999999996 from losing a retry.
    const double share = budget_ * static_cast<double>(requests_in_flight);
    const auto allowed = std::max(min_concurrency_, static_cast<std::int64_t>(share + 1e-9));
    if (current >= allowed) return false;
    // A compare-exchange rather than fetch_add: two callers that both saw room for one more
    // cannot both take it.
    if (retries_.compare_exchange_weak(current, current + 1, std::memory_order_relaxed)) {
      return true;
    }
  }
}

std::int64_t RetryBudget::retries() const { return retries_.load(std::memory_order_relaxed); }

}  // namespace sluice::route
