#include "api/canonical_request.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace sluice::api {

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
constexpr std::size_t kLengthBytes = sizeof(std::uint64_t);

// Whether `key` is one of kIgnoredFields; the length test first keeps most keys from any
// comparison.
bool is_ignored(std::string_view key) {
  for (std::string_view f : kIgnoredFields) {
    if (f.size() == key.size() && f == key) return true;
  }
  return false;
}

}  // namespace

// Objects are written in arrival order; their members are put in key order when they end.

bool CanonicalWriter::on_object_begin(error_code&) {
  if (!enter()) return true;
  tag(kObject);
  frames_.push_back({out_.size(), members_.size()});
  u64(0);  // the member count, written at the end
  return true;
}

bool CanonicalWriter::on_object_end(std::size_t, error_code&) {
  if (!leave()) return true;
  Frame f = frames_.back();
  frames_.pop_back();
  sort_members(f);
  patch(f.count_at, members_.size() - f.first_member);
  members_.resize(f.first_member);
  value_done();
  return true;
}

bool CanonicalWriter::on_array_begin(error_code&) {
  if (!enter()) return true;
  tag(kArray);
  frames_.push_back({out_.size(), members_.size()});
  u64(0);
  return true;
}

bool CanonicalWriter::on_array_end(std::size_t n, error_code&) {
  if (!leave()) return true;
  patch(frames_.back().count_at, n);
  frames_.pop_back();
  value_done();
  return true;
}

bool CanonicalWriter::on_key_part(boost::json::string_view s, std::size_t, error_code&) {
  key_.append(s.data(), s.size());
  return true;
}

bool CanonicalWriter::on_key(boost::json::string_view s, std::size_t, error_code&) {
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
    skip_depth_ = is_ignored(key) ? 1 : 0;
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

bool CanonicalWriter::on_string_part(boost::json::string_view s, std::size_t, error_code&) {
  if (skip_depth_ != 0) return true;
  if (!in_string_) string_header();
  append(s);
  return true;
}

bool CanonicalWriter::on_string(boost::json::string_view s, std::size_t, error_code&) {
  if (skip_depth_ != 0) return skipped_scalar();
  if (!in_string_) string_header();
  append(s);
  patch_string();
  value_done();
  return true;
}

bool CanonicalWriter::on_int64(std::int64_t v, boost::json::string_view, error_code&) {
  if (skip_depth_ != 0) return skipped_scalar();
  note_number(v == 0, true);
  integer(v);
  return true;
}

bool CanonicalWriter::on_uint64(std::uint64_t v, boost::json::string_view, error_code&) {
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

bool CanonicalWriter::on_double(double d, boost::json::string_view, error_code&) {
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

bool CanonicalWriter::on_bool(bool b, error_code&) {
  if (skip_depth_ != 0) {
    if (depth_ == 2 && include_usage_member_) include_usage_ = b;
    return skipped_scalar();
  }
  tag(b ? kTrue : kFalse);
  value_done();
  return true;
}

bool CanonicalWriter::on_null(error_code&) {
  if (skip_depth_ != 0) return skipped_scalar();
  tag(kNull);
  value_done();
  return true;
}

// Containers open and close levels; inside an ignored member nothing is written.
bool CanonicalWriter::enter() {
  ++depth_;
  return skip_depth_ == 0;
}

bool CanonicalWriter::leave() {
  --depth_;
  if (skip_depth_ == 0) return true;
  if (depth_ == skip_depth_) skip_depth_ = 0;  // the ignored value ended
  return false;
}

bool CanonicalWriter::skipped_scalar() {
  if (depth_ == skip_depth_) skip_depth_ = 0;
  return true;
}

// A scalar or container value ended: a top-level member's value is no longer current.
void CanonicalWriter::value_done() {
  if (depth_ == 1) top_member_ = TopMember::kOther;
}

void CanonicalWriter::note_number(bool zero, bool integral) {
  if (depth_ != 1) return;
  if (top_member_ == TopMember::kTemperature) zero_temperature_ = zero;
  if (top_member_ == TopMember::kSeed) integer_seed_ = integral;
}

void CanonicalWriter::integer(std::int64_t v) {
  tag(kInteger);
  u64(static_cast<std::uint64_t>(v));
  value_done();
}

void CanonicalWriter::string_header() {
  tag(kString);
  string_at_ = out_.size();
  u64(0);
  in_string_ = true;
}

void CanonicalWriter::patch_string() {
  patch(string_at_, out_.size() - string_at_ - kLengthBytes);
  in_string_ = false;
}

void CanonicalWriter::patch(std::size_t at, std::uint64_t v) {
  std::memcpy(out_.data() + at, &v, sizeof v);
}

std::string_view CanonicalWriter::key_at(std::size_t member) const {
  std::uint64_t n;
  std::memcpy(&n, out_.data() + member + 1, sizeof n);
  return {out_.data() + member + 1 + kLengthBytes, n};
}

void CanonicalWriter::sort_members(const Frame& f) {
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
  // Objects in requests are small: insertion sort beats std::sort's set-up.
  for (std::size_t i = 1; i < n; ++i) {
    Member m = order_[i];
    std::size_t j = i;
    for (; j > 0 && m.key < order_[j - 1].key; --j) order_[j] = order_[j - 1];
    order_[j] = m;
  }
  std::size_t base = members_[first];
  // (resize and memcpy: small_vector's iterator assign copies byte by byte)
  scratch_.resize(out_.size() - base, boost::container::default_init);
  std::memcpy(scratch_.data(), out_.data() + base, out_.size() - base);
  char* at = out_.data() + base;
  for (const Member& m : order_) {
    std::memcpy(at, scratch_.data() + (m.begin - base), m.end - m.begin);
    at += m.end - m.begin;
  }
}

}  // namespace sluice::api
