#include "cache/cache_key.h"

// The state is kept on the stack, which needs its definition.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <boost/container/small_vector.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/asio.h"

namespace sluice::cache {

namespace {

// Tags of the canonical encoding; each value is a tag followed by its fixed-size or
// length-prefixed payload, so the encoding is unambiguous.
enum Tag : char {
  kNull = 'n',
  kTrue = 't',
  kFalse = 'f',
  kInteger = 'i',  // int64, also for integral doubles and uint64 values that fit
  kUnsigned = 'u',
  kDouble = 'd',
  kString = 's',
  kArray = 'a',
  kObject = 'o',
};

// 2^53: doubles up to here represent every integer exactly, so 3.0 and 3 can be the same key.
constexpr double kExactIntegerLimit = 9007199254740992.0;

class Hasher {
 public:
  Hasher() { XXH3_128bits_reset(&state_); }

  void tag(Tag t) { bytes(&t, 1); }
  void u64(std::uint64_t v) { bytes(&v, sizeof v); }
  void text(std::string_view s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }

  void value(const json::value& v) {
    switch (v.kind()) {
      case json::kind::null:
        tag(kNull);
        break;
      case json::kind::bool_:
        tag(v.get_bool() ? kTrue : kFalse);
        break;
      case json::kind::int64:
        integer(v.get_int64());
        break;
      case json::kind::uint64:
        if (v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
          integer(static_cast<std::int64_t>(v.get_uint64()));
        } else {
          tag(kUnsigned);
          u64(v.get_uint64());
        }
        break;
      case json::kind::double_: {
        double d = v.get_double();
        if (std::trunc(d) == d && std::fabs(d) <= kExactIntegerLimit) {
          integer(static_cast<std::int64_t>(d));  // also folds -0.0 into 0
        } else {
          tag(kDouble);
          std::uint64_t bits;
          std::memcpy(&bits, &d, sizeof bits);
          u64(bits);
        }
        break;
      }
      case json::kind::string:
        tag(kString);
        text(v.get_string());
        break;
      case json::kind::array:
        tag(kArray);
        u64(v.get_array().size());
        for (const auto& item : v.get_array()) value(item);
        break;
      case json::kind::object:
        object(v.get_object(), false);
        break;
    }
  }

  // Members in byte order of their keys; at the top level, the ignored fields are left out.
  void object(const json::object& o, bool top_level) {
    boost::container::small_vector<const json::key_value_pair*, 16> members;
    for (const auto& m : o) {
      if (top_level && std::find(kIgnoredFields.begin(), kIgnoredFields.end(), m.key()) !=
                           kIgnoredFields.end()) {
        continue;
      }
      members.push_back(&m);
    }
    std::sort(members.begin(), members.end(),
              [](const auto* a, const auto* b) { return a->key() < b->key(); });
    tag(kObject);
    u64(members.size());
    for (const auto* m : members) {
      text(m->key());
      value(m->value());
    }
  }

  Key digest() const {
    XXH128_hash_t h = XXH3_128bits_digest(&state_);
    return Key{h.high64, h.low64};
  }

 private:
  void integer(std::int64_t v) {
    tag(kInteger);
    u64(static_cast<std::uint64_t>(v));
  }
  void bytes(const void* p, std::size_t n) { XXH3_128bits_update(&state_, p, n); }

  XXH3_state_t state_;
};

bool is_zero(const json::value* v) {
  if (v == nullptr) return false;
  if (v->is_int64()) return v->get_int64() == 0;
  if (v->is_uint64()) return v->get_uint64() == 0;
  if (v->is_double()) return v->get_double() == 0.0;
  return false;
}

}  // namespace

std::string Key::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int i = 0; i < 16; ++i) {
    out[15 - i] = kDigits[(high >> (4 * i)) & 0xf];
    out[31 - i] = kDigits[(low >> (4 * i)) & 0xf];
  }
  return out;
}

core::Result<KeyInfo> make_key(std::string_view ns, api::Endpoint endpoint, std::string_view body) {
  // Small bodies parse without touching the heap.
  unsigned char stack[4096];
  json::monotonic_resource arena(stack, sizeof stack);
  boost::system::error_code ec;
  json::value doc = json::parse(body, ec, &arena);
  if (ec || !doc.is_object()) {
    return core::fail(core::Errc::kInvalidRequest, "The request body must be a JSON object.");
  }
  const json::object& o = doc.get_object();

  Hasher h;
  h.text(ns);
  h.u64(static_cast<std::uint64_t>(endpoint));
  h.object(o, true);

  KeyInfo info;
  info.key = h.digest();
  const json::value* seed = o.if_contains("seed");
  info.deterministic = endpoint == api::Endpoint::kEmbeddings ||
                       is_zero(o.if_contains("temperature")) ||
                       (seed != nullptr && (seed->is_int64() || seed->is_uint64()));
  if (const json::value* so = o.if_contains("stream_options"); so && so->is_object()) {
    const json::value* usage = so->get_object().if_contains("include_usage");
    info.include_usage = usage != nullptr && usage->is_bool() && usage->get_bool();
  }
  return info;
}

}  // namespace sluice::cache
