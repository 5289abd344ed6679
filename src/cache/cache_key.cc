#include "cache/cache_key.h"

#include <xxhash.h>

#include <boost/container/small_vector.hpp>
#include <boost/json/basic_parser_impl.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/asio.h"

namespace sluice::cache {

namespace {

using error_code = boost::system::error_code;

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
constexpr std::size_t kMaxDepth = 128;
constexpr std::size_t kLengthBytes = sizeof(std::uint64_t);

// Boost.JSON SAX handler that writes the canonical encoding of the document as it is parsed,
// without building a document: objects are written in arrival order, then their members are
// put in key order when the object ends. The bytes are hashed once at the end (XXH3 costs a
// few nanoseconds per call however small the input, and the encoding is made of small pieces).
class CanonicalWriter {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }

  bool on_object_begin(error_code&) {
    if (depth_ == 0) top_is_object_ = true;
    if (!enter()) return true;
    tag(kObject);
    frames_.push_back({out_.size(), members_.size()});
    u64(0);  // the member count, written at the end
    return true;
  }
  bool on_object_end(std::size_t, error_code&) {
    if (!leave()) return true;
    Frame f = frames_.back();
    frames_.pop_back();
    sort_members(f);
    patch(f.count_at, members_.size() - f.first_member);
    members_.resize(f.first_member);
    value_done();
    return true;
  }
  bool on_array_begin(error_code&) {
    if (!enter()) return true;
    tag(kArray);
    frames_.push_back({out_.size(), members_.size()});
    u64(0);
    return true;
  }
  bool on_array_end(std::size_t n, error_code&) {
    if (!leave()) return true;
    patch(frames_.back().count_at, n);
    frames_.pop_back();
    value_done();
    return true;
  }

  bool on_key_part(json::string_view s, std::size_t, error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, error_code&) {
    std::string_view key(s.data(), s.size());
    if (!key_.empty()) {
      key_.append(s.data(), s.size());  // the key came in parts
      key = key_;
    }
    if (depth_ == 1) {
      top_member_ = key == "temperature"      ? TopMember::kTemperature
                    : key == "seed"           ? TopMember::kSeed
                    : key == "stream_options" ? TopMember::kStreamOptions
                                              : TopMember::kOther;
      skip_depth_ =
          std::find(kIgnoredFields.begin(), kIgnoredFields.end(), key) != kIgnoredFields.end() ? 1
                                                                                               : 0;
    }
    if (skip_depth_ == 0) {
      members_.push_back(out_.size());
      string_header();
      append(key);
      patch_string();
    } else if (depth_ == 2 && top_member_ == TopMember::kStreamOptions) {
      include_usage_member_ = key == "include_usage";
    }
    key_.clear();
    return true;
  }

