#include "cache/stream_assembly.h"

#include <boost/json.hpp>

#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "api/json_text.h"
#include "core/asio.h"
#include "http/sse.h"

namespace sluice::cache {

namespace {

using api::Endpoint;
using core::Errc;

constexpr std::string_view kDone = "[DONE]";
constexpr std::string_view kChatObject = "chat.completion";
constexpr std::string_view kChatChunkObject = "chat.completion.chunk";
constexpr std::string_view kTextObject = "text_completion";

core::Error protocol(std::string message) {
  return core::fail(Errc::kUpstreamProtocol, std::move(message));
}

core::Error no_stream(Endpoint endpoint) {
  return core::fail(Errc::kInvalidRequest,
                    std::string(api::endpoint_name(endpoint)) + " answers cannot be streamed",
                    "stream");
}

// ---------------------------------------------------------------------------------------------
// JSON helpers

// One parse per event into an arena (api/json_text.h): a stream's chunks are small and dropped
// as soon as they are read.
using JsonParser = api::JsonArenaParser;

std::string_view string_or_empty(const json::value* v) {
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

bool non_empty_string(const json::value* v) { return !string_or_empty(v).empty(); }

// A choice or tool call position: a non-negative integer; a missing one counts as 0.
std::optional<std::int64_t> index_of(const json::value* v) {
  if (v == nullptr) return 0;
  if (v->is_int64() && v->get_int64() >= 0) return v->get_int64();
  if (v->is_uint64() &&
      v->get_uint64() <= std::uint64_t(std::numeric_limits<std::int64_t>::max())) {
    return static_cast<std::int64_t>(v->get_uint64());
  }
  return std::nullopt;
}

std::optional<std::uint32_t> token_count(const json::object& usage, std::string_view key) {
  const json::value* v = usage.if_contains(key);
  if (v == nullptr) return std::nullopt;
  constexpr auto kMax = std::numeric_limits<std::uint32_t>::max();
  if (v->is_int64()) {
    std::int64_t n = v->get_int64();
    if (n < 0) return std::nullopt;
    return n > std::int64_t(kMax) ? kMax : static_cast<std::uint32_t>(n);
  }
  if (v->is_uint64())
    return v->get_uint64() > kMax ? kMax : static_cast<std::uint32_t>(v->get_uint64());
  if (v->is_double() && v->get_double() >= 0) {
    double d = v->get_double();
    return d >= double(kMax) ? kMax : static_cast<std::uint32_t>(d);
  }
  return std::nullopt;
}

Usage read_usage(const json::object& u) {
  Usage out;
  // Image answers (gpt-image-1) count input/output tokens rather than prompt/completion.
  out.prompt_tokens =
      token_count(u, "prompt_tokens").value_or(token_count(u, "input_tokens").value_or(0));
  out.completion_tokens =
      token_count(u, "completion_tokens").value_or(token_count(u, "output_tokens").value_or(0));
  return out;
}

bool is_empty_value(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return true;
    case json::kind::string:
      return v.get_string().empty();
    case json::kind::int64:
      return v.get_int64() == 0;
    case json::kind::uint64:
      return v.get_uint64() == 0;
    case json::kind::array:
      return v.get_array().empty();
    default:
      return false;
  }
}

// Envelope fields repeat on every chunk; a provider may leave them empty on some (Azure's first
// chunk has id "", created 0 and model ""), so the first non-empty value wins, and objects
// (Groq's x_groq: an id first, usage last) gather the members of all chunks.
void merge_first(json::object& into, std::string_view key, const json::value& v) {
  auto it = into.find(key);
  if (it == into.end()) {
    into.emplace(key, v);  // copies into `into`'s storage, out of the parse arena
    return;
  }
  json::value& cur = it->value();
  if (cur.is_object() && v.is_object()) {
    for (const auto& kv : v.get_object()) merge_first(cur.get_object(), kv.key(), kv.value());
  } else if (is_empty_value(cur) && !is_empty_value(v)) {
    cur = v;
  }
}

// Streamed fields arrive in pieces, as `content` does: strings concatenate (reasoning_content,
// audio transcripts), arrays append (logprobs.content, annotations), objects merge member by
// member, other values replace the previous one, and null never erases. An id, type or index
// names a thing rather than being a piece of it: a repeat replaces.
void merge_delta(json::object& into, std::string_view key, const json::value& v) {
  auto it = into.find(key);
  if (it == into.end()) {
    into.emplace(key, v);
    return;
  }
  json::value& cur = it->value();
  if (v.is_null()) return;
  if (key == "id" || key == "type" || key == "index") {
    if (!is_empty_value(v)) cur = v;
  } else if (cur.is_string() && v.is_string()) {
    cur.get_string().append(v.get_string());
  } else if (cur.is_array() && v.is_array()) {
    // Element by element: Boost 1.81's range insert copies with the source's storage, which
    // here is a parse arena about to be reused.
    json::array& a = cur.get_array();
    a.reserve(a.size() + v.get_array().size());
    for (const json::value& e : v.get_array()) a.push_back(e);
  } else if (cur.is_object() && v.is_object()) {
    for (const auto& kv : v.get_object()) merge_delta(cur.get_object(), kv.key(), kv.value());
  } else {
    cur = v;
  }
}

// Whether the JSON text has a member named `key` (quotes included) whose value begins with the
// characters of `shape`, whitespace allowed between them: "{" for an object, "[]" for an empty
// array. Judged from the bytes alone, it lets replay and usage_of skip parsing the chunks that
// cannot matter (with include_usage OpenAI puts "usage": null on every chunk). It never misses a
// member spelled plainly (as every server spells it); what it finds by mistake (the same bytes in a
// nested key) is parsed and rejected.
bool has_member_shaped(std::string_view text, std::string_view key, std::string_view shape) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  for (std::size_t at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1)) {
    std::size_t i = at + key.size();
    auto expect = [&](char want) {
      while (i < text.size() && space(text[i])) ++i;
      if (i >= text.size() || text[i] != want) return false;
      ++i;
      return true;
    };
    bool match = expect(':');
    for (std::size_t k = 0; match && k < shape.size(); ++k) match = expect(shape[k]);
    if (match) return true;
  }
  return false;
}

