// POST /v1/images/generations: n small solid-colour PNGs, as URLs that are never served or as
// base64 PNG bytes. The colour and URL follow from the prompt, so the same prompt gives the same
// images.
#include <boost/json.hpp>

#include "mock/handlers.h"
#include "mock/params.h"
#include "mock/png.h"
#include "mock/text.h"

namespace sluice::mock {

namespace {

constexpr std::int64_t kMaxImages = 10;
constexpr std::uint32_t kImageSide = 8;
// .invalid is reserved (RFC 2606): the URL can never resolve to someone's real server.
constexpr std::string_view kUrlPrefix = "https://mock.sluice.invalid/images/";

json::object image_object(std::string_view prompt, std::uint64_t seed, bool b64) {
  json::object image;
  if (b64) {
    std::uint64_t bits = splitmix64(seed);
    Rgb colour{static_cast<std::uint8_t>(bits), static_cast<std::uint8_t>(bits >> 8),
               static_cast<std::uint8_t>(bits >> 16)};
    image["b64_json"] = base64_encode(solid_png(kImageSide, kImageSide, colour));
  } else {
    image["url"] = std::string(kUrlPrefix) + hex64(seed) + ".png";
  }
  image["revised_prompt"] = prompt;
  return image;
}

}  // namespace

core::Result<Reply> image_generations(const Call& call) {
  const json::object& req = call.request;
  auto prompt = required_string(req, "prompt");
  if (!prompt) return prompt.error();
  if (prompt->empty()) {
    return invalid_param(
        "Invalid 'prompt': empty string. Expected a string with minimum length 1, but got an "
        "empty string instead.",
        "prompt");
  }
  for (std::string_view key : {"model", "size", "quality", "style"}) {
    if (auto v = optional_string(req, key); !v) return v.error();
  }
  auto n = optional_int(req, "n", 1, kMaxImages);
  if (!n) return n.error();
  auto format = optional_enum(req, "response_format", {"url", "b64_json"});
  if (!format) return format.error();

  bool b64 = format->value_or("url") == "b64_json";
  std::uint64_t base = Hasher().add(std::string_view("image")).add(*prompt).digest();
  json::array data;
  for (std::int64_t i = 0; i < n->value_or(1); ++i) {
    data.push_back(image_object(*prompt, choice_seed(base, static_cast<std::uint64_t>(i)), b64));
  }
  json::object body;
  body["created"] = call.created;
  body["data"] = std::move(data);
  Reply r;
  r.body = json::serialize(body);
  return r;
}

}  // namespace sluice::mock
