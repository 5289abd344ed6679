// The answers' direction: an OpenAI chat completion, chunk stream or error written out as
// Anthropic's message, events or error. The request direction is anthropic_messages.cc.
#include <boost/json.hpp>

#include <string>
#include <utility>

#include "api/anthropic_messages.h"
#include "api/errors.h"
#include "api/json_text.h"
#include "http/sse.h"

namespace sluice::api::messages {

namespace {

using core::Errc;

core::Error protocol(std::string message) {
  return core::fail(Errc::kUpstreamProtocol, std::move(message));
}

std::string_view string_of(const json::value* v) {
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// What an upstream's error member says ({"error": {"message": ...}} or {"error": "..."}).
core::Error upstream_error(const json::value& error) {
  std::string_view message = string_of(&error);
  if (error.is_object()) message = string_of(error.get_object().if_contains("message"));
  if (message.empty()) message = "The upstream reported an error without a message.";
  return core::fail(Errc::kUpstreamError, std::string(message));
}

// Reasoning arrives as reasoning_content (DeepSeek, vLLM, llama.cpp) or reasoning (OpenRouter,
// Ollama).
std::string_view reasoning_of(const json::object& o) {
  std::string_view r = string_of(o.if_contains("reasoning_content"));
  return r.empty() ? string_of(o.if_contains("reasoning")) : r;
}

struct Counts {
  std::uint64_t prompt = 0;
  std::uint64_t completion = 0;
  std::uint64_t cached = 0;  // part of prompt
};

Counts read_usage(const json::object& u) {
  Counts c;
  c.prompt = json_count(u.if_contains("prompt_tokens")).value_or(0);
  c.completion = json_count(u.if_contains("completion_tokens")).value_or(0);
  const json::value* details = u.if_contains("prompt_tokens_details");
  std::optional<std::uint64_t> cached;
  if (details != nullptr && details->is_object()) {
    cached = json_count(details->get_object().if_contains("cached_tokens"));
  }
  if (!cached) cached = json_count(u.if_contains("prompt_cache_hit_tokens"));  // DeepSeek's
  c.cached = std::min(cached.value_or(0), c.prompt);
  return c;
}

// Anthropic counts cache reads apart from input_tokens; OpenAI includes them in prompt_tokens.
// OpenAI-compatible caches are written without charge, so nothing is a cache write.
void write_usage(std::string& out, const Counts& c) {
  out += "{\"input_tokens\":";
  append_uint(out, c.prompt - c.cached);
  out += ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":";
  append_uint(out, c.cached);
  out += ",\"output_tokens\":";
  append_uint(out, c.completion);
  out += '}';
}

// finish_reason -> stop_reason. An answer with tool calls asks for them to be run, whatever
// reason an OpenAI-compatible server gives (some say "stop"), unless it was cut short.
std::string_view stop_reason(std::string_view finish, bool saw_tool, bool saw_refusal) {
  if (finish == "length") return "max_tokens";
  if (finish == "content_filter") return "refusal";
  if (saw_tool || finish == "tool_calls" || finish == "function_call") return "tool_use";
  if (saw_refusal) return "refusal";
  return "end_turn";
}

void write_error_body(std::string& out, int status, std::string_view message) {
  out += "{\"type\":\"error\",\"error\":{\"type\":\"";
  out += anthropic_error_type(status);
  out += "\",\"message\":";
  append_json_string(out, message);
  out += "}}";
}

void event_head(std::string& out, std::string_view name) {
  out += "event: ";
  out += name;
  out += "\ndata: ";
}

constexpr std::string_view kEventEnd = "\n\n";

}  // namespace

// ---------------------------------------------------------------------------------------------
// Whole answers

core::Result<std::string> to_message(std::string_view chat_completion, std::string_view model) {
  JsonArenaParser parser;
  const json::value* v = parser.parse(chat_completion);
  if (v == nullptr || !v->is_object())
    return protocol("The upstream's answer is not a JSON object.");
  const json::object& answer = v->get_object();
  if (const json::value* e = answer.if_contains("error"); e != nullptr && !e->is_null()) {
    return upstream_error(*e);
  }
  const json::value* choices = answer.if_contains("choices");
  if (choices == nullptr || !choices->is_array() || choices->get_array().empty() ||
      !choices->get_array().front().is_object()) {
    return protocol("The upstream's answer has no choices.");
  }
  const json::object& choice = choices->get_array().front().get_object();
  const json::value* message = choice.if_contains("message");
  if (message == nullptr || !message->is_object()) {
    return protocol("The upstream's answer has no message.");
  }
  const json::object& m = message->get_object();

  std::string out;
  out.reserve(chat_completion.size() + 256);
  out += "{\"id\":\"msg_";
  append_json_chars(out, string_of(answer.if_contains("id")));
  out += "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
  append_json_string(out, model);
  out += ",\"content\":[";
  bool first = true;
  auto next_block = [&] {
    if (!first) out += ',';
    first = false;
  };

  // Reasoning comes before the answer it led to, as Anthropic's thinking blocks do. It has no
  // signature: no OpenAI-compatible model signs its reasoning.
  if (std::string_view reasoning = reasoning_of(m); !reasoning.empty()) {
    next_block();
    out += "{\"type\":\"thinking\",\"thinking\":";
    append_json_string(out, reasoning);
    out += ",\"signature\":\"\"}";
  }
  const json::value* content = m.if_contains("content");
  if (std::string_view text = string_of(content); !text.empty()) {
    next_block();
    out += "{\"type\":\"text\",\"text\":";
    append_json_string(out, text);
    out += '}';
  } else if (content != nullptr && content->is_array()) {
    // Some servers answer with content parts; their text is the one text block.
    std::string joined;
    for (const json::value& part : content->get_array()) {
      if (part.is_object() && string_of(part.get_object().if_contains("type")) == "text") {
        joined += string_of(part.get_object().if_contains("text"));
      }
    }
    if (!joined.empty()) {
      next_block();
      out += "{\"type\":\"text\",\"text\":";
      append_json_string(out, joined);
      out += '}';
    }
  }
  const std::string_view refusal = string_of(m.if_contains("refusal"));
  if (!refusal.empty()) {
    next_block();
    out += "{\"type\":\"text\",\"text\":";
    append_json_string(out, refusal);
    out += '}';
  }

  bool saw_tool = false;
  if (const json::value* calls = m.if_contains("tool_calls");
      calls != nullptr && calls->is_array()) {
    JsonArenaParser arguments_parser;
    for (const json::value& call : calls->get_array()) {
      if (!call.is_object())
        return protocol("The upstream's answer has a tool call that is not an object.");
      const json::object& c = call.get_object();
      const json::value* function = c.if_contains("function");
      const json::object* f =
          function != nullptr && function->is_object() ? &function->get_object() : nullptr;
      const std::string_view id = string_of(c.if_contains("id"));
      const std::string_view name = f != nullptr ? string_of(f->if_contains("name")) : "";
      if (id.empty() || name.empty()) {
        return protocol("The upstream's answer has a tool call without an id or a function name.");
      }
      const json::value* arguments = f->if_contains("arguments");
      const json::value* input = nullptr;
      const std::string_view text = string_of(arguments);
      if (arguments != nullptr && arguments->is_object()) {
        input = arguments;  // a server that sends the object itself
      } else if (!text.empty()) {
        input = arguments_parser.parse(text);
        if (input == nullptr || !input->is_object()) {
          return protocol("The model called " + std::string(name) +
                          " with arguments that are not a JSON object; an Anthropic tool_use "
                          "input must be one.");
        }
      }
      next_block();
      out += "{\"type\":\"tool_use\",\"id\":";
      append_json_string(out, id);
      out += ",\"name\":";
      append_json_string(out, name);
      out += ",\"input\":";
      if (input != nullptr) {
        append_json(out, *input);
      } else {
        out += "{}";  // no arguments: a tool without parameters
      }
      out += '}';
      saw_tool = true;
    }
  }

  out += "],\"stop_reason\":\"";
  out += stop_reason(string_of(choice.if_contains("finish_reason")), saw_tool, !refusal.empty());
  out += "\",\"stop_sequence\":null,\"usage\":";
  Counts counts;
  if (const json::value* u = answer.if_contains("usage"); u != nullptr && u->is_object()) {
    counts = read_usage(u->get_object());
  }
  write_usage(out, counts);
  out += '}';
  return out;
}

// ---------------------------------------------------------------------------------------------
// Errors

std::string_view anthropic_error_type(int status) {
  switch (status) {
    case 400:
      return "invalid_request_error";
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 409:
      return "conflict_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 500:
      return "api_error";
    case 503:
    case 529:
      return "overloaded_error";
    case 504:
      return "timeout_error";
    default:
      return status >= 400 && status < 500 ? "invalid_request_error" : "api_error";
  }
}

std::string to_error(int status, std::string_view openai_error_body) {
  JsonArenaParser parser;
  auto message_in = [&parser](std::string_view body) -> std::string {
    const json::value* v = parser.parse(body);
    if (v == nullptr || !v->is_object()) return {};
    const json::value* e = v->get_object().if_contains("error");
    if (e == nullptr || !e->is_object()) return {};
    return std::string(string_of(e->get_object().if_contains("message")));
  };
  std::string message = message_in(openai_error_body);
  if (message.empty()) message = message_in(normalize_upstream_error(status, openai_error_body));
  if (message.empty()) message = "HTTP " + std::to_string(status);
  std::string out;
  write_error_body(out, status, message);
  return out;
}

std::string error_event(int status, std::string_view message) {
  std::string out;
  event_head(out, "error");
  write_error_body(out, status, message);
  out += kEventEnd;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Streams

StreamTranslator::StreamTranslator(std::string_view model)
    : model_(model), parser_(std::make_unique<JsonArenaParser>()) {}

StreamTranslator::~StreamTranslator() = default;

core::Result<void> StreamTranslator::feed(std::string_view events, std::string& out) {
  http::SseEventReader reader(events);
  http::SseEvent ev;
  while (!done_ && reader.next(ev)) {
    if (ev.name == "error") {
      const json::value* v = parser_->parse(ev.data);
      const json::value* e =
          v != nullptr && v->is_object() ? v->get_object().if_contains("error") : nullptr;
      if (e != nullptr) return upstream_error(*e);
      return core::fail(Errc::kUpstreamError, ev.data.empty()
                                                  ? std::string("The upstream sent an error event.")
                                                  : std::string(ev.data));
    }
    if (!ev.has_data) continue;  // comments, such as ": keep-alive"
    if (ev.data == "[DONE]") {
      if (auto r = done(out); !r) return r;
      continue;
    }
    if (auto r = chunk(ev.data, out); !r) return r;
  }
  return core::ok();
}

core::Result<void> StreamTranslator::finish(std::string& out) {
  (void)out;
  if (!done_) return protocol("The upstream's stream ended before its data: [DONE].");
  return core::ok();
}

core::Result<void> StreamTranslator::chunk(std::string_view data, std::string& out) {
  const json::value* v = parser_->parse(data);
  if (v == nullptr || !v->is_object()) {
    return protocol("The upstream sent a stream event that is not a JSON object.");
  }
  // One pass over each object's members rather than a lookup per member wanted: a chunk is
  // read once, and it is most of what a stream costs.
  const json::value* error = nullptr;
  const json::value* usage = nullptr;
  const json::value* choices = nullptr;
  std::string_view id;
  for (const auto& kv : v->get_object()) {
    const std::string_view key = kv.key();
    if (key == "choices") {
      choices = &kv.value();
    } else if (key == "usage") {
      usage = &kv.value();
    } else if (key == "id") {
      id = string_of(&kv.value());
    } else if (key == "error") {
      error = &kv.value();
    }
  }
  if (error != nullptr && !error->is_null()) return upstream_error(*error);
  const bool usage_here = usage != nullptr && usage->is_object();
  if (usage_here) {
    const Counts c = read_usage(usage->get_object());
    prompt_tokens_ = c.prompt;
    completion_tokens_ = c.completion;
    cached_tokens_ = c.cached;
  }
  if (!started_) start_message(id, out);

  if (!finished_ && choices != nullptr && choices->is_array()) {
    for (const json::value& cv : choices->get_array()) {
      if (!cv.is_object()) return protocol("The upstream sent a choice that is not an object.");
      const json::value* index = nullptr;
      const json::value* delta = nullptr;
      std::string_view reason;
      for (const auto& kv : cv.get_object()) {
        const std::string_view key = kv.key();
        if (key == "delta") {
          delta = &kv.value();
        } else if (key == "index") {
          index = &kv.value();
        } else if (key == "finish_reason") {
          reason = string_of(&kv.value());
        }
      }
      if (json_count(index).value_or(0) != 0) continue;
      if (delta != nullptr && delta->is_object()) {
        if (auto r = apply_delta(delta->get_object(), out); !r) return r;
      }
      if (!reason.empty()) {
        finish_reason_ = reason;
        finished_ = true;
        close(out);
      }
    }
  }
  // OpenAI's usage chunk comes after the finish chunk (some servers put usage on the finish chunk
  // itself); message_delta carries both.
  if (finished_ && usage_here && !delta_sent_) message_delta(out);
  return core::ok();
}

core::Result<void> StreamTranslator::apply_delta(const json::object& delta, std::string& out) {
  std::string_view reasoning;
  std::string_view text;
  std::string_view refusal;
  const json::value* calls = nullptr;
  for (const auto& kv : delta) {
    const std::string_view key = kv.key();
    if (key == "content") {
      text = string_of(&kv.value());
    } else if (key == "tool_calls") {
      calls = &kv.value();
    } else if (key == "reasoning_content" || (key == "reasoning" && reasoning.empty())) {
      if (std::string_view r = string_of(&kv.value()); !r.empty()) reasoning = r;
    } else if (key == "refusal") {
      refusal = string_of(&kv.value());
    }
  }
  // Within one delta: reasoning leads to the text, text comes before the calls it announces.
  if (!reasoning.empty()) {
    open(Block::kThinking, out);
    event_head(out, "content_block_delta");
    out += "{\"type\":\"content_block_delta\",\"index\":";
    append_uint(out, index_);
    out += ",\"delta\":{\"type\":\"thinking_delta\",\"thinking\":";
    append_json_string(out, reasoning);
    out += "}}";
    out += kEventEnd;
  }
  if (!refusal.empty()) saw_refusal_ = true;
  for (std::string_view piece : {text, refusal}) {
    if (piece.empty()) continue;
    open(Block::kText, out);
    event_head(out, "content_block_delta");
    out += "{\"type\":\"content_block_delta\",\"index\":";
    append_uint(out, index_);
    out += ",\"delta\":{\"type\":\"text_delta\",\"text\":";
    append_json_string(out, piece);
    out += "}}";
    out += kEventEnd;
  }
  if (calls != nullptr && calls->is_array()) {
    for (const json::value& call : calls->get_array()) {
      if (auto r = tool_call(call, out); !r) return r;
    }
  }
  return core::ok();
}

core::Result<void> StreamTranslator::tool_call(const json::value& call, std::string& out) {
  if (!call.is_object()) return protocol("The upstream sent a tool call that is not an object.");
  const json::object& c = call.get_object();
  const json::value* function = c.if_contains("function");
  const json::object* f =
      function != nullptr && function->is_object() ? &function->get_object() : nullptr;
  const std::string_view id = string_of(c.if_contains("id"));
  // A server that leaves out the index sends one call per fragment run: an id starts a new one.
  std::int64_t at = tool_ < 0 ? 0 : tool_;
  if (auto i = json_count(c.if_contains("index"))) {
    at = static_cast<std::int64_t>(*i);
  } else if (!id.empty() && open_ == Block::kTool) {
    at = tool_ + 1;
  }
  const bool continues = open_ == Block::kTool && at == tool_;
  if (!continues) {
    if (at <= tool_) {
      // An Anthropic block cannot be reopened once another has begun.
      return protocol("The upstream resumed tool call " + std::to_string(at) +
                      " after a later block had begun.");
    }
    const std::string_view name = f != nullptr ? string_of(f->if_contains("name")) : "";
    if (id.empty() || name.empty()) {
      return protocol("The upstream started tool call " + std::to_string(at) +
                      " without an id or a function name.");
    }
    close(out);
    event_head(out, "content_block_start");
    out += "{\"type\":\"content_block_start\",\"index\":";
    append_uint(out, index_);
    out += ",\"content_block\":{\"type\":\"tool_use\",\"id\":";
    append_json_string(out, id);
    out += ",\"name\":";
    append_json_string(out, name);
    out += ",\"input\":{}}}";
    out += kEventEnd;
    open_ = Block::kTool;
    tool_ = at;
    saw_tool_ = true;
  }
  const std::string_view arguments = f != nullptr ? string_of(f->if_contains("arguments")) : "";
  if (!arguments.empty()) {
    event_head(out, "content_block_delta");
    out += "{\"type\":\"content_block_delta\",\"index\":";
    append_uint(out, index_);
    out += ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":";
    append_json_string(out, arguments);
    out += "}}";
    out += kEventEnd;
  }
  return core::ok();
}

core::Result<void> StreamTranslator::done(std::string& out) {
  if (!started_) return protocol("The upstream's stream ended without a single chunk.");
  if (!finished_) return protocol("The upstream's stream ended without a finish_reason.");
  if (!delta_sent_) message_delta(out);
  event_head(out, "message_stop");
  out += "{\"type\":\"message_stop\"}";
  out += kEventEnd;
  done_ = true;
  return core::ok();
}

void StreamTranslator::start_message(std::string_view completion_id, std::string& out) {
  event_head(out, "message_start");
  out += "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_";
  append_json_chars(out, completion_id);
  out += "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":";
  append_json_string(out, model_);
  out += ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":";
  write_usage(out, Counts{prompt_tokens_, completion_tokens_, cached_tokens_});
  out += "}}";
  out += kEventEnd;
  started_ = true;
}

void StreamTranslator::open(Block kind, std::string& out) {
  if (open_ == kind) return;
  close(out);
  event_head(out, "content_block_start");
  out += "{\"type\":\"content_block_start\",\"index\":";
  append_uint(out, index_);
  out += kind == Block::kThinking
             ? ",\"content_block\":{\"type\":\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}"
             : ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}";
  out += kEventEnd;
  open_ = kind;
}

void StreamTranslator::close(std::string& out) {
  if (open_ == Block::kNone) return;
  event_head(out, "content_block_stop");
  out += "{\"type\":\"content_block_stop\",\"index\":";
  append_uint(out, index_);
  out += '}';
  out += kEventEnd;
  ++index_;
  open_ = Block::kNone;
}

void StreamTranslator::message_delta(std::string& out) {
  event_head(out, "message_delta");
  out += "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"";
  out += stop_reason(finish_reason_, saw_tool_, saw_refusal_);
  out += "\",\"stop_sequence\":null},\"usage\":";
  write_usage(out, Counts{prompt_tokens_, completion_tokens_, cached_tokens_});
  out += '}';
  out += kEventEnd;
  delta_sent_ = true;
}

}  // namespace sluice::api::messages
