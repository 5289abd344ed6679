// POST /v1/embeddings: one deterministic unit vector per input, as JSON numbers or as base64 of
// little-endian float32 (what the official Node client asks for by default).
#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <cstring>

#include "mock/handlers.h"
#include "mock/params.h"
#include "mock/text.h"

namespace sluice::mock {

namespace {

constexpr std::int64_t kMaxDimensions = 8192;

// Components uniform in [-1, 1), normalized in double and then rounded to float32: the float
// and base64 encodings carry exactly the same numbers. A prefix of the Rng sequence is used,
// so a shorter `dimensions` gives the truncated-and-renormalized vector, as text-embedding-3
// models do.
std::vector<float> unit_vector(std::uint64_t seed, std::size_t dims) {
  Rng rng(seed);
  std::vector<double> raw(dims);
  double norm2 = 0;
  for (double& x : raw) {
    x = rng.unit() * 2 - 1;
    norm2 += x * x;
  }
  double norm = std::sqrt(norm2);
  std::vector<float> out(dims);
  for (std::size_t i = 0; i < dims; ++i) {
    out[i] = norm > 0 ? static_cast<float>(raw[i] / norm) : (i == 0 ? 1.0f : 0.0f);
  }
  return out;
}

// The shortest text that reads back as the same float32, as OpenAI prints embeddings; going
// through Boost.JSON's double printer would spell out every float in 17 digits.
void append_json_floats(std::string& out, const std::vector<float>& v) {
  char buf[32];
  out += '[';
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i > 0) out += ',';
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v[i]);
    out.append(buf, ec == std::errc() ? end : buf);
  }
  out += ']';
}

std::string base64_floats(const std::vector<float>& v) {
  std::string bytes;
  bytes.reserve(v.size() * 4);
  for (float f : v) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &f, sizeof bits);
    for (int i = 0; i < 4; ++i) bytes += static_cast<char>(bits >> (8 * i));
  }
  return base64_encode(bytes);
}

std::uint64_t input_seed(const TextInput& input) {
  Hasher h;
  h.add(std::string_view("embedding")).add(input.seed_key());
  return h.digest();
}

}  // namespace

core::Result<Reply> embeddings(const Call& call) {
  const json::object& req = call.request;
  auto model = required_string(req, "model");
  if (!model) return model.error();
  auto inputs = read_text_inputs(req, "input", /*allow_empty_text=*/false);
  if (!inputs) return inputs.error();
  auto dimensions = optional_int(req, "dimensions", 1, kMaxDimensions);
  if (!dimensions) return dimensions.error();
  auto format = optional_enum(req, "encoding_format", {"float", "base64"});
  if (!format) return format.error();

  auto dims = static_cast<std::size_t>(
      dimensions->value_or(std::max(call.settings.embedding_dimensions, 1)));
  bool base64 = format->value_or("float") == "base64";
  std::size_t prompt_tokens = 0;

  // Written by hand around the vectors (see append_json_floats); strings still go through
  // Boost.JSON for escaping.
  std::string body = R"({"object":"list","data":[)";
  for (std::size_t i = 0; i < inputs->size(); ++i) {
    const TextInput& input = (*inputs)[i];
    prompt_tokens += input.tokens;
    std::vector<float> v = unit_vector(input_seed(input), dims);
    if (i > 0) body += ',';
    body += R"({"object":"embedding","index":)";
    body += std::to_string(i);
    body += R"(,"embedding":)";
    if (base64) {
      body += '"';
      body += base64_floats(v);  // the base64 alphabet needs no escaping
      body += '"';
    } else {
      append_json_floats(body, v);
    }
    body += '}';
  }
  json::object usage;
  usage["prompt_tokens"] = prompt_tokens;
  usage["total_tokens"] = prompt_tokens;
  body += R"(],"model":)";
  body += json::serialize(json::string(*model));
  body += R"(,"usage":)";
  body += json::serialize(usage);
  body += '}';

  Reply r;
  r.body = std::move(body);
  return r;
}

}  // namespace sluice::mock