bool may_have_usage(std::string_view data) { return has_member_shaped(data, "\"usage\"", "{"); }

bool may_have_no_choices(std::string_view data) {
  return has_member_shaped(data, "\"choices\"", "[]");
}

// ---------------------------------------------------------------------------------------------
// Completeness

std::string_view chunk_object(Endpoint endpoint) {
  return endpoint == Endpoint::kChatCompletions ? kChatChunkObject : kTextObject;
}

bool choices_complete(const json::object& answer, Endpoint endpoint) {
  const json::value* choices = answer.if_contains("choices");
  if (choices == nullptr || !choices->is_array() || choices->get_array().empty()) return false;
  for (const json::value& c : choices->get_array()) {
    if (!c.is_object()) return false;
    const json::object& choice = c.get_object();
    if (!non_empty_string(choice.if_contains("finish_reason"))) return false;
    if (!index_of(choice.if_contains("index"))) return false;
    if (endpoint == Endpoint::kChatCompletions) {
      const json::value* message = choice.if_contains("message");
      if (message == nullptr || !message->is_object()) return false;
    } else {
      const json::value* text = choice.if_contains("text");
      if (text == nullptr || !text->is_string()) return false;
    }
  }
  return true;
}

bool answer_complete(Endpoint endpoint, const json::value& v) {
  if (!v.is_object()) return false;
  const json::object& answer = v.get_object();
  if (answer.contains("error")) return false;
  switch (endpoint) {
    case Endpoint::kChatCompletions:
      return string_or_empty(answer.if_contains("object")) == kChatObject &&
             choices_complete(answer, endpoint);
    case Endpoint::kCompletions:
      return string_or_empty(answer.if_contains("object")) == kTextObject &&
             choices_complete(answer, endpoint);
    case Endpoint::kEmbeddings:
    case Endpoint::kImageGenerations: {
      const json::value* data = answer.if_contains("data");
      return data != nullptr && data->is_array() && !data->get_array().empty();
    }
  }
  return false;
}

