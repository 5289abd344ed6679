#include "mock/fault_defaults.h"

#include <boost/json.hpp>

#include <limits>
#include <utility>

#include "mock/params.h"

namespace sluice::mock {

using core::Errc;

namespace {

constexpr std::string_view kFields[] = {"status",   "retry_after",       "cut_after", "hang",
                                        "delay_ms", "tokens_per_second", "tokens"};

}  // namespace

std::shared_ptr<const Faults> FaultDefaults::get() const {
  // The flag spares the common case, no defaults, the shared_ptr's atomic load (a lock in
  // libstdc++) that every worker would otherwise take on every request.
  if (!active_.load(std::memory_order_acquire)) return nullptr;
  return current_.load(std::memory_order_acquire);
}

void FaultDefaults::set(const Faults& faults) {
  std::lock_guard lock(set_mutex_);
  if (faults == Faults{}) {
    active_.store(false, std::memory_order_release);
    current_.store(nullptr, std::memory_order_release);
  } else {
    current_.store(std::make_shared<const Faults>(faults), std::memory_order_release);
    active_.store(true, std::memory_order_release);
  }
}

core::Result<Faults> faults_from_json(std::string_view body) {
  auto parsed = parse_body(body);
  if (!parsed) return parsed.error();
  const json::object& obj = parsed->get_object();
  for (const auto& field : obj) {
    bool known = false;
    for (std::string_view name : kFields) known = known || field.key() == name;
    if (!known) {
      return invalid_param("Unrecognized field: '" + std::string(field.key()) +
                               "'. Expected status, retry_after, cut_after, hang, delay_ms, "
                               "tokens_per_second or tokens.",
                           std::string(field.key()));
    }
  }

  constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
  Faults f;
  // The ranges are those Faults::from_headers accepts.
  auto status = optional_int(obj, "status", 100, 599);
  if (!status) return status.error();
  if (*status) f.status = static_cast<int>(**status);
  auto retry_after = optional_int(obj, "retry_after", 0, kIntMax);
  if (!retry_after) return retry_after.error();
  if (*retry_after) f.retry_after = static_cast<int>(**retry_after);
  auto cut_after = optional_int(obj, "cut_after", 0, kIntMax);
  if (!cut_after) return cut_after.error();
  if (*cut_after) f.cut_after = static_cast<int>(**cut_after);
  auto hang = optional_bool(obj, "hang", false);
  if (!hang) return hang.error();
  f.hang = *hang;
  auto delay = optional_int(obj, "delay_ms", 0, kIntMax);
  if (!delay) return delay.error();
  if (*delay) f.delay = Duration(**delay);
  auto tps = optional_number(obj, "tokens_per_second", 0, std::numeric_limits<double>::max());
  if (!tps) return tps.error();
  if (*tps) {
    if (**tps <= 0) {
      return invalid_param("Invalid 'tokens_per_second': expected a number above 0.",
                           "tokens_per_second");
    }
    f.tokens_per_second = **tps;
  }
  auto tokens = optional_int(obj, "tokens", 0, 100000);
  if (!tokens) return tokens.error();
  if (*tokens) f.tokens = static_cast<int>(**tokens);
  return f;
}

std::string faults_to_json(const Faults& f) {
  json::object o;
  if (f.status != 0) o["status"] = f.status;
  if (f.retry_after >= 0) o["retry_after"] = f.retry_after;
  if (f.cut_after >= 0) o["cut_after"] = f.cut_after;
  if (f.hang) o["hang"] = true;
  if (f.delay) o["delay_ms"] = f.delay->count();
  if (f.tokens_per_second) o["tokens_per_second"] = *f.tokens_per_second;
  if (f.tokens) o["tokens"] = *f.tokens;
  return json::serialize(o);
}

}  // namespace sluice::mock
