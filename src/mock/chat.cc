// POST /v1/chat/completions: validation of `messages`, and the answer as one JSON body or as
// chat.completion.chunk events, text or tool call.
#include <boost/json.hpp>

#include <algorithm>
#include <array>

#include "mock/handlers.h"
#include "mock/params.h"
#include "mock/text.h"
#include "mock/tools.h"

namespace sluice::mock {

namespace {

// OpenAI's framing cost: every message is wrapped in a few special tokens, and the reply is
// primed with "<|start|>assistant<|message|>".
constexpr std::size_t kTokensPerMessage = 3;
constexpr std::size_t kTokensPerName = 1;
constexpr std::size_t kReplyPriming = 3;

constexpr std::array<std::string_view, 6> kRoles = {"system",    "developer", "user",
                                                    "assistant", "tool",      "function"};

std::string message_param(std::size_t i, std::string_view field = {}) {
  std::string out = "messages[" + std::to_string(i) + "]";
  if (!field.empty()) {
    out += '.';
    out += field;
  }
  return out;
}

// Text parts count; other parts (images, audio, files) are accepted and count nothing.
core::Result<std::size_t> content_tokens(const json::value& content, const std::string& param) {
  if (content.is_string()) return count_tokens(content.get_string());
  if (!content.is_array()) {
    return wrong_type(param, "one of a string or array of objects", content);
  }
  std::size_t tokens = 0;
  const json::array& parts = content.get_array();
  for (std::size_t i = 0; i < parts.size(); ++i) {
    std::string part_param = param + "[" + std::to_string(i) + "]";
    if (!parts[i].is_object()) return wrong_type(part_param, "an object", parts[i]);
    const json::object& part = parts[i].get_object();
    auto type = required_string(part, "type");
    if (!type) return invalid_param(type.error().message, part_param + ".type");
    if (*type != "text") continue;
    const json::value* text = find(part, "text");
    if (text == nullptr) return missing_param(part_param + ".text");
    if (!text->is_string()) return wrong_type(part_param + ".text", "a string", *text);
    tokens += count_tokens(text->get_string());
  }
  return tokens;
}

std::size_t tool_call_tokens(const json::value* calls) {
  if (calls == nullptr || !calls->is_array()) return 0;
  std::size_t tokens = 0;
  for (const json::value& call : calls->get_array()) {
    const json::value* function = call.is_object() ? find(call.get_object(), "function") : nullptr;
    if (function == nullptr || !function->is_object()) continue;
    for (std::string_view key : {"name", "arguments"}) {
      const json::value* v = find(function->get_object(), key);
      if (v != nullptr && v->is_string()) tokens += count_tokens(v->get_string());
    }
  }
  return tokens;
}

// Checks one message and returns the prompt tokens it costs.
core::Result<std::size_t> message_tokens(const json::value& message, std::size_t i) {
  if (!message.is_object()) return wrong_type(message_param(i), "an object", message);
  const json::object& obj = message.get_object();
  const json::value* role = find(obj, "role");
  if (role == nullptr) return missing_param(message_param(i, "role"));
  if (!role->is_string()) return wrong_type(message_param(i, "role"), "a string", *role);
  std::string_view r = role->get_string();
  if (std::find(kRoles.begin(), kRoles.end(), r) == kRoles.end()) {
    return invalid_param("Invalid value: '" + std::string(r) +
                             "'. Supported values are: 'system', 'developer', 'user', "
                             "'assistant', 'tool', and 'function'.",
                         message_param(i, "role"));
  }
  std::size_t tokens = kTokensPerMessage + count_tokens(r);
  if (const json::value* content = find(obj, "content")) {
    auto n = content_tokens(*content, message_param(i, "content"));
    if (!n) return n.error();
    tokens += *n;
  }
  if (const json::value* name = find(obj, "name")) {
    if (!name->is_string()) return wrong_type(message_param(i, "name"), "a string", *name);
    tokens += kTokensPerName + count_tokens(name->get_string());
  }
  return tokens + tool_call_tokens(find(obj, "tool_calls"));
}

core::Result<std::size_t> prompt_tokens(const json::object& request) {
  const json::value* messages = find(request, "messages");
  if (messages == nullptr) return missing_param("messages");
  if (!messages->is_array()) return wrong_type("messages", "an array", *messages);
  const json::array& list = messages->get_array();
  if (list.empty()) {
    return invalid_param(
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
        "empty array instead.",
        "messages");
  }
  std::size_t tokens = kReplyPriming;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto n = message_tokens(list[i], i);
    if (!n) return n.error();
    tokens += *n;
  }
  return tokens;
}

// One generated choice. For a tool call the tokens are the argument fragments.
struct Choice {
  std::vector<std::string> tokens;
  std::string_view finish_reason;
  std::string tool_call_id;  // non-empty for a tool call
};

struct Answer {
  std::string id;
  std::int64_t created = 0;
  std::string_view model;
  const ToolPlan* tool = nullptr;
  std::vector<Choice> choices;
  std::size_t prompt_tokens = 0;
  std::size_t completion_tokens = 0;
};

Choice make_choice(const Call& call, const GenerationParams& params, const ToolPlan& tool,
                   std::uint64_t seed) {
  Choice c;
  if (tool.call) {
    // max_tokens and x-mock-tokens do not apply: made-up arguments are short, and a cut would
    // leave JSON that no client can parse.
    c.tokens = split_tokens(fake_arguments(tool.parameters, seed));
    c.finish_reason = "tool_calls";
    c.tool_call_id = "call_" + hex64(splitmix64(seed ^ 0x746f6f6cULL));
    return c;
  }
  AnswerLength len = answer_length(seed, call.forced_tokens, params.max_tokens, call.settings);
  c.tokens = answer_words(seed, len.tokens);
  c.finish_reason = len.finish_reason;
  return c;
}

std::string joined(const std::vector<std::string>& tokens) {
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

// In a stream delta each tool call carries its position first ("index"); in a message it has
// none.
json::object tool_call_object(const Answer& a, const Choice& c, std::string arguments,
                              bool with_index) {
  json::object function;
  function["name"] = a.tool->name;
  function["arguments"] = std::move(arguments);
  json::object tool_call;
  if (with_index) tool_call["index"] = 0;
  tool_call["id"] = c.tool_call_id;
  tool_call["type"] = "function";
  tool_call["function"] = std::move(function);
  return tool_call;
}

json::object message_object(const Answer& a, const Choice& c) {
  json::object message;
  message["role"] = "assistant";
  if (c.tool_call_id.empty()) {
    message["content"] = joined(c.tokens);
  } else {
    message["content"] = nullptr;
    message["tool_calls"] = json::array{tool_call_object(a, c, joined(c.tokens), false)};
  }
  message["refusal"] = nullptr;
  return message;
}

std::string whole_body(const Answer& a) {
  json::array choices;
  for (std::size_t i = 0; i < a.choices.size(); ++i) {
    json::object choice;
    choice["index"] = i;
    choice["message"] = message_object(a, a.choices[i]);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = a.choices[i].finish_reason;
    choices.push_back(std::move(choice));
  }
  json::object body;
  body["id"] = a.id;
  body["object"] = "chat.completion";
  body["created"] = a.created;
  body["model"] = a.model;
  body["choices"] = std::move(choices);
  body["usage"] = usage_object(static_cast<std::int64_t>(a.prompt_tokens),
                               static_cast<std::int64_t>(a.completion_tokens));
  body["system_fingerprint"] = kSystemFingerprint;
  return json::serialize(body);
}

// Builds the chunk events of a stream; every chunk repeats the same envelope.
class ChunkWriter {
 public:
  ChunkWriter(const Answer& a, bool include_usage) : answer_(a), include_usage_(include_usage) {
    envelope_["id"] = a.id;
    envelope_["object"] = "chat.completion.chunk";
    envelope_["created"] = a.created;
    envelope_["model"] = a.model;
    envelope_["system_fingerprint"] = kSystemFingerprint;
  }

  std::string event(std::size_t index, json::object delta, json::value finish_reason) const {
    json::object choice;
    choice["index"] = index;
    choice["delta"] = std::move(delta);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = std::move(finish_reason);
    json::object chunk = envelope_;
    chunk["choices"] = json::array{std::move(choice)};
    // With include_usage, OpenAI marks every chunk before the usage chunk with "usage": null.
    if (include_usage_) chunk["usage"] = nullptr;
    return sse_event(chunk);
  }

  std::string usage_event() const {
    json::object chunk = envelope_;
    chunk["choices"] = json::array();
    chunk["usage"] = usage_object(static_cast<std::int64_t>(answer_.prompt_tokens),
                                  static_cast<std::int64_t>(answer_.completion_tokens));
    return sse_event(chunk);
  }

  std::vector<std::string> choice_events(std::size_t index) const {
    const Choice& c = answer_.choices[index];
    bool tool = !c.tool_call_id.empty();
    std::vector<std::string> events;
    events.reserve(c.tokens.size() + 2);
    json::object first;
    first["role"] = "assistant";
    if (tool) {
      first["content"] = nullptr;
      first["tool_calls"] = json::array{tool_call_object(answer_, c, "", true)};
    } else {
      first["content"] = "";
    }
    first["refusal"] = nullptr;
    events.push_back(event(index, std::move(first), nullptr));
    for (const std::string& token : c.tokens) {
      events.push_back(event(index, token_delta(tool, token), nullptr));
    }
    events.push_back(event(index, json::object(), json::string(c.finish_reason)));
    return events;
  }

 private:
  static json::object token_delta(bool tool, const std::string& token) {
    json::object delta;
    if (!tool) {
      delta["content"] = token;
      return delta;
    }
    json::object fragment;
    fragment["index"] = 0;
    fragment["function"] = json::object{{"arguments", token}};
    delta["tool_calls"] = json::array{std::move(fragment)};
    return delta;
  }

  const Answer& answer_;
  bool include_usage_;
  json::object envelope_;
};

Reply stream_reply(const Answer& a, bool include_usage) {
  ChunkWriter writer(a, include_usage);
  std::vector<std::vector<std::string>> per_choice;
  for (std::size_t i = 0; i < a.choices.size(); ++i) per_choice.push_back(writer.choice_events(i));
  Reply r;
  r.stream = true;
  r.content_type = kEventStreamType;
  r.events = interleave(std::move(per_choice));
  if (include_usage) r.events.push_back(writer.usage_event());
  r.events.emplace_back(kDoneEvent);
  return r;
}

}  // namespace

core::Result<Reply> chat_completions(const Call& call) {
  const json::object& req = call.request;
  auto model = required_string(req, "model");
  if (!model) return model.error();
  auto prompt = prompt_tokens(req);
  if (!prompt) return prompt.error();
  auto params = read_generation_params(req, /*chat=*/true);
  if (!params) return params.error();
  auto tool = read_tools(req);
  if (!tool) return tool.error();

  std::uint64_t seed = request_seed(*model, json::serialize(req.at("messages")), *params);
  Answer a;
  a.id = "chatcmpl-" + hex64(seed);
  a.created = call.created;
  a.model = *model;
  a.tool = &*tool;
  a.prompt_tokens = *prompt + tool->prompt_tokens;
  for (int i = 0; i < params->n; ++i) {
    a.choices.push_back(make_choice(call, *params, *tool, choice_seed(seed, i)));
    a.completion_tokens += a.choices.back().tokens.size();
  }
  if (params->stream) return stream_reply(a, params->include_usage);
  Reply r;
  r.body = whole_body(a);
  return r;
}

}  // namespace sluice::mock
