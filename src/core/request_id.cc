#include "core/request_id.h"

#include <cstdint>
#include <random>

namespace sluice::core {

namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

RequestId next_request_id() {
  thread_local std::uint64_t state = [] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  RequestId id;
  id.data[0] = 'r';
  id.data[1] = 'e';
  id.data[2] = 'q';
  id.data[3] = '_';
  std::uint64_t a = splitmix64(state);
  std::uint64_t b = splitmix64(state);
  for (int i = 0; i < 16; ++i) id.data[4 + i] = kHex[(a >> (4 * i)) & 0xf];
  for (int i = 0; i < 8; ++i) id.data[20 + i] = kHex[(b >> (4 * i)) & 0xf];
  return id;
}

bool is_acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace sluice::core
