// The faults `sluice mock` applies to every request until told otherwise, set at run time with
// POST /mock/faults (mock/server.h) so that a test can make an upstream fail and later recover
// without restarting it. They are defaults under the request's own x-mock-* headers, which win
// field by field (Faults::from_headers(get, defaults)).
//
// The JSON form has the headers' fields and meanings, every one optional:
//   {"status":503,"retry_after":2,"cut_after":3,"hang":true,"delay_ms":100,
//    "tokens_per_second":20,"tokens":50}
// A body replaces the defaults as a whole; {} clears them. A null field is the same as absent.
//
// Thread safety: get() and set() may be called from any worker at once. get() is on every mock
// request's path: while no defaults are set it is one atomic load of a flag; otherwise it copies
// a shared_ptr to an immutable Faults.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/error.h"
#include "mock/engine.h"

namespace sluice::mock {

class FaultDefaults {
 public:
  // The current defaults, or nullptr when none are set.
  std::shared_ptr<const Faults> get() const;
  // A Faults equal to Faults{} clears them.
  void set(const Faults& faults);

 private:
  std::atomic<bool> active_{false};
  std::atomic<std::shared_ptr<const Faults>> current_;
  std::mutex set_mutex_;  // keeps active_ and current_ in step when two set() calls race
};

// Reads the JSON form above. Not an object, an unknown field, a wrong type or a value out of
// range (the same ranges as the headers) is a 400 naming the field.
core::Result<Faults> faults_from_json(std::string_view body);
// The JSON form, with only the fields that are set ("{}" for none).
std::string faults_to_json(const Faults& faults);

}  // namespace sluice::mock
