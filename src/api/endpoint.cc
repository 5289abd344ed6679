#include "api/endpoint.h"

namespace sluice::api {

std::optional<Endpoint> endpoint_for_path(std::string_view path) {
  if (path == "/v1/chat/completions") return Endpoint::kChatCompletions;
  if (path == "/v1/completions") return Endpoint::kCompletions;
  if (path == "/v1/embeddings") return Endpoint::kEmbeddings;
  if (path == "/v1/images/generations") return Endpoint::kImageGenerations;
  return std::nullopt;
}

std::string_view endpoint_path(Endpoint e) {
  switch (e) {
    case Endpoint::kChatCompletions:
      return "/chat/completions";
    case Endpoint::kCompletions:
      return "/completions";
    case Endpoint::kEmbeddings:
      return "/embeddings";
    case Endpoint::kImageGenerations:
      return "/images/generations";
  }
  return "";
}

std::string_view endpoint_name(Endpoint e) {
  switch (e) {
    case Endpoint::kChatCompletions:
      return "chat";
    case Endpoint::kCompletions:
      return "completions";
    case Endpoint::kEmbeddings:
      return "embeddings";
    case Endpoint::kImageGenerations:
      return "images";
  }
  return "";
}

bool endpoint_streams(Endpoint e) {
  return e == Endpoint::kChatCompletions || e == Endpoint::kCompletions;
}

}  // namespace sluice::api
