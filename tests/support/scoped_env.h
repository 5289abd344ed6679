// Test support: sets (or unsets) an environment variable for the life of the object, then
// restores what was there. Header-only, for the unit tests and the process-based suites alike.
//
// Thread safety: setenv is not thread-safe; use it only while no other thread reads the
// environment (the configuration loaders do).
#pragma once

#include <stdlib.h>

#include <optional>
#include <string>

namespace sluice::testing {

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = ::getenv(name)) old_ = old;
    if (value != nullptr) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace sluice::testing