// Reads every event of a stream, checks what complete_stream() promises, and hands each chunk
// to on_chunk(const json::object&) -> core::Result<void>. The chunk lives in a parse arena
// until the next event: keep copies, not references.
template <class OnChunk>
core::Result<void> walk_stream(Endpoint endpoint, std::string_view sse, OnChunk&& on_chunk) {
  if (!api::endpoint_streams(endpoint)) return no_stream(endpoint);
  const std::string_view kind = chunk_object(endpoint);
  http::SseEventReader reader(sse);
  JsonParser parser;
  http::SseEvent ev;
  bool done = false;
  std::size_t number = 0;
  std::map<std::int64_t, bool> finished;  // choice index -> got a finish_reason
  while (reader.next(ev)) {
    ++number;
    auto where = [number] { return "stream event " + std::to_string(number); };
    if (!ev.whole) {
      if (ev.has_data) return protocol("the stream ends in the middle of an event");
      continue;  // a trailing comment or field without its blank line carries nothing
    }
    if (ev.name == "error") return protocol(where() + " is an error event");
    if (!ev.has_data) continue;  // comments, blank lines, id: or retry: only
    if (done) return protocol(where() + " follows data: [DONE]");
    if (ev.data.starts_with(kDone)) {  // the openai clients test the prefix too
      done = true;
      continue;
    }
    const json::value* v = parser.parse(ev.data);
    if (v == nullptr) return protocol(where() + " is not JSON");
    if (!v->is_object()) return protocol(where() + " is not a JSON object");
    const json::object& chunk = v->get_object();
    if (chunk.contains("error")) return protocol(where() + " carries an error");
    if (const json::value* object = chunk.if_contains("object")) {
      // Azure's prompt-filter chunk says object "".
      std::string_view o = string_or_empty(object);
      if (!object->is_string() || (!o.empty() && o != kind)) {
        return protocol(where() + " is not a " + std::string(kind));
      }
    }
    if (const json::value* choices = chunk.if_contains("choices"); choices && !choices->is_null()) {
      if (!choices->is_array()) return protocol(where() + ": choices is not an array");
      for (const json::value& c : choices->get_array()) {
        if (!c.is_object()) return protocol(where() + ": a choice is not an object");
        auto index = index_of(c.get_object().if_contains("index"));
        if (!index) return protocol(where() + ": a choice index is not a non-negative integer");
        bool& got = finished[*index];
        if (non_empty_string(c.get_object().if_contains("finish_reason"))) got = true;
      }
    }
    if (auto r = on_chunk(chunk); !r) return r;
  }
  if (!done) return protocol("the stream ends without data: [DONE]");
  if (finished.empty()) return protocol("the stream has no choices");
  for (const auto& [index, got] : finished) {
    if (!got) return protocol("choice " + std::to_string(index) + " has no finish_reason");
  }
  return core::ok();
}

// ---------------------------------------------------------------------------------------------
// Assembly

// Copies a chunk's top-level fields other than the ones assembly rebuilds. `obfuscation` is
// random padding OpenAI adds to each chunk to hide token lengths; it means nothing in an answer.
void merge_envelope(json::object& envelope, const json::object& chunk) {
  for (const auto& kv : chunk) {
    std::string_view key = kv.key();
    if (key == "object" || key == "choices" || key == "usage" || key == "obfuscation") continue;
    merge_first(envelope, key, kv.value());
  }
}

// Fields of a choice beyond the ones assembly rebuilds (vLLM's stop_reason, Azure's
// content_filter_results) describe the choice so far: the last value that is not null wins.
void merge_choice_extra(json::object& extra, std::string_view key, const json::value& v) {
  auto it = extra.find(key);
  if (it == extra.end()) {
    extra.emplace(key, v);
  } else if (!v.is_null()) {
    it->value() = v;
  }
}

// The answer in OpenAI's field order: id, object, created and model (which every answer has),
// choices, usage, then the rest of the envelope in the order it arrived (system_fingerprint,
// service_tier, ...).
std::string answer_text(json::object& envelope, std::string_view object, json::array choices,
                        std::optional<json::object>& usage) {
  json::object out;
  auto take = [&](std::string_view key, json::value fallback) {
    auto it = envelope.find(key);
    out[key] = it != envelope.end() ? std::move(it->value()) : std::move(fallback);
  };
  take("id", "");
  out["object"] = object;
  take("created", 0);
  take("model", "");
  out["choices"] = std::move(choices);
  if (usage) out["usage"] = std::move(*usage);
  for (auto& kv : envelope) {
    std::string_view key = kv.key();
    if (key != "id" && key != "created" && key != "model") out.emplace(key, std::move(kv.value()));
  }
  return json::serialize(out);
}

struct ToolCall {
  std::string id;
  std::string type;
  std::string name;
  std::string arguments;
  bool has_function = false;
  json::object extra;           // other members of the tool call
  json::object function_extra;  // other members of `function`
};

