#include "mock/tools.h"

#include "mock/params.h"
#include "mock/text.h"

namespace sluice::mock {

namespace {

// Bounds on made-up arguments, so a huge or recursive schema cannot blow up an answer.
constexpr int kMaxDepth = 3;
constexpr std::size_t kMaxProperties = 16;

std::string at(std::string_view base, std::size_t i, std::string_view rest = {}) {
  std::string out(base);
  out += '[';
  out += std::to_string(i);
  out += ']';
  out += rest;
  return out;
}

// The name of tools[i], checking the shape OpenAI requires.
core::Result<std::string_view> tool_name(const json::value& tool, std::size_t i) {
  if (!tool.is_object()) return wrong_type(at("tools", i), "an object", tool);
  const json::object& obj = tool.get_object();
  const json::value* type = find(obj, "type");
  if (type == nullptr) return missing_param(at("tools", i, ".type"));
  if (!type->is_string() || type->get_string() != "function") {
    return invalid_param(
        "Invalid value for 'tools[" + std::to_string(i) + "].type': only 'function' is supported.",
        at("tools", i, ".type"));
  }
  const json::value* function = find(obj, "function");
  if (function == nullptr) return missing_param(at("tools", i, ".function"));
  if (!function->is_object())
    return wrong_type(at("tools", i, ".function"), "an object", *function);
  const json::value* name = find(function->get_object(), "name");
  if (name == nullptr) return missing_param(at("tools", i, ".function.name"));
  if (!name->is_string()) return wrong_type(at("tools", i, ".function.name"), "a string", *name);
  return std::string_view(name->get_string());
}

// The function named by tool_choice, or empty for "none" and "auto"; `required` is set for
// "required".
core::Result<std::string_view> chosen_name(const json::value& choice, bool& required) {
  if (choice.is_string()) {
    std::string_view s = choice.get_string();
    if (s == "none" || s == "auto") return std::string_view();
    if (s == "required") {
      required = true;
      return std::string_view();
    }
    return invalid_param("Invalid value: '" + std::string(s) +
                             "'. Supported values are: 'none', 'auto', and 'required'.",
                         "tool_choice");
  }
  if (!choice.is_object()) return wrong_type("tool_choice", "a string or an object", choice);
  const json::value* function = find(choice.get_object(), "function");
  if (function == nullptr) return missing_param("tool_choice.function");
  if (!function->is_object()) return wrong_type("tool_choice.function", "an object", *function);
  const json::value* name = find(function->get_object(), "name");
  if (name == nullptr) return missing_param("tool_choice.function.name");
  if (!name->is_string()) return wrong_type("tool_choice.function.name", "a string", *name);
  return std::string_view(name->get_string());
}

const json::value* parameters_of(const json::value& tool) {
  const json::value* params = find(tool.get_object().at("function").get_object(), "parameters");
  return params != nullptr && params->is_object() ? params : nullptr;
}

std::string_view schema_type(const json::object& schema) {
  const json::value* type = find(schema, "type");
  if (type == nullptr) return schema.contains("properties") ? "object" : "string";
  if (type->is_string()) return type->get_string();
  if (type->is_array()) {  // ["string", "null"]: the first non-null type
    for (const json::value& t : type->get_array()) {
      if (t.is_string() && t.get_string() != "null") return t.get_string();
    }
  }
  return "string";
}

json::value fake_value(const json::value* schema, Rng& rng, int depth);

json::object fake_object(const json::value* schema, Rng& rng, int depth) {
  json::object out;
  if (schema == nullptr || !schema->is_object() || depth > kMaxDepth) return out;
  const json::value* props = find(schema->get_object(), "properties");
  if (props == nullptr || !props->is_object()) return out;
  for (const auto& [key, sub] : props->get_object()) {
    if (out.size() == kMaxProperties) break;
    out[key] = fake_value(&sub, rng, depth + 1);
  }
  return out;
}

json::value fake_value(const json::value* schema, Rng& rng, int depth) {
  const auto& words = vocabulary();
  if (schema == nullptr || !schema->is_object())
    return json::string(words[rng.below(words.size())]);
  const json::object& obj = schema->get_object();
  if (const json::value* e = find(obj, "enum"); e && e->is_array() && !e->get_array().empty()) {
    return e->get_array()[rng.below(e->get_array().size())];
  }
  std::string_view type = schema_type(obj);
  if (type == "integer") return static_cast<std::int64_t>(rng.below(100));
  if (type == "number") return static_cast<double>(rng.below(10000)) / 100.0;
  if (type == "boolean") return rng.below(2) == 1;
  if (type == "object") return fake_object(schema, rng, depth);
  if (type == "array") {
    json::array items;
    if (depth <= kMaxDepth) items.push_back(fake_value(find(obj, "items"), rng, depth + 1));
    return items;
  }
  std::string text(words[rng.below(words.size())]);
  for (std::uint64_t n = rng.below(3); n > 0; --n) {
    text += ' ';
    text += words[rng.below(words.size())];
  }
  return json::string(text);
}

}  // namespace

core::Result<ToolPlan> read_tools(const json::object& request) {
  ToolPlan plan;
  const json::value* tools = find(request, "tools");
  if (tools != nullptr && !tools->is_array()) return wrong_type("tools", "an array", *tools);
  const json::array* list = tools != nullptr ? &tools->get_array() : nullptr;
  for (std::size_t i = 0; list != nullptr && i < list->size(); ++i) {
    auto name = tool_name((*list)[i], i);
    if (!name) return name.error();
  }
  if (list != nullptr && !list->empty()) plan.prompt_tokens = count_tokens(json::serialize(*list));

  const json::value* choice = find(request, "tool_choice");
  if (choice == nullptr) return plan;
  if (list == nullptr || list->empty()) {
    return invalid_param(
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
        "specified.",
        "tool_choice");
  }
  bool required = false;
  auto named = chosen_name(*choice, required);
  if (!named) return named.error();
  if (!required && named->empty()) return plan;
  for (const json::value& tool : *list) {
    std::string_view name = tool.get_object().at("function").get_object().at("name").get_string();
    if (required || name == *named) {
      plan.call = true;
      plan.name = name;
      plan.parameters = parameters_of(tool);
      return plan;
    }
  }
  return invalid_param("Invalid value for 'tool_choice': function '" + std::string(*named) +
                           "' not found in 'tools'.",
                       "tool_choice");
}

std::string fake_arguments(const json::value* parameters, std::uint64_t seed) {
  Rng rng(seed);
  return json::serialize(fake_object(parameters, rng, 0));
}

}  // namespace sluice::mock
