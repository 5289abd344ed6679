// Request ids for the x-request-id header and the access log: "req_" followed by 24 hex digits
// from a per-thread generator seeded from the OS (unique in practice, not secret).
//
// Thread safety: next_request_id() uses thread-local state only.
#pragma once

#include <string_view>

namespace sluice::core {

struct RequestId {
  static constexpr std::size_t kLength = 28;
  char data[kLength];
  std::string_view view() const { return std::string_view(data, kLength); }
};

RequestId next_request_id();

// Whether a client-supplied id is safe to echo and log: 1..128 visible ASCII characters.
bool is_acceptable_request_id(std::string_view id);

}  // namespace sluice::core
