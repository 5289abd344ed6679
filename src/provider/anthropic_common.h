// The pieces the three parts of the Anthropic translation share (anthropic_request.cc,
// anthropic_response.cc, anthropic_stream.cc): reading JSON to the depth the gateway accepts, and
// writing OpenAI's JSON directly as text, strings escaped on the way, where building a document
// only to serialize it would cost more than the translation itself; and what the end of an
// Anthropic answer (its stop_reason and usage) is in OpenAI's terms.
//
// Internal to the Anthropic translation. Pure functions, and values that belong to one use.
#pragma once

#include <boost/json.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/asio.h"
#include "core/error.h"

namespace sluice::provider::anthropic {

// The gateway decodes request bodies to this depth (api/inference_request.cc); a tool's schema
// nests as deep as its author likes, so the translation reads as deep.
inline constexpr std::size_t kMaxDepth = 128;

json::parse_options parse_options();

// Parses one document at a time into an arena that the next parse reuses (as the cache's stream
// assembly does): an event is read once and dropped, so an event that fits the first block
// (most do) costs no heap allocation at all.
class JsonParser {
 public:
  JsonParser() : parser_(json::storage_ptr(), parse_options(), temp_, sizeof temp_) {}

  // The value stays valid until the next parse().
  const json::value* parse(std::string_view text) {
    value_.reset();  // before the arena frees what it points to
    arena_.release();
    parser_.reset(&arena_);
    boost::system::error_code ec;
    parser_.write(text.data(), text.size(), ec);
    if (ec) return nullptr;
    value_.emplace(parser_.release());  // emplace keeps the arena; assignment would copy
    return &*value_;
  }

 private:
  unsigned char temp_[2048];
  unsigned char first_block_[4096];
  json::monotonic_resource arena_{first_block_, sizeof first_block_};
  json::parser parser_;
  std::optional<json::value> value_;
};

// A member that is there and not null.
const json::value* member(const json::object& o, std::string_view key);

std::string_view string_or_empty(const json::value* v);

// Appends `s` as a JSON string. Strings here come from boost::json's parser, which checked their
// UTF-8, so only quotes, backslashes and control characters are escaped: CJK and emoji are copied
// byte for byte.
void append_quoted(std::string& out, std::string_view s);

template <class Int>
void append_int(std::string& out, Int n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n);
  out.append(buf, static_cast<std::size_t>(end - buf));
}

// A kUpstreamProtocol error: Anthropic answered something its API does not document.
core::Error protocol(std::string message);

// OpenAI's finish_reason for Anthropic's stop_reason.
std::string_view finish_reason(std::string_view stop_reason);

// An answer's token counts as Anthropic reports them.
struct Tokens {
  std::uint64_t input = 0;
  std::uint64_t output = 0;
  std::uint64_t cache_read = 0;
  std::uint64_t cache_creation = 0;

  // A message_delta's counts are cumulative and may repeat the input counts: those given win.
  void update(const json::object& usage);
};

// OpenAI's usage object: Anthropic counts cache reads and writes apart from input_tokens, OpenAI
// counts every prompt token in prompt_tokens and says how many came from the cache.
void append_usage(std::string& out, const Tokens& t);
}  // namespace sluice::provider::anthropic
