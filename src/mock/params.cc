#include "mock/params.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <limits>

#include "mock/text.h"

namespace sluice::mock {

using core::Errc;

namespace {

constexpr std::int64_t kMaxChoices = 16;

std::string quoted_list(std::initializer_list<std::string_view> values) {
  std::string out;
  std::size_t i = 0;
  for (std::string_view v : values) {
    if (i > 0) out += values.size() == 2 ? " " : ", ";
    if (i > 0 && i + 1 == values.size()) out += "and ";
    out += '\'';
    out += v;
    out += '\'';
    ++i;
  }
  return out;
}

// "2" and "2.5" as OpenAI prints them, not Boost.JSON's "2E0".
std::string format_number(double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("?");
}

constexpr std::size_t kMaxInputs = 2048;

bool is_token_id(const json::value& v) {
  return (v.is_int64() && v.get_int64() >= 0) || v.is_uint64();
}

bool is_token_array(const json::value& v) {
  if (!v.is_array() || v.get_array().empty()) return false;
  for (const json::value& id : v.get_array()) {
    if (!is_token_id(id)) return false;
  }
  return true;
}

core::Error bad_input_shape(std::string_view key) {
  return invalid_param("Invalid type for '" + std::string(key) +
                           "': expected one of a string, array of strings, array of integers, or "
                           "array of arrays of integers.",
                       std::string(key));
}

core::Error empty_input(std::string_view key) {
  return invalid_param(
      "Invalid '" + std::string(key) + "': it must not be an empty string or an empty array.",
      std::string(key));
}

}  // namespace

std::string TextInput::seed_key() const {
  // Serialized, a string starts with '"' and token ids with '[', so the two never collide.
  return token_ids != nullptr ? json::serialize(*token_ids) : json::serialize(json::string(text));
}

core::Result<std::vector<TextInput>> read_text_inputs(const json::object& obj, std::string_view key,
                                                      bool allow_empty_text) {
  const json::value* v = find(obj, key);
  if (v == nullptr) return missing_param(key);
  std::vector<TextInput> inputs;
  auto add_text = [&](std::string_view text) {
    inputs.push_back(TextInput{text, nullptr, count_tokens(text)});
    return allow_empty_text || !text.empty();
  };
  if (v->is_string()) {
    if (!add_text(v->get_string())) return empty_input(key);
    return inputs;
  }
  if (!v->is_array()) return bad_input_shape(key);
  const json::array& list = v->get_array();
  if (list.empty()) return empty_input(key);
  if (list.size() > kMaxInputs) {
    return invalid_param("Invalid '" + std::string(key) + "': array too long. Expected at most " +
                             std::to_string(kMaxInputs) + " items.",
                         std::string(key));
  }
  if (is_token_array(*v)) {
    inputs.push_back(TextInput{{}, &list, list.size()});
    return inputs;
  }
  for (const json::value& item : list) {
    if (item.is_string()) {
      if (!add_text(item.get_string())) return empty_input(key);
    } else if (is_token_array(item)) {
      inputs.push_back(TextInput{{}, &item.get_array(), item.get_array().size()});
    } else {
      return bad_input_shape(key);
    }
  }
  return inputs;
}

core::Error invalid_param(std::string message, std::string param) {
  return core::Error(Errc::kInvalidRequest, std::move(message), std::move(param));
}

core::Error missing_param(std::string_view param) {
  // Built by appending: GCC 12 warns falsely (stringop-overflow) on "'" + std::string(param).
  std::string message = "'";
  message += param;
  message += "' is a required property";
  return invalid_param(std::move(message), std::string(param));
}

core::Error wrong_type(std::string_view param, std::string_view expected, const json::value& got) {
  std::string message = "Invalid type for '";
  message += param;
  message += "': expected ";
  message += expected;
  message += ", but got ";
  message += api::json_type_name(got);
  message += " instead.";
  return invalid_param(std::move(message), std::string(param));
}

core::Result<json::value> parse_body(std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec)
    return core::fail(core::Errc::kInvalidRequest,
                      "We could not parse the JSON body of your request.");
  if (!v.is_object()) {
    return core::fail(core::Errc::kInvalidRequest,
                      "Invalid type for request body: expected an object, but got " +
                          std::string(api::json_type_name(v)) + " instead.");
  }
  return v;
}