struct ChatChoice {
  std::string role;
  std::string content;
  bool content_seen = false;  // a string content arrived, even ""
  std::string refusal;
  bool refusal_seen = false;  // the member arrived, even null
  bool refusal_text = false;  // a string refusal arrived
  std::map<std::int64_t, ToolCall> tool_calls;
  json::object delta_extra;  // other delta members, merged as streamed
  bool logprobs_seen = false;
  json::object logprobs;
  std::string finish_reason;
  json::object extra;
};

core::Result<void> add_tool_calls(ChatChoice& c, const json::value& calls) {
  if (calls.is_null()) return core::ok();
  if (!calls.is_array()) return protocol("delta.tool_calls is not an array");
  for (const json::value& v : calls.get_array()) {
    if (!v.is_object()) return protocol("a tool call delta is not an object");
    const json::object& o = v.get_object();
    std::string_view id = string_or_empty(o.if_contains("id"));
    std::int64_t index = 0;
    if (const json::value* i = o.if_contains("index")) {
      auto n = index_of(i);
      if (!n) return protocol("a tool call index is not a non-negative integer");
      index = *n;
    } else if (!c.tool_calls.empty()) {
      // Some OpenAI-compatible servers leave the index out: a new id starts the next call, a
      // fragment without one continues the last.
      auto last = c.tool_calls.rbegin();
      index = !id.empty() && id != last->second.id ? last->first + 1 : last->first;
    }
    ToolCall& t = c.tool_calls[index];
    for (const auto& kv : o) {
      std::string_view key = kv.key();
      const json::value& value = kv.value();
      if (key == "index") continue;
      if (key == "id") {
        if (t.id.empty()) t.id = string_or_empty(&value);
      } else if (key == "type") {
        if (t.type.empty()) t.type = string_or_empty(&value);
      } else if (key == "function") {
        if (value.is_null()) continue;
        if (!value.is_object()) return protocol("a tool call's function is not an object");
        t.has_function = true;
        for (const auto& f : value.get_object()) {
          if (f.key() == "name") {
            // OpenAI sends the name whole, once; some servers repeat it on every fragment,
            // which must not double it, and a few stream it in pieces.
            std::string_view name = string_or_empty(&f.value());
            if (t.name.empty()) {
              t.name = name;
            } else if (name != t.name) {
              t.name += name;
            }
          } else if (f.key() == "arguments") {
            if (!f.value().is_null() && !f.value().is_string()) {
              return protocol("a tool call's arguments are not a string");
            }
            t.arguments += string_or_empty(&f.value());
          } else {
            merge_delta(t.function_extra, f.key(), f.value());
          }
        }
      } else {
        merge_delta(t.extra, key, value);
      }
    }
  }
  return core::ok();
}

core::Result<void> add_chat_delta(ChatChoice& c, const json::value& d) {
  if (d.is_null()) return core::ok();
  if (!d.is_object()) return protocol("a delta is not an object");
  for (const auto& kv : d.get_object()) {
    std::string_view key = kv.key();
    const json::value& value = kv.value();
    if (key == "role") {
      if (c.role.empty()) c.role = string_or_empty(&value);
    } else if (key == "content") {
      if (value.is_null()) continue;
      // Content as an array of parts has no OpenAI stream form to assemble faithfully.
      if (!value.is_string()) return protocol("delta.content is not a string");
      c.content_seen = true;
      c.content += value.get_string();
    } else if (key == "refusal") {
      c.refusal_seen = true;
      if (value.is_null()) continue;
      if (!value.is_string()) return protocol("delta.refusal is not a string");
      c.refusal_text = true;
      c.refusal += value.get_string();
    } else if (key == "tool_calls") {
      if (auto r = add_tool_calls(c, value); !r) return r;
    } else {
      merge_delta(c.delta_extra, key, value);
    }
  }
  return core::ok();
}

void add_logprobs(bool& seen, json::object& into, const json::value& v) {
  if (!v.is_object()) return;  // null on chunks without them
  seen = true;
  for (const auto& kv : v.get_object()) merge_delta(into, kv.key(), kv.value());
}

json::object tool_call_object(ToolCall& t) {
  json::object out;
  out["id"] = t.id;
  if (!t.type.empty()) {
    out["type"] = t.type;
  } else if (t.has_function) {
    out["type"] = "function";
  }
  if (t.has_function) {
    json::object function;
    function["name"] = t.name;
    function["arguments"] = t.arguments;
    for (auto& kv : t.function_extra) function.emplace(kv.key(), std::move(kv.value()));
    out["function"] = std::move(function);
  }
  for (auto& kv : t.extra) out.emplace(kv.key(), std::move(kv.value()));
  return out;
}

