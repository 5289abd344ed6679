// The per-endpoint answer builders that Engine::respond dispatches to, and the small pieces of
// the wire format they share (SSE framing, `usage`).
//
// Each builder validates the request as OpenAI does (an Error becomes a 400 in Engine) and
// returns a successful Reply; pacing and faults are applied by Engine afterwards.
//
// Internal to src/mock/. Pure functions of their arguments; thread-safe.
#pragma once

#include <boost/json.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/asio.h"
#include "core/error.h"
#include "mock/engine.h"

namespace sluice::mock {

// One request, parsed, with what the builders need besides the body.
struct Call {
  const json::object& request;
  const config::MockSettings& settings;
  std::optional<int> forced_tokens;  // Faults::tokens
  std::int64_t created = 0;          // unix seconds, the only field that is not deterministic
};

core::Result<Reply> chat_completions(const Call& call);   // chat.cc
core::Result<Reply> completions(const Call& call);        // completions.cc
core::Result<Reply> embeddings(const Call& call);         // embeddings.cc
core::Result<Reply> image_generations(const Call& call);  // images.cc

inline constexpr std::string_view kSystemFingerprint = "fp_sluice_mock";
inline constexpr std::string_view kEventStreamType = "text/event-stream; charset=utf-8";
inline constexpr std::string_view kDoneEvent = "data: [DONE]\n\n";

// "data: <json>\n\n"
inline std::string sse_event(const json::value& v) {
  std::string out = "data: ";
  out += json::serialize(v);
  out += "\n\n";
  return out;
}

inline json::object usage_object(std::int64_t prompt, std::int64_t completion) {
  json::object usage;
  usage["prompt_tokens"] = prompt;
  usage["completion_tokens"] = completion;
  usage["total_tokens"] = prompt + completion;
  return usage;
}

// Merges the events of several choices round-robin, as OpenAI interleaves choices in a stream.
inline std::vector<std::string> interleave(std::vector<std::vector<std::string>> per_choice) {
  std::vector<std::string> out;
  std::size_t longest = 0;
  for (const auto& events : per_choice) longest = std::max(longest, events.size());
  for (std::size_t i = 0; i < longest; ++i) {
    for (auto& events : per_choice) {
      if (i < events.size()) out.push_back(std::move(events[i]));
    }
  }
  return out;
}

}  // namespace sluice::mock
