// The pieces the three parts of the Anthropic translation share (anthropic_request.cc,
// anthropic_response.cc, anthropic_stream.cc), beside the JSON parser and writers of
// api/json_text.h that they use: JSON read to the depth the gateway accepts, members read
// leniently, and what the end of an Anthropic answer (its stop_reason and usage) is in OpenAI's
// terms.
//
// Internal to the Anthropic translation. Pure functions, and values that belong to one use.
#pragma once

#include <boost/json.hpp>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/asio.h"
#include "core/error.h"

namespace sluice::provider::anthropic {

// The gateway decodes request bodies to this depth (api/inference_request.cc); a tool's schema
// nests as deep as its author likes, so the translation reads as deep.
inline constexpr std::size_t kMaxDepth = 128;

json::parse_options parse_options();

// A member that is there and not null.
const json::value* member(const json::object& o, std::string_view key);

std::string_view string_or_empty(const json::value* v);

// `n` in decimal; signed too, where api::append_uint takes only unsigned (`created`).
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