  bool on_string_part(json::string_view s, std::size_t, error_code&) {
    if (skip_depth_ != 0) return true;
    if (!in_string_) string_header();
    append(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, error_code&) {
    if (skip_depth_ != 0) return skipped_scalar();
    if (!in_string_) string_header();
    append(s);
    patch_string();
    value_done();
    return true;
  }
  bool on_number_part(json::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t v, json::string_view, error_code&) {
    if (skip_depth_ != 0) return skipped_scalar();
    note_number(v == 0, true);
    integer(v);
    return true;
  }
  bool on_uint64(std::uint64_t v, json::string_view, error_code&) {
    if (skip_depth_ != 0) return skipped_scalar();
    note_number(v == 0, true);
    if (v <= static_cast<std::uint64_t>(INT64_MAX)) {
      integer(static_cast<std::int64_t>(v));
    } else {
      tag(kUnsigned);
      u64(v);
      value_done();
    }
    return true;
  }
  bool on_double(double d, json::string_view, error_code&) {
    if (skip_depth_ != 0) return skipped_scalar();
    note_number(d == 0.0, false);
    if (std::trunc(d) == d && std::fabs(d) <= kExactIntegerLimit) {
      integer(static_cast<std::int64_t>(d));  // also folds -0.0 into 0
    } else {
      tag(kDouble);
      std::uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      u64(bits);
      value_done();
    }
    return true;
  }
  bool on_bool(bool b, error_code&) {
    if (skip_depth_ != 0) {
      if (depth_ == 2 && include_usage_member_) include_usage_ = b;
      return skipped_scalar();
    }
    tag(b ? kTrue : kFalse);
    value_done();
    return true;
  }
  bool on_null(error_code&) {
    if (skip_depth_ != 0) return skipped_scalar();
    tag(kNull);
    value_done();
    return true;
  }
  bool on_comment_part(json::string_view, error_code&) { return true; }
  bool on_comment(json::string_view, error_code&) { return true; }

  bool top_is_object() const { return top_is_object_; }
  bool zero_temperature() const { return zero_temperature_; }
  bool integer_seed() const { return integer_seed_; }
  bool include_usage() const { return include_usage_; }

  // The namespace and endpoint go first, length-prefixed like everything else.
  void begin(std::string_view ns, api::Endpoint endpoint) {
    string_header();
    append(ns);
    patch_string();
    tag(static_cast<char>('0' + static_cast<int>(endpoint)));
  }

  Key digest() const {
    XXH128_hash_t h = XXH3_128bits(out_.data(), out_.size());
    return Key{h.high64, h.low64};
  }

 private:
  struct Frame {
    std::size_t count_at;      // offset of the count placeholder
    std::size_t first_member;  // this object's first entry in members_
  };
  struct Member {
    std::string_view key;  // in out_, valid until out_ grows
    std::size_t begin;     // the member's encoding: [begin, end) of out_
    std::size_t end;
  };

  // Containers open and close levels; inside an ignored member nothing is written.
  bool enter() {
    ++depth_;
    if (skip_depth_ != 0) return false;
    return true;
  }
  bool leave() {
    --depth_;
    if (skip_depth_ == 0) return true;
    if (depth_ == skip_depth_) skip_depth_ = 0;  // the ignored value ended
    return false;
  }
  bool skipped_scalar() {
    if (depth_ == skip_depth_) skip_depth_ = 0;
    return true;
  }
  // A scalar or container value ended: a top-level member's value is no longer current.
  void value_done() {
    if (depth_ == 1) top_member_ = TopMember::kOther;
  }
  void note_number(bool zero, bool integral) {
    if (depth_ != 1) return;
    if (top_member_ == TopMember::kTemperature) zero_temperature_ = zero;
    if (top_member_ == TopMember::kSeed) integer_seed_ = integral;
  }

  void tag(char t) { out_.push_back(t); }
  void u64(std::uint64_t v) {
    const char* p = reinterpret_cast<const char*>(&v);
    out_.insert(out_.end(), p, p + sizeof v);
  }
  void integer(std::int64_t v) {
    tag(kInteger);
    u64(static_cast<std::uint64_t>(v));
    value_done();
  }
  void append(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
  void string_header() {
    tag(kString);
    string_at_ = out_.size();
    u64(0);
    in_string_ = true;
  }
  void patch_string() {
    patch(string_at_, out_.size() - string_at_ - kLengthBytes);
    in_string_ = false;
  }
  void patch(std::size_t at, std::uint64_t v) { std::memcpy(out_.data() + at, &v, sizeof v); }

  std::string_view key_at(std::size_t member) const {
    std::uint64_t n;
    std::memcpy(&n, out_.data() + member + 1, sizeof n);
    return {out_.data() + member + 1 + kLengthBytes, n};
  }

  // Rewrites the members of the object `f` in the order of their keys.
  void sort_members(const Frame& f) {
    std::size_t first = f.first_member;
    std::size_t n = members_.size() - first;
    if (n < 2) return;
    order_.clear();
    bool sorted = true;
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t begin = members_[first + i];
      std::size_t end = i + 1 < n ? members_[first + i + 1] : out_.size();
      order_.push_back({key_at(begin), begin, end});
      if (i > 0 && order_[i].key < order_[i - 1].key) sorted = false;
    }
    if (sorted) return;
    std::sort(order_.begin(), order_.end(),
              [](const Member& a, const Member& b) { return a.key < b.key; });
    std::size_t base = members_[first];
    scratch_.assign(out_.begin() + static_cast<std::ptrdiff_t>(base), out_.end());
    char* at = out_.data() + base;
    for (const Member& m : order_) {
      std::memcpy(at, scratch_.data() + (m.begin - base), m.end - m.begin);
      at += m.end - m.begin;
    }
  }

  boost::container::small_vector<char, 2048> out_;
  boost::container::small_vector<Frame, 16> frames_;
  boost::container::small_vector<std::size_t, 64> members_;  // offsets of members' keys
  boost::container::small_vector<Member, 16> order_;
  boost::container::small_vector<char, 2048> scratch_;
  std::string key_;  // a key that arrives in parts (escapes, or split input)
  enum class TopMember { kOther, kTemperature, kSeed, kStreamOptions };
  TopMember top_member_ = TopMember::kOther;  // the top-level member whose value is current
  std::size_t string_at_ = 0;
  std::size_t depth_ = 0;
  std::size_t skip_depth_ = 0;  // depth of the ignored member being skipped, 0 when none
  bool in_string_ = false;
  bool top_is_object_ = false;
  bool zero_temperature_ = false;
  bool integer_seed_ = false;
  bool include_usage_member_ = false;
  bool include_usage_ = false;
};

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
  json::parse_options options;
  options.max_depth = kMaxDepth;
  json::basic_parser<CanonicalWriter> parser(options);
  parser.handler().begin(ns, endpoint);
  error_code ec;
  std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
  CanonicalWriter& w = parser.handler();
  if (ec || used < body.size() || !w.top_is_object()) {
    return core::fail(core::Errc::kInvalidRequest, "The request body must be a JSON object.");
  }
  KeyInfo info;
  info.key = w.digest();
  info.deterministic =
      endpoint == api::Endpoint::kEmbeddings || w.zero_temperature() || w.integer_seed();
  info.include_usage = w.include_usage();
  return info;
}

}  // namespace sluice::cache
