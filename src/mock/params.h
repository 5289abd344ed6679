// Reading and checking request fields the way the OpenAI API does, with its error messages and
// `param` names, so a client sees from the mock the same 400s it would see from OpenAI.
//
// Internal to src/mock/. Pure functions; thread-safe.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/errors.h"
#include "core/asio.h"
#include "core/error.h"

namespace sluice::mock {

// A 400 naming the field at fault.
core::Error invalid_param(std::string message, std::string param);
// "'messages' is a required property"
core::Error missing_param(std::string_view param);
// "Invalid type for 'n': expected an integer, but got a string instead."
core::Error wrong_type(std::string_view param, std::string_view expected, const json::value& got);

// A request body that must be a JSON object; 400s worded as OpenAI's otherwise.
core::Result<json::value> parse_body(std::string_view body);

// The field, or nullptr when it is absent or null: OpenAI treats an explicit null as "not set".
const json::value* find(const json::object& obj, std::string_view key);

core::Result<std::string_view> required_string(const json::object& obj, std::string_view key);
core::Result<std::optional<std::string_view>> optional_string(const json::object& obj,
                                                              std::string_view key);
// One of `allowed`, or nullopt when absent.
core::Result<std::optional<std::string_view>> optional_enum(
    const json::object& obj, std::string_view key, std::initializer_list<std::string_view> allowed);
// An integer in [min, max]; a number with a fraction is a type error, as in the real API.
core::Result<std::optional<std::int64_t>> optional_int(const json::object& obj,
                                                       std::string_view key, std::int64_t min,
                                                       std::int64_t max);
core::Result<std::optional<double>> optional_number(const json::object& obj, std::string_view key,
                                                    double min, double max);
core::Result<bool> optional_bool(const json::object& obj, std::string_view key, bool fallback);

// One prompt of a text completion or one input of an embedding: text, or token ids.
struct TextInput {
  std::string_view text;
  const json::array* token_ids = nullptr;  // set for token input
  std::size_t tokens = 0;                  // prompt tokens: count_tokens(text) or the id count
  std::string seed_key() const;            // distinct for every distinct input
};

// Reads `key` in the shapes OpenAI accepts for `prompt` and `input`: a string, an array of
// strings, an array of token ids (one input), or an array of arrays of token ids. At most 2048
// inputs; an empty array is an error, and so is an empty string unless `allow_empty_text`.
core::Result<std::vector<TextInput>> read_text_inputs(const json::object& obj, std::string_view key,
                                                      bool allow_empty_text);

// The fields shared by chat and text completions that shape the generated text.
struct GenerationParams {
  int n = 1;                               // choices per prompt, 1..16
  std::optional<std::int64_t> max_tokens;  // max_completion_tokens or max_tokens
  std::optional<std::int64_t> seed;
  std::optional<double> temperature;
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

// Reads n, max_tokens (and, for chat, max_completion_tokens), seed, temperature, stream and
// stream_options.
core::Result<GenerationParams> read_generation_params(const json::object& obj, bool chat);

// The seed of an answer: XXH3 over the model, the prompt (messages or prompt, serialized) and
// the parameters that change the text. max_tokens is left out on purpose, so a cut answer is a
// prefix of the uncut one.
std::uint64_t request_seed(std::string_view model, std::string_view prompt,
                           const GenerationParams& params);

}  // namespace sluice::mock
