#include "provider/anthropic_translate.h"

#include <boost/json.hpp>

#include <string>
#include <utility>

#include "api/errors.h"
#include "api/json_text.h"
#include "provider/anthropic_common.h"

namespace sluice::provider::anthropic {

namespace {

using core::Errc;

// How much of an unreadable error body goes into the message.
constexpr std::size_t kQuote = 200;

core::Error answered_error(const json::object& body) {
  std::string message = "Anthropic answered with an error instead of a message";
  if (const json::value* e = member(body, "error"); e != nullptr && e->is_object()) {
    std::string_view m = string_or_empty(member(e->get_object(), "message"));
    if (!m.empty()) {
      message += ": ";
      message += m;
    }
  }
  return protocol(std::move(message));
}

// The status the client gets for an Anthropic status. The client's own faults keep theirs. The
// gateway's credentials and account (401 authentication, 402 billing, 403 permission) are not the
// client's fault, and another deployment may well work, so they are a bad gateway (502), which
// the router retries elsewhere; so is Anthropic's own 500, since a 500 from the gateway says the
// gateway failed. 529 (overloaded) is 503, the status OpenAI clients know for it.
int client_status(int status) {
  switch (status) {
    case 401:
    case 402:
    case 403:
    case 500:
      return 502;
    case 529:
      return 503;
    default:
      return status >= 400 && status <= 599 ? status : 502;
  }
}

bool credentials_status(int status) { return status == 401 || status == 402 || status == 403; }

std::string quote_body(std::string_view body) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!body.empty() && space(body.front())) body.remove_prefix(1);
  while (!body.empty() && space(body.back())) body.remove_suffix(1);
  std::string out(body.substr(0, kQuote));
  if (body.size() > kQuote) out += "...";
  return out;
}

}  // namespace

core::Result<std::string> translate_response(std::string_view body, std::int64_t created) {
  api::JsonArenaParser parser;
  const json::value* v = parser.parse(body);
  if (v == nullptr) return protocol("Anthropic's answer is not JSON");
  if (!v->is_object()) return protocol("Anthropic's answer is not a JSON object");
  const json::object& message = v->get_object();
  // The members, in one pass over the object rather than a lookup each.
  const json::value* type = nullptr;
  const json::value* id = nullptr;
  const json::value* model = nullptr;
  const json::value* content = nullptr;
  const json::value* stop_reason = nullptr;
  const json::value* usage = nullptr;
  for (const auto& kv : message) {
    const std::string_view key = kv.key();
    const json::value* value = kv.value().is_null() ? nullptr : &kv.value();
    if (key == "type") {
      type = value;
    } else if (key == "id") {
      id = value;
    } else if (key == "model") {
      model = value;
    } else if (key == "content") {
      content = value;
    } else if (key == "stop_reason") {
      stop_reason = value;
    } else if (key == "usage") {
      usage = value;
    }
  }
  if (type != nullptr && string_or_empty(type) == "error") return answered_error(message);
  if (type != nullptr && string_or_empty(type) != "message") {
    return protocol("Anthropic's answer is not a message");
  }
  if (id == nullptr || !id->is_string()) return protocol("Anthropic's message has no id");
  if (model == nullptr || !model->is_string()) return protocol("Anthropic's message has no model");
  if (content == nullptr || !content->is_array()) {
    return protocol("Anthropic's message has no content array");
  }
  if (stop_reason == nullptr || !stop_reason->is_string()) {
    return protocol("Anthropic's message has no stop_reason");
  }

  std::string text;
  std::string reasoning;
  bool thinking = false;
  std::string calls;  // the tool_calls array's elements, written as they are read
  std::string arguments;
  std::size_t call_count = 0;
  for (const json::value& b : content->get_array()) {
    if (!b.is_object()) return protocol("a content block of Anthropic's message is not an object");
    const json::object& block = b.get_object();
    const std::string_view block_type = string_or_empty(member(block, "type"));
    if (block_type == "text") {
      text += string_or_empty(member(block, "text"));
    } else if (block_type == "thinking") {
      thinking = true;
      reasoning += string_or_empty(member(block, "thinking"));
    } else if (block_type == "tool_use") {
      const json::value* call_id = member(block, "id");
      const json::value* name = member(block, "name");
      if (call_id == nullptr || !call_id->is_string() || name == nullptr || !name->is_string()) {
        return protocol("a tool_use block of Anthropic's message has no id or name");
      }
      const json::value* input = member(block, "input");
      if (call_count++ > 0) calls += ',';
      calls += "{\"id\":";
      api::append_json_string(calls, call_id->get_string());
      calls += ",\"type\":\"function\",\"function\":{\"name\":";
      api::append_json_string(calls, name->get_string());
      calls += ",\"arguments\":";
      arguments.clear();
      if (input != nullptr) {
        api::append_json(arguments, *input);
      } else {
        arguments = "{}";
      }
      api::append_json_string(calls, arguments);
      calls += "}}";
    }
    // redacted_thinking (encrypted, for Anthropic alone), server tool blocks and their results
    // (the search already happened; what the model made of it is in the text): no counterpart.
  }

  std::string out;
  out.reserve(256 + text.size() + reasoning.size() + calls.size());
  out += "{\"id\":";
  api::append_json_string(out, id->get_string());
  out += ",\"object\":\"chat.completion\",\"created\":";
  append_int(out, created);
  out += ",\"model\":";
  api::append_json_string(out, model->get_string());
  out += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":";
  // As OpenAI's: null when the reply is only tool calls.
  if (text.empty() && call_count > 0) {
    out += "null";
  } else {
    api::append_json_string(out, text);
  }
  if (thinking) {
    out += ",\"reasoning_content\":";
    api::append_json_string(out, reasoning);
  }
  if (call_count > 0) {
    out += ",\"tool_calls\":[";
    out += calls;
    out += ']';
  }
  out += "},\"logprobs\":null,\"finish_reason\":\"";
  out += finish_reason(stop_reason->get_string());
  out += "\"}]";
  if (usage != nullptr && usage->is_object()) {
    Tokens tokens;
    tokens.update(usage->get_object());
    out += ",\"usage\":";
    append_usage(out, tokens);
  }
  out += '}';
  return out;
}

