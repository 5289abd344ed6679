// The canonical form of an inference request body: what the cache key is the hash of
// (docs/caching.md, "The key").
//
// Two bodies have the same canonical form exactly when they ask for the same answer: member order,
// whitespace, string escapes and number spelling (1, 1.0, 1e0) do not matter; every value of
// every other member does, at any depth, with its type. The top-level members in kIgnoredFields
// only change how or for whom the answer is delivered and are left out, so a streamed and a
// whole request share a form.
//
// The form is a tagged, length-prefixed byte encoding (no two different values encode to the
// same bytes). CanonicalWriter builds it as a Boost.JSON SAX handler, so decode_inference makes
// it in the same pass that validates the body (DESIGN.md: the body is parsed once).
//
// Thread safety: a writer belongs to one parse.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/container/small_vector.hpp>
#include <boost/json/string_view.hpp>
#include <boost/system/error_code.hpp>

namespace sluice::api {

// Top-level members that do not change the answer's content.
inline constexpr std::array<std::string_view, 8> kIgnoredFields = {
    "stream",                  // delivery: a stream and a whole answer share an entry
    "stream_options",          // delivery (include_usage is honoured when serving)
    "user",                    // end-user id for abuse monitoring
    "metadata",                // tags for the provider's dashboards
    "store",                   // whether the provider keeps the completion
    "safety_identifier",       // end-user id, the successor of `user`
    "prompt_cache_key",        // routing hint for the provider's prompt cache
    "prompt_cache_retention",  // how long the provider keeps its prompt cache
};

class CanonicalWriter {
 public:
  using error_code = boost::system::error_code;
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  explicit CanonicalWriter(std::size_t size_hint) { out_.reserve(size_hint + 64); }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&);
  bool on_object_end(std::size_t, error_code&);
  bool on_array_begin(error_code&);
  bool on_array_end(std::size_t n, error_code&);
  bool on_key_part(boost::json::string_view s, std::size_t, error_code&);
  bool on_key(boost::json::string_view s, std::size_t, error_code&);
  bool on_string_part(boost::json::string_view s, std::size_t, error_code&);
  bool on_string(boost::json::string_view s, std::size_t, error_code&);
  bool on_number_part(boost::json::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t v, boost::json::string_view, error_code&);
  bool on_uint64(std::uint64_t v, boost::json::string_view, error_code&);
  bool on_double(double d, boost::json::string_view, error_code&);
  bool on_bool(bool b, error_code&);
  bool on_null(error_code&);
  bool on_comment_part(boost::json::string_view, error_code&) { return true; }
  bool on_comment(boost::json::string_view, error_code&) { return true; }

  // The encoding so far (the whole document's once the parse succeeded); take() moves it out.
  std::string_view bytes() const { return out_; }
  std::string take() { return std::move(out_); }
  // `temperature` is 0, `seed` an integer, `stream_options.include_usage` true.
  bool zero_temperature() const { return zero_temperature_; }
  bool integer_seed() const { return integer_seed_; }
  bool include_usage() const { return include_usage_; }

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
  enum class TopMember { kOther, kTemperature, kSeed, kStreamOptions };

  bool enter();
  bool leave();
  bool skipped_scalar();
  void value_done();
  void note_number(bool zero, bool integral);
  void tag(char t) { out_.push_back(t); }
  void u64(std::uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void integer(std::int64_t v);
  void append(std::string_view s) { out_.append(s.data(), s.size()); }
  void string_header();
  void patch_string();
  void patch(std::size_t at, std::uint64_t v);
  std::string_view key_at(std::size_t member) const;
  void sort_members(const Frame& f);

  std::string out_;
  boost::container::small_vector<Frame, 16> frames_;
  boost::container::small_vector<std::size_t, 64> members_;  // offsets of members' keys
  boost::container::small_vector<Member, 16> order_;
  boost::container::small_vector<char, 1024> scratch_;
  std::string key_;  // a key that arrives in parts (escapes, or split input)
  TopMember top_member_ = TopMember::kOther;  // the top-level member whose value is current
  std::size_t string_at_ = 0;
  std::size_t depth_ = 0;
  std::size_t skip_depth_ = 0;  // depth of the ignored member being skipped, 0 when none
  bool in_string_ = false;
  bool zero_temperature_ = false;
  bool integer_seed_ = false;
  bool include_usage_member_ = false;
  bool include_usage_ = false;
};

}  // namespace sluice::api