json::object chat_message(ChatChoice& c) {
  json::object message;
  message["role"] = c.role.empty() ? std::string_view("assistant") : std::string_view(c.role);
  // OpenAI's non-stream answer has content null when the reply is tool calls, a refusal or a
  // legacy function call, though its stream starts every choice with content "".
  bool other_reply =
      !c.tool_calls.empty() || c.refusal_text ||
      (c.delta_extra.contains("function_call") && !c.delta_extra.at("function_call").is_null());
  if (c.content_seen && !(c.content.empty() && other_reply)) {
    message["content"] = c.content;
  } else {
    message["content"] = nullptr;
  }
  if (c.refusal_seen) {
    if (c.refusal_text) {
      message["refusal"] = c.refusal;
    } else {
      message["refusal"] = nullptr;
    }
  }
  if (!c.tool_calls.empty()) {
    json::array calls;
    for (auto& [index, t] : c.tool_calls) calls.push_back(tool_call_object(t));
    message["tool_calls"] = std::move(calls);
  }
  for (auto& kv : c.delta_extra) message.emplace(kv.key(), std::move(kv.value()));
  return message;
}

core::Result<std::string> assemble_chat(std::string_view sse) {
  json::object envelope;
  std::optional<json::object> usage;
  std::map<std::int64_t, ChatChoice> choices;
  auto r = walk_stream(
      Endpoint::kChatCompletions, sse, [&](const json::object& chunk) -> core::Result<void> {
        merge_envelope(envelope, chunk);
        // Some servers report usage on every chunk, running totals: the last one counts.
        if (const json::value* u = chunk.if_contains("usage"); u && u->is_object()) {
          usage.emplace(u->get_object(), json::storage_ptr());
        }
        const json::value* list = chunk.if_contains("choices");
        if (list == nullptr || !list->is_array()) return core::ok();
        for (const json::value& v : list->get_array()) {
          const json::object& choice = v.get_object();  // walk_stream checked it
          ChatChoice& c = choices[*index_of(choice.if_contains("index"))];
          for (const auto& kv : choice) {
            std::string_view key = kv.key();
            if (key == "index") continue;
            if (key == "delta") {
              if (auto d = add_chat_delta(c, kv.value()); !d) return d;
            } else if (key == "logprobs") {
              add_logprobs(c.logprobs_seen, c.logprobs, kv.value());
            } else if (key == "finish_reason") {
              if (non_empty_string(&kv.value())) c.finish_reason = kv.value().get_string();
            } else {
              merge_choice_extra(c.extra, key, kv.value());
            }
          }
        }
        return core::ok();
      });
  if (!r) return r.error();

  json::array list;
  for (auto& [index, c] : choices) {
    json::object choice;
    choice["index"] = index;
    choice["message"] = chat_message(c);
    if (c.logprobs_seen) {
      choice["logprobs"] = std::move(c.logprobs);
    } else {
      choice["logprobs"] = nullptr;
    }
    choice["finish_reason"] = c.finish_reason;
    for (auto& kv : c.extra) choice.emplace(kv.key(), std::move(kv.value()));
    list.push_back(std::move(choice));
  }
  return answer_text(envelope, kChatObject, std::move(list), usage);
}

struct TextChoice {
  std::string text;
  bool logprobs_seen = false;
  json::object logprobs;
  std::string finish_reason;
  json::object extra;
};

