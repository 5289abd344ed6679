// Function calling for the mock chat endpoint: checks `tools` and `tool_choice` as OpenAI does,
// decides whether the answer is a tool call, and makes up deterministic arguments that follow
// the function's JSON schema closely enough for a client to parse them.
//
// Internal to src/mock/. Pure functions; thread-safe.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/asio.h"
#include "core/error.h"

namespace sluice::mock {

struct ToolPlan {
  bool call = false;                        // answer with a tool call instead of text
  std::string_view name;                    // the function to call, when `call`
  const json::value* parameters = nullptr;  // its JSON schema, or nullptr
  std::size_t prompt_tokens = 0;            // what the tool definitions add to the prompt
};

// Reads `tools` and `tool_choice` from a chat request. The answer is a tool call when there
// are tools and tool_choice is "required" (the first tool) or names a function (that one).
core::Result<ToolPlan> read_tools(const json::object& request);

// A compact JSON object (as text) matching `parameters`: every listed property gets a value of
// its type (an enum's member, a few vocabulary words, a small number, ...). "{}" when the
// schema lists no properties.
std::string fake_arguments(const json::value* parameters, std::uint64_t seed);

}  // namespace sluice::mock