const json::value* find(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

core::Result<std::string_view> required_string(const json::object& obj, std::string_view key) {
  const json::value* v = find(obj, key);
  if (v == nullptr) return missing_param(key);
  if (!v->is_string()) return wrong_type(key, "a string", *v);
  return std::string_view(v->get_string());
}

core::Result<std::optional<std::string_view>> optional_string(const json::object& obj,
                                                              std::string_view key) {
  const json::value* v = find(obj, key);
  if (v == nullptr) return std::optional<std::string_view>();
  if (!v->is_string()) return wrong_type(key, "a string", *v);
  return std::optional<std::string_view>(v->get_string());
}

core::Result<std::optional<std::string_view>> optional_enum(
    const json::object& obj, std::string_view key,
    std::initializer_list<std::string_view> allowed) {
  auto value = optional_string(obj, key);
  if (!value || !*value) return value;
  for (std::string_view a : allowed) {
    if (**value == a) return value;
  }
  return invalid_param("Invalid value: '" + std::string(**value) +
                           "'. Supported values are: " + quoted_list(allowed) + ".",
                       std::string(key));
}

core::Result<std::optional<std::int64_t>> optional_int(const json::object& obj,
                                                       std::string_view key, std::int64_t min,
                                                       std::int64_t max) {
  const json::value* v = find(obj, key);
  if (v == nullptr) return std::optional<std::int64_t>();
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64()) {
    n = std::numeric_limits<std::int64_t>::max();  // above any maximum we check
  } else {
    return wrong_type(key, "an integer", *v);
  }
  std::string prefix = "Invalid '" + std::string(key) + "': integer ";
  if (n < min) {
    return invalid_param(prefix + "below minimum value. Expected a value >= " +
                             std::to_string(min) + ", but got " + std::to_string(n) + " instead.",
                         std::string(key));
  }
  if (n > max) {
    std::string got = v->is_uint64() ? std::to_string(v->get_uint64()) : std::to_string(n);
    return invalid_param(prefix + "above maximum value. Expected a value <= " +
                             std::to_string(max) + ", but got " + got + " instead.",
                         std::string(key));
  }
  return std::optional<std::int64_t>(n);
}

core::Result<std::optional<double>> optional_number(const json::object& obj, std::string_view key,
                                                    double min, double max) {
  const json::value* v = find(obj, key);
  if (v == nullptr) return std::optional<double>();
  if (!v->is_number()) return wrong_type(key, "a number", *v);
  double d = v->to_number<double>();
  std::string prefix = "Invalid '" + std::string(key) + "': decimal ";
  if (d < min) {
    return invalid_param(prefix + "below minimum value. Expected a value >= " + format_number(min) +
                             ", but got " + format_number(d) + " instead.",
                         std::string(key));
  }
  if (d > max) {
    return invalid_param(prefix + "above maximum value. Expected a value <= " + format_number(max) +
                             ", but got " + format_number(d) + " instead.",
                         std::string(key));
  }
  return std::optional<double>(d);
}

core::Result<bool> optional_bool(const json::object& obj, std::string_view key, bool fallback) {
  const json::value* v = find(obj, key);
  if (v == nullptr) return fallback;
  if (!v->is_bool()) return wrong_type(key, "a boolean", *v);
  return v->get_bool();
}

core::Result<GenerationParams> read_generation_params(const json::object& obj, bool chat) {
  GenerationParams p;
  constexpr std::int64_t kIntMax = std::numeric_limits<int>::max();
  auto n = optional_int(obj, "n", 1, kMaxChoices);
  if (!n) return n.error();
  p.n = static_cast<int>(n->value_or(1));

  // Chat prefers the newer name, as OpenAI does when a client sends both.
  for (std::string_view key : {"max_completion_tokens", "max_tokens"}) {
    if (!chat && key == "max_completion_tokens") continue;
    auto limit = optional_int(obj, key, 1, kIntMax);
    if (!limit) return limit.error();
    if (*limit && !p.max_tokens) p.max_tokens = *limit;
  }

  auto seed = optional_int(obj, "seed", std::numeric_limits<std::int64_t>::min(),
                           std::numeric_limits<std::int64_t>::max());
  if (!seed) return seed.error();
  p.seed = *seed;
  auto temperature = optional_number(obj, "temperature", 0, 2);
  if (!temperature) return temperature.error();
  p.temperature = *temperature;

  auto stream = optional_bool(obj, "stream", false);
  if (!stream) return stream.error();
  p.stream = *stream;
  if (const json::value* options = find(obj, "stream_options")) {
    if (!p.stream) {
      return invalid_param(
          "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
          "stream_options");
    }
    if (!options->is_object()) return wrong_type("stream_options", "an object", *options);
    const json::value* include = find(options->get_object(), "include_usage");
    if (include != nullptr && !include->is_bool()) {
      return wrong_type("stream_options.include_usage", "a boolean", *include);
    }
    p.include_usage = include != nullptr && include->get_bool();
  }
  return p;
}

std::uint64_t request_seed(std::string_view model, std::string_view prompt,
                           const GenerationParams& params) {
  Hasher h;
  h.add(model).add(prompt);
  // A presence flag before each optional value, so "absent" never collides with a value.
  h.add(std::uint64_t{params.seed.has_value()});
  h.add(static_cast<std::uint64_t>(params.seed.value_or(0)));
  h.add(std::uint64_t{params.temperature.has_value()});
  h.add(std::bit_cast<std::uint64_t>(params.temperature.value_or(0.0)));
  h.add(static_cast<std::uint64_t>(params.n));
  return h.digest();
}

}  // namespace sluice::mock
