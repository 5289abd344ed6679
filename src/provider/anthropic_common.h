// The pieces the parts of the Anthropic translation share: reading JSON to the depth the gateway
// accepts, and writing JSON directly as text, strings escaped on the way, where building a
// document only to serialize it would cost more than the translation itself.
//
// Internal to the Anthropic translation. Pure functions, and values that belong to one use.
#pragma once

#include <boost/json.hpp>

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/asio.h"

namespace sluice::provider::anthropic {

// The gateway decodes request bodies to this depth (api/inference_request.cc); a tool's schema
// nests as deep as its author likes, so the translation reads as deep.
inline constexpr std::size_t kMaxDepth = 128;

json::parse_options parse_options();

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

}  // namespace sluice::provider::anthropic
