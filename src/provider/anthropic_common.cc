#include "provider/anthropic_common.h"

#include <cstring>

namespace sluice::provider::anthropic {

json::parse_options parse_options() {
  json::parse_options options;
  options.max_depth = kMaxDepth;
  return options;
}

const json::value* member(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

std::string_view string_or_empty(const json::value* v) {
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

namespace {

// Whether any of the 8 bytes in `w` needs escaping in a JSON string: a control character
// (below 0x20), a quote or a backslash. Bytes of UTF-8 sequences (0x80 and up) never do.
constexpr bool word_needs_escape(std::uint64_t w) {
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  constexpr std::uint64_t kHigh = 0x8080808080808080ull;
  auto has_zero = [](std::uint64_t v) { return ((v - kOnes) & ~v & kHigh) != 0; };
  const bool control = ((w - kOnes * 0x20) & ~w & kHigh) != 0;
  return control || has_zero(w ^ (kOnes * '"')) || has_zero(w ^ (kOnes * '\\'));
}

}  // namespace

// A run without specials, found 8 bytes at a time, is one append.
void append_quoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    if (i + 8 <= s.size()) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + i, sizeof w);
      if (!word_needs_escape(w)) {
        i += 8;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    out.append(s.data() + run, i - run);
    run = ++i;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default: {
        const char escaped[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(escaped, sizeof escaped);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

core::Error protocol(std::string message) {
  return core::Error(core::Errc::kUpstreamProtocol, std::move(message));
}

std::string_view finish_reason(std::string_view stop_reason) {
  if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded") {
    return "length";
  }
  if (stop_reason == "tool_use") return "tool_calls";
  if (stop_reason == "refusal") return "content_filter";
  // end_turn, stop_sequence, pause_turn (a server tool's long turn paused: what came is whole),
  // and values Anthropic adds later: the answer ended normally as far as a client can tell.
  return "stop";
}

void Tokens::update(const json::object& usage) {
  for (const auto& kv : usage) {
    const std::string_view key = kv.key();
    std::uint64_t* into = key == "input_tokens"                  ? &input
                          : key == "output_tokens"               ? &output
                          : key == "cache_read_input_tokens"     ? &cache_read
                          : key == "cache_creation_input_tokens" ? &cache_creation
                                                                 : nullptr;
    if (into == nullptr || kv.value().is_null()) continue;
    const json::value& v = kv.value();
    *into = v.is_uint64()                       ? v.get_uint64()
            : v.is_int64() && v.get_int64() > 0 ? static_cast<std::uint64_t>(v.get_int64())
                                                : 0;
  }
}

void append_usage(std::string& out, const Tokens& t) {
  const std::uint64_t prompt = t.input + t.cache_read + t.cache_creation;
  out += "{\"prompt_tokens\":";
  append_int(out, prompt);
  out += ",\"completion_tokens\":";
  append_int(out, t.output);
  out += ",\"total_tokens\":";
  append_int(out, prompt + t.output);
  out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
  append_int(out, t.cache_read);
  out += "}}";
}

}  // namespace sluice::provider::anthropic