core::Result<std::string> assemble_text(std::string_view sse) {
  json::object envelope;
  std::optional<json::object> usage;
  std::map<std::int64_t, TextChoice> choices;
  auto r = walk_stream(
      Endpoint::kCompletions, sse, [&](const json::object& chunk) -> core::Result<void> {
        merge_envelope(envelope, chunk);
        if (const json::value* u = chunk.if_contains("usage"); u && u->is_object()) {
          usage.emplace(u->get_object(), json::storage_ptr());
        }
        const json::value* list = chunk.if_contains("choices");
        if (list == nullptr || !list->is_array()) return core::ok();
        for (const json::value& v : list->get_array()) {
          const json::object& choice = v.get_object();
          TextChoice& c = choices[*index_of(choice.if_contains("index"))];
          for (const auto& kv : choice) {
            std::string_view key = kv.key();
            if (key == "index") continue;
            if (key == "text") {
              if (kv.value().is_null()) continue;
              if (!kv.value().is_string()) return protocol("a choice's text is not a string");
              c.text += kv.value().get_string();
            } else if (key == "logprobs") {
              add_logprobs(c.logprobs_seen, c.logprobs, kv.value());
            } else if (key == "finish_reason") {
              if (non_empty_string(&kv.value())) c.finish_reason = kv.value().get_string();
            } else {
              merge_choice_extra(c.extra, key, kv.value());
            }
          }
        }
        return core::ok();
      });
  if (!r) return r.error();

  json::array list;
  for (auto& [index, c] : choices) {
    json::object choice;
    choice["text"] = c.text;
    choice["index"] = index;
    if (c.logprobs_seen) {
      choice["logprobs"] = std::move(c.logprobs);
    } else {
      choice["logprobs"] = nullptr;
    }
    choice["finish_reason"] = c.finish_reason;
    for (auto& kv : c.extra) choice.emplace(kv.key(), std::move(kv.value()));
    list.push_back(std::move(choice));
  }
  return answer_text(envelope, kTextObject, std::move(list), usage);
}

// ---------------------------------------------------------------------------------------------
// Synthesis

// Writes chunk events that share one envelope. Everything lives in one arena for the call.
class ChunkWriter {
 public:
  ChunkWriter(const json::object& answer, std::string_view object, bool usage_nulls,
              json::storage_ptr sp)
      : sp_(sp), envelope_(sp), first_extra_(sp), usage_nulls_(usage_nulls) {
    for (std::string_view key :
         {"id", "object", "created", "model", "service_tier", "system_fingerprint"}) {
      if (key == "object") {
        envelope_["object"] = object;
      } else if (const json::value* v = answer.if_contains(key)) {
        envelope_[key] = *v;
      }
    }
    // Other top-level fields (Azure's prompt_filter_results, ...) go on the first chunk only,
    // where assembly picks them up again, rather than being repeated on every chunk.
    for (const auto& kv : answer) {
      if (kv.key() == "choices" || kv.key() == "usage" || envelope_.contains(kv.key())) continue;
      first_extra_.emplace(kv.key(), kv.value());
    }
  }

  void chunk(std::string& out, json::value choices, const json::value* usage = nullptr) {
    json::object c(envelope_, sp_);
    if (first_) {
      for (const auto& kv : first_extra_) c.emplace(kv.key(), kv.value());
      first_ = false;
    }
    c["choices"] = std::move(choices);
    if (usage != nullptr) {
      c["usage"] = *usage;
    } else if (usage_nulls_) {
      // With include_usage OpenAI marks every chunk before the usage chunk "usage": null.
      c["usage"] = nullptr;
    }
    out += "data: ";
    serializer_.reset(&c);
    while (!serializer_.done()) {
      json::string_view s = serializer_.read(buffer_, sizeof buffer_);
      out.append(s.data(), s.size());
    }
    out += "\n\n";
  }

  json::storage_ptr storage() const { return sp_; }

 private:
  json::storage_ptr sp_;
  json::object envelope_;
  json::object first_extra_;
  bool usage_nulls_;
  bool first_ = true;
  json::serializer serializer_;
  char buffer_[4096];
};

using ChoiceChunks = std::vector<json::object>;  // the choice objects of one choice's chunks

