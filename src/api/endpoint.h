// The inference endpoints of the OpenAI API that Sluice serves, and their paths.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice::api {

enum class Endpoint : std::uint8_t {
  kChatCompletions,   // POST /v1/chat/completions
  kCompletions,       // POST /v1/completions
  kEmbeddings,        // POST /v1/embeddings
  kImageGenerations,  // POST /v1/images/generations
};

// "/v1/chat/completions" -> kChatCompletions. The query string must already be stripped.
std::optional<Endpoint> endpoint_for_path(std::string_view path);

// The path below the provider's base URL: "/chat/completions".
std::string_view endpoint_path(Endpoint e);

// A short name for logs and metrics: "chat", "completions", "embeddings", "images".
std::string_view endpoint_name(Endpoint e);

// Whether the endpoint can answer with a server-sent event stream.
bool endpoint_streams(Endpoint e);

}  // namespace sluice::api
