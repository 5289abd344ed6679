#include "provider/anthropic_common.h"

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
