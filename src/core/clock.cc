#include "core/clock.h"

namespace sluice::core {

SteadyClock& SteadyClock::instance() {
  static SteadyClock clock;
  return clock;
}

}  // namespace sluice::core