core::Result<ChoiceChunks> chat_chunks(const json::object& choice, std::int64_t index,
                                       json::storage_ptr sp) {
  const json::object& message = choice.at("message").get_object();
  const json::value* content = message.if_contains("content");
  const json::value* refusal = message.if_contains("refusal");
  const json::value* tool_calls = message.if_contains("tool_calls");
  if (content != nullptr && !content->is_string() && !content->is_null()) {
    return protocol("the stored message's content is not a string");
  }
  if (refusal != nullptr && !refusal->is_string() && !refusal->is_null()) {
    return protocol("the stored message's refusal is not a string");
  }
  if (tool_calls != nullptr && !tool_calls->is_array() && !tool_calls->is_null()) {
    return protocol("the stored message's tool_calls is not an array");
  }
  const json::value* logprobs = choice.if_contains("logprobs");
  if (logprobs != nullptr && logprobs->is_null()) logprobs = nullptr;

  ChoiceChunks chunks;
  auto add = [&](json::object delta, bool with_logprobs, json::value finish_reason) {
    json::object c(sp);
    c["index"] = index;
    c["delta"] = std::move(delta);
    c["logprobs"] = with_logprobs && logprobs != nullptr ? *logprobs : json::value(nullptr);
    c["finish_reason"] = std::move(finish_reason);
    chunks.push_back(std::move(c));
  };

  std::string_view text = string_or_empty(content);
  std::string_view refusal_text = string_or_empty(refusal);
  // Logprobs ride on the first chunk with tokens in it, whole: assembly appends them again.
  bool logprobs_pending = true;
  bool has_tokens = !text.empty() || !refusal_text.empty();

  json::object first(sp);
  const json::value* role = message.if_contains("role");
  first["role"] = role != nullptr && role->is_string() ? *role : json::value("assistant");
  if (content != nullptr && content->is_string()) {
    first["content"] = "";
  } else {
    first["content"] = nullptr;
  }
  if (refusal != nullptr) {
    if (refusal->is_string()) {
      first["refusal"] = "";
    } else {
      first["refusal"] = nullptr;
    }
  }
  // The message's other fields (reasoning_content, annotations, audio, ...) go whole on the
  // first delta.
  for (const auto& kv : message) {
    std::string_view key = kv.key();
    if (key == "role" || key == "content" || key == "refusal" || key == "tool_calls") continue;
    first.emplace(key, kv.value());
  }
  add(std::move(first), !has_tokens, nullptr);
  if (!has_tokens) logprobs_pending = false;

  if (!text.empty()) {
    json::object delta(sp);
    delta["content"] = text;
    add(std::move(delta), logprobs_pending, nullptr);
    logprobs_pending = false;
  }
  if (tool_calls != nullptr && tool_calls->is_array()) {
    const json::array& calls = tool_calls->get_array();
    for (std::size_t i = 0; i < calls.size(); ++i) {
      if (!calls[i].is_object()) return protocol("a stored tool call is not an object");
      json::object call(sp);
      call["index"] = i;
      for (const auto& kv : calls[i].get_object()) {
        if (kv.key() != "index") call.emplace(kv.key(), kv.value());
      }
      json::object delta(sp);
      delta["tool_calls"].emplace_array().push_back(std::move(call));
      add(std::move(delta), false, nullptr);
    }
  }
  if (!refusal_text.empty()) {
    json::object delta(sp);
    delta["refusal"] = refusal_text;
    add(std::move(delta), logprobs_pending, nullptr);
    logprobs_pending = false;
  }

  add(json::object(sp), false, choice.at("finish_reason"));
  // Other fields of the choice (content_filter_results, stop_reason) describe the finished
  // choice, so they go on its last chunk.
  json::object& last = chunks.back();
  for (const auto& kv : choice) {
    std::string_view key = kv.key();
    if (key == "index" || key == "message" || key == "logprobs" || key == "finish_reason") continue;
    last.emplace(key, kv.value());
  }
  return chunks;
}

ChoiceChunks text_chunks(const json::object& choice, std::int64_t index, json::storage_ptr sp) {
  const json::value* logprobs = choice.if_contains("logprobs");
  if (logprobs != nullptr && logprobs->is_null()) logprobs = nullptr;
  std::string_view text = choice.at("text").get_string();
  ChoiceChunks chunks;
  auto add = [&](std::string_view t, const json::value* lp, json::value finish_reason) {
    json::object c(sp);
    c["text"] = t;
    c["index"] = index;
    c["logprobs"] = lp != nullptr ? *lp : json::value(nullptr);
    c["finish_reason"] = std::move(finish_reason);
    chunks.push_back(std::move(c));
  };
  if (!text.empty() || logprobs != nullptr) add(text, logprobs, nullptr);
  // As OpenAI does, the last chunk of a choice carries no text, only why it ended.
  add("", nullptr, choice.at("finish_reason"));
  json::object& last = chunks.back();
  for (const auto& kv : choice) {
    std::string_view key = kv.key();
    if (key == "index" || key == "text" || key == "logprobs" || key == "finish_reason") continue;
    last.emplace(key, kv.value());
  }
  return chunks;
}

}  // namespace

bool complete_json_answer(api::Endpoint endpoint, std::string_view body) {
  JsonParser parser;
  const json::value* v = parser.parse(body);
  return v != nullptr && answer_complete(endpoint, *v);
}