int error_type_status(std::string_view type) {
  if (type == "invalid_request_error") return 400;
  if (type == "not_found_error") return 404;
  if (type == "request_too_large") return 413;
  if (type == "rate_limit_error") return 429;
  if (type == "overloaded_error") return 503;
  if (type == "timeout_error") return 504;
  // authentication_error, billing_error, permission_error, api_error, and types to come.
  return 502;
}

TranslatedReply translate_error(int status, std::string_view body) {
  core::Error error(Errc::kUpstreamError, "");
  error.status = client_status(status);
  std::string& message = error.message;
  const std::string code = std::to_string(status);

  api::JsonArenaParser parser;
  const json::value* v = body.empty() ? nullptr : parser.parse(body);
  const json::object* outer = v != nullptr && v->is_object() ? &v->get_object() : nullptr;
  const json::value* inner = outer != nullptr ? member(*outer, "error") : nullptr;
  if (inner != nullptr && inner->is_object()) {
    const json::object& e = inner->get_object();
    const std::string_view type = string_or_empty(member(e, "type"));
    const std::string_view text = string_or_empty(member(e, "message"));
    if (credentials_status(status)) {
      message = "Anthropic refused the gateway's credentials for this deployment (HTTP " + code;
      if (!type.empty()) {
        message += ' ';
        message += type;
      }
      message += ")";
      if (!text.empty()) {
        message += ": ";
        message += text;
      }
    } else if (!text.empty()) {
      message = text;
    } else {
      message = "Anthropic answered HTTP " + code;
      if (!type.empty()) {
        message += ' ';
        message += type;
      }
    }
    // The id Anthropic's support asks for.
    if (std::string_view request_id = string_or_empty(member(*outer, "request_id"));
        !request_id.empty()) {
      message += " (Anthropic request_id ";
      message += request_id;
      message += ')';
    }
  } else if (body.empty()) {
    message = "Anthropic answered HTTP " + code + " with an empty body";
  } else if (std::string_view text = outer == nullptr ? std::string_view()
                                     : !string_or_empty(inner).empty()
                                         ? string_or_empty(inner)
                                         : string_or_empty(member(*outer, "message"));
             !text.empty()) {
    // Not Anthropic's shape, but a message all the same (from a proxy in front of it).
    message = "Anthropic answered HTTP " + code + ": ";
    message += text;
  } else {
    message = "Anthropic answered HTTP " + code + " with a body that is not " +
              (v == nullptr ? "JSON" : "an Anthropic error") + ": " + quote_body(body);
  }
  TranslatedReply reply;
  reply.status = api::http_status(error);
  reply.body = api::error_body(error);
  return reply;
}

}  // namespace sluice::provider::anthropic
