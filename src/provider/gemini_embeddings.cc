// OpenAI's /v1/embeddings in front of Gemini's batchEmbedContents: one EmbedContentRequest per
// input, and the answer's embeddings back as OpenAI's list, as JSON numbers or (encoding_format
// "base64", the OpenAI Node client's default) as base64 of little-endian float32s.
#include <boost/json.hpp>

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "api/errors.h"
#include "mock/text.h"
#include "provider/gemini_translate.h"
#include "provider/gemini_wire.h"
#include "tokenizer/prompt_tokens.h"

namespace sluice::provider::gemini {

namespace {

using api::append_int;
using api::append_json;
using api::append_json_string;
using core::Errc;
using wire::array_of;
using wire::member;
using wire::object_of;
using wire::string_of;

core::Error invalid(std::string message, std::string param) {
  return core::fail(Errc::kInvalidRequest, std::move(message), std::move(param));
}

core::Error wrong_type(const std::string& param, std::string_view expected,
                       const json::value& got) {
  return invalid("Invalid type for '" + param + "': expected " + std::string(expected) +
                     ", but got " + std::string(api::json_type_name(got)) + " instead.",
                 param);
}

core::Error protocol(std::string message) {
  return core::fail(Errc::kUpstreamProtocol, "Gemini answered " + std::move(message));
}

void append_request(std::string& out, std::string_view model, std::string_view text,
                    const json::value* dimensions) {
  out += R"({"model":)";
  append_json_string(out, model);
  out += R"(,"content":{"parts":[{"text":)";
  append_json_string(out, text);
  out += "}]}";
  if (dimensions != nullptr) {
    out += R"(,"outputDimensionality":)";
    append_json(out, *dimensions);
  }
  out += '}';
}

void append_base64_floats(std::string& out, const json::array& values, std::string& bytes) {
  bytes.clear();
  bytes.reserve(values.size() * 4);
  for (const json::value& v : values) {
    float f = static_cast<float>(v.to_number<double>());
    std::uint32_t bits = 0;
    std::memcpy(&bits, &f, sizeof bits);
    for (int i = 0; i < 4; ++i) bytes += static_cast<char>(bits >> (8 * i));
  }
  out += '"';
  out += mock::base64_encode(bytes);  // the base64 alphabet needs no escaping
  out += '"';
}

// The text of every `"values": [...]` array in a body, in order, found by a scan that skips
// strings. The answer was parsed and checked first; this only lets the numbers be copied as
// Gemini wrote them (formatting a double costs several hundred instructions, and a 768-value
// vector is hundreds of them). Empty when an array holds anything but numbers.
std::vector<std::string_view> values_arrays(std::string_view body) {
  std::vector<std::string_view> out;
  constexpr std::string_view kKey = "\"values\"";
  std::size_t i = 0;
  while (i < body.size()) {
    char c = body[i];
    if (c != '"') {
      ++i;
      continue;
    }
    std::size_t start = i++;
    while (i < body.size() && body[i] != '"') i += body[i] == '\\' ? 2 : 1;
    ++i;  // past the closing quote
    if (i > body.size() || body.substr(start, i - start) != kKey) continue;
    std::size_t j = i;
    while (j < body.size() && (body[j] == ' ' || body[j] == '\n' || body[j] == '\r' ||
                               body[j] == '\t' || body[j] == ':')) {
      ++j;
    }
    if (j >= body.size() || body[j] != '[') continue;
    std::size_t close = j + 1;
    while (close < body.size() && body[close] != ']') {
      char x = body[close];
      if (x == '"' || x == '[' || x == '{') return {};
      ++close;
    }
    if (close >= body.size()) return {};
    out.push_back(body.substr(j, close + 1 - j));
    i = close + 1;
  }
  return out;
}

// An array's text without its whitespace (Gemini pretty-prints its answers).
void append_compact(std::string& out, std::string_view array) {
  auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  std::size_t i = 0;
  while (i < array.size()) {
    std::size_t run = i;
    while (i < array.size() && !space(array[i])) ++i;
    out.append(array.data() + run, i - run);
    while (i < array.size() && space(array[i])) ++i;
  }
}

}  // namespace

core::Result<std::string> translate_embeddings_request(std::string_view openai_body,
                                                       std::string_view model,
                                                       EmbeddingsRequest* info) {
  wire::RequestBody request;
  auto parsed = request.parse(openai_body);
  if (!parsed) return parsed.error();
  const json::object* body = *parsed;

  const json::value* input = nullptr;
  const json::value* dimensions = nullptr;
  bool base64 = false;
  for (const auto& kv : *body) {
    std::string_view key = kv.key();
    const json::value& v = kv.value();
    if (key == "input") {
      input = &v;
    } else if (key == "dimensions") {
      if (v.is_null()) continue;
      if (!v.is_int64() && !v.is_uint64()) return wrong_type("dimensions", "an integer", v);
      dimensions = &v;
    } else if (key == "encoding_format") {
      if (v.is_null()) continue;
      std::string_view f = string_of(&v);
      if (f != "float" && f != "base64") {
        return invalid("Invalid value for 'encoding_format': expected 'float' or 'base64'.",
                       "encoding_format");
      }
      base64 = f == "base64";
    } else if (key != "model" && key != "user") {
      // `user` concerns OpenAI's abuse monitoring only; anything else is unknown, as at OpenAI.
      return invalid("Unrecognized request argument supplied: " + std::string(key),
                     std::string(key));
    }
  }
  if (input == nullptr || input->is_null()) {
    return invalid("Missing required parameter: 'input'.", "input");
  }

  std::string name =
      model.starts_with("models/") ? std::string(model) : "models/" + std::string(model);
  std::string out = R"({"requests":[)";
  out.reserve(openai_body.size() + 64);
  std::size_t inputs = 0;
  std::uint64_t tokens = 0;
  auto add = [&](std::string_view text) {
    if (inputs > 0) out += ',';
    append_request(out, name, text, dimensions);
    ++inputs;
    tokens += tokenizer::estimate_bytes(text.size());
  };
  if (input->is_string()) {
    add(input->get_string());
  } else if (const json::array* list = array_of(input)) {
    if (list->empty()) {
      return invalid("Invalid 'input': empty array. Expected an array with minimum length 1.",
                     "input");
    }
    for (std::size_t i = 0; i < list->size(); ++i) {
      const json::value& item = (*list)[i];
      if (item.is_string()) {
        add(item.get_string());
      } else if (item.is_int64() || item.is_uint64() || item.is_array()) {
        return invalid(
            "Invalid value for 'input': Gemini embeds text, not token ids; send the text.",
            "input");
      } else {
        return wrong_type("input[" + std::to_string(i) + "]", "a string", item);
      }
    }
  } else {
    return wrong_type("input", "a string or an array", *input);
  }
  out += "]}";
  if (info != nullptr) {
    info->base64 = base64;
    info->inputs = inputs;
    info->estimated_tokens = tokens;
  }
  return out;
}

core::Result<std::string> translate_embeddings_response(std::string_view body,
                                                        std::string_view model,
                                                        const EmbeddingsRequest& info) {
  api::JsonArenaParser parser;
  const json::value* v = parser.parse(body);
  if (v == nullptr) return protocol("with a body that is not JSON");
  const json::object* answer = object_of(v);
  if (answer == nullptr) return protocol("with a body that is not a JSON object");
  const json::array* embeddings = array_of(member(*answer, "embeddings"));
  if (embeddings == nullptr || embeddings->empty()) return protocol("without embeddings");
  if (info.inputs != 0 && embeddings->size() != info.inputs) {
    return protocol(std::to_string(embeddings->size()) + " embeddings for " +
                    std::to_string(info.inputs) + " inputs");
  }

  std::string out;
  out.reserve(body.size() + 128);
  out += R"({"object":"list","data":[)";
  std::string bytes;
  std::vector<std::string_view> raw;
  if (!info.base64) raw = values_arrays(body);
  if (raw.size() != embeddings->size()) raw.clear();  // the copy below is then re-serialized
  for (std::size_t i = 0; i < embeddings->size(); ++i) {
    const json::object* e = object_of(&(*embeddings)[i]);
    const json::array* values = e ? array_of(member(*e, "values")) : nullptr;
    if (values == nullptr) return protocol("an embedding without values");
    for (const json::value& x : *values) {
      if (!x.is_number()) return protocol("an embedding value that is not a number");
    }
    if (i > 0) out += ',';
    out += R"({"object":"embedding","index":)";
    append_int(out, static_cast<std::int64_t>(i));
    out += R"(,"embedding":)";
    if (info.base64) {
      append_base64_floats(out, *values, bytes);
    } else if (!raw.empty()) {
      append_compact(out, raw[i]);
    } else {
      append_json(out, (*embeddings)[i].get_object().at("values"));
    }
    out += '}';
  }
  out += R"(],"model":)";
  append_json_string(out, model);
  // Vertex AI's batchEmbedContents counts the prompt; the Gemini API's does not.
  std::uint64_t tokens = info.estimated_tokens;
  if (const json::object* usage = object_of(member(*answer, "usageMetadata"))) {
    if (auto n = wire::count_of(member(*usage, "promptTokenCount"))) tokens = *n;
  }
  out += R"(,"usage":{"prompt_tokens":)";
  append_int(out, static_cast<std::int64_t>(tokens));
  out += R"(,"total_tokens":)";
  append_int(out, static_cast<std::int64_t>(tokens));
  out += "}}";
  return out;
}

}  // namespace sluice::provider::gemini