bool complete_stream(api::Endpoint endpoint, std::string_view sse) {
  return walk_stream(endpoint, sse,
                     [](const json::object&) -> core::Result<void> { return core::ok(); })
      .has_value();
}

core::Result<std::string> assemble(api::Endpoint endpoint, std::string_view sse) {
  switch (endpoint) {
    case Endpoint::kChatCompletions:
      return assemble_chat(sse);
    case Endpoint::kCompletions:
      return assemble_text(sse);
    default:
      return no_stream(endpoint);
  }
}

core::Result<std::string> synthesize_stream(api::Endpoint endpoint, std::string_view text,
                                            bool include_usage) {
  if (!api::endpoint_streams(endpoint)) return no_stream(endpoint);
  JsonParser parser;
  const json::value* v = parser.parse(text);
  if (v == nullptr || !answer_complete(endpoint, *v)) {
    return protocol(
        "the stored answer is not a complete " +
        std::string(endpoint == Endpoint::kChatCompletions ? kChatObject : kTextObject));
  }
  const json::object& answer = v->get_object();
  const json::value* usage = answer.if_contains("usage");
  // Without a usage object there is nothing true to put in a usage chunk: the stream has none.
  bool usage_chunk = include_usage && usage != nullptr && usage->is_object();

  json::monotonic_resource arena;
  ChunkWriter writer(answer, chunk_object(endpoint), usage_chunk, &arena);
  std::vector<ChoiceChunks> per_choice;
  const json::array& choices = answer.at("choices").get_array();
  per_choice.reserve(choices.size());
  for (std::size_t i = 0; i < choices.size(); ++i) {
    const json::object& choice = choices[i].get_object();
    std::int64_t index = choice.contains("index") ? *index_of(choice.if_contains("index"))
                                                  : static_cast<std::int64_t>(i);
    if (endpoint == Endpoint::kChatCompletions) {
      auto chunks = chat_chunks(choice, index, &arena);
      if (!chunks) return chunks.error();
      per_choice.push_back(std::move(*chunks));
    } else {
      per_choice.push_back(text_chunks(choice, index, &arena));
    }
  }

  std::string out;
  out.reserve(text.size() * 2 + 256);
  // Round-robin over the choices, as OpenAI interleaves them when n > 1.
  for (std::size_t step = 0;; ++step) {
    bool any = false;
    for (ChoiceChunks& chunks : per_choice) {
      if (step >= chunks.size()) continue;
      any = true;
      json::array list(&arena);
      list.push_back(std::move(chunks[step]));
      writer.chunk(out, std::move(list));
    }
    if (!any) break;
  }
  if (usage_chunk) writer.chunk(out, json::array(&arena), usage);
  out += "data: [DONE]\n\n";
  return out;
}

std::string replay_stream(std::string_view sse, bool include_usage) {
  if (include_usage) return std::string(sse);
  std::string out;
  out.reserve(sse.size());
  http::SseEventReader reader(sse);
  JsonParser parser;
  http::SseEvent ev;
  while (reader.next(ev)) {
    if (ev.whole && ev.has_data && may_have_usage(ev.data) && may_have_no_choices(ev.data)) {
      const json::value* v = parser.parse(ev.data);
      if (v != nullptr && v->is_object()) {
        const json::object& chunk = v->get_object();
        const json::value* choices = chunk.if_contains("choices");
        const json::value* usage = chunk.if_contains("usage");
        if (choices != nullptr && choices->is_array() && choices->get_array().empty() &&
            usage != nullptr && usage->is_object()) {
          continue;
        }
      }
    }
    out.append(ev.raw);
  }
  return out;
}

Usage usage_of(Format format, std::string_view body) {
  JsonParser parser;
  if (format == Format::kJson) {
    const json::value* v = parser.parse(body);
    if (v == nullptr || !v->is_object()) return {};
    const json::value* u = v->get_object().if_contains("usage");
    return u != nullptr && u->is_object() ? read_usage(u->get_object()) : Usage{};
  }
  Usage out;
  http::SseEventReader reader(body);
  http::SseEvent ev;
  while (reader.next(ev)) {
    if (!ev.has_data || !may_have_usage(ev.data)) continue;
    const json::value* v = parser.parse(ev.data);
    if (v == nullptr || !v->is_object()) continue;
    const json::value* u = v->get_object().if_contains("usage");
    if (u != nullptr && u->is_object()) out = read_usage(u->get_object());
  }
  return out;
}

}  // namespace sluice::cache
