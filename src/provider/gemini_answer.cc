// Gemini's answers as OpenAI's: a whole GenerateContentResponse (translate_response), a stream
// of them (StreamTranslator), and an error answer (translate_error, retry_after). A whole answer
// and the same answer streamed give the same message (the cache assembles the one from the
// other), so both are built from the same readers below.
#include <boost/json.hpp>

#include <charconv>
#include <cmath>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/errors.h"
#include "http/sse.h"
#include "provider/gemini_translate.h"
#include "provider/gemini_wire.h"

namespace sluice::provider::gemini {

namespace {

using api::append_int;
using api::append_json;
using api::append_json_string;
using api::append_uint;
using core::Errc;
using wire::array_of;
using wire::count_of;
using wire::member;
using wire::object_of;
using wire::string_of;

core::Error protocol(std::string message) {
  return core::fail(Errc::kUpstreamProtocol, "Gemini answered " + std::move(message));
}

// What a candidate's parts say. Views into the parsed answer, valid while it is.
struct Call {
  std::string_view id;  // Gemini's functionCall.id, when it gives one
  std::string_view name;
  const json::value* args = nullptr;
  std::string_view signature;  // the part's thoughtSignature
};

struct Parts {
  std::string text;
  std::string thoughts;  // parts with "thought": true (thought summaries)
  std::vector<Call> calls;

  void clear() {
    text.clear();
    thoughts.clear();
    calls.clear();
  }
};

// A part's kind (its first member that is not a marker), empty for a part with no content. A kind
// with no chat.completions form (inlineData from an image model, executableCode, ...) fails the
// answer: the client would lose it, so it is refused rather than cut.
std::string_view part_kind(const json::object& part) {
  for (const auto& kv : part) {
    if (kv.key() != "thought" && kv.key() != "thoughtSignature" && kv.key() != "partMetadata") {
      return kv.key();
    }
  }
  return {};
}

core::Result<void> read_parts(const json::object& candidate, Parts& parts) {
  const json::value* content = member(candidate, "content");
  if (content == nullptr || content->is_null()) return core::ok();  // a finish-only candidate
  const json::object* c = object_of(content);
  if (c == nullptr) return protocol("a candidate whose content is not an object");
  const json::value* list = member(*c, "parts");
  if (list == nullptr || list->is_null()) return core::ok();
  const json::array* a = array_of(list);
  if (a == nullptr) return protocol("a candidate whose parts are not an array");
  for (const json::value& p : *a) {
    const json::object* part = object_of(&p);
    if (part == nullptr) return protocol("a part that is not an object");
    if (const json::value* text = member(*part, "text")) {
      if (!text->is_string()) return protocol("a text part whose text is not a string");
      const json::value* thought = member(*part, "thought");
      bool is_thought = thought != nullptr && thought->is_bool() && thought->get_bool();
      (is_thought ? parts.thoughts : parts.text) += text->get_string();
    } else if (const json::value* fc = member(*part, "functionCall")) {
      const json::object* f = object_of(fc);
      if (f == nullptr || string_of(member(*f, "name")).empty()) {
        return protocol("a functionCall without a name");
      }
      Call call;
      call.id = string_of(member(*f, "id"));
      call.name = string_of(member(*f, "name"));
      call.args = member(*f, "args");
      if (call.args != nullptr && !call.args->is_object() && !call.args->is_null()) {
        return protocol("a functionCall whose args are not an object");
      }
      call.signature = string_of(member(*part, "thoughtSignature"));
      parts.calls.push_back(call);
    } else if (part_kind(*part).empty()) {
      continue;  // a signature alone (or an empty part) carries nothing the client sees
    } else {
      return protocol("a part (" + std::string(part_kind(*part)) +
                      ") that chat.completions has no place for");
    }
  }
  return core::ok();
}

// Gemini's finish reasons as OpenAI's: MAX_TOKENS is "length"; the ones that say a filter cut
// the answer are "content_filter"; STOP and the rest (OTHER, MALFORMED_FUNCTION_CALL, LANGUAGE,
// ...) are "stop", or "tool_calls" when the choice called functions.
std::string_view finish_reason(std::string_view gemini, bool called) {
  if (gemini == "MAX_TOKENS") return "length";
  static constexpr std::string_view kFiltered[] = {"SAFETY",
                                                   "RECITATION",
                                                   "BLOCKLIST",
                                                   "PROHIBITED_CONTENT",
                                                   "SPII",
                                                   "IMAGE_SAFETY",
                                                   "IMAGE_PROHIBITED_CONTENT",
                                                   "IMAGE_RECITATION"};
  for (std::string_view f : kFiltered) {
    if (gemini == f) return "content_filter";
  }
  return called ? "tool_calls" : "stop";
}

// The id a call is known by: Gemini's own, else one made from the completion id.
void append_call_id(std::string& out, const Call& call, std::string_view id_suffix, std::size_t n,
                    std::string& scratch) {
  if (!call.id.empty()) {
    append_json_string(out, call.id);
    return;
  }
  scratch = "call_";
  scratch += id_suffix;
  scratch += '_';
  append_int(scratch, static_cast<std::int64_t>(n));
  append_json_string(out, scratch);  // the suffix is the provider's: quoted, whatever it holds
}

// {"index"?, "id", "type", "function": {"name", "arguments"}, "extra_content"?}
void append_tool_call(std::string& out, const Call& call, std::string_view id_suffix, std::size_t n,
                      bool with_index, std::string& scratch) {
  out += '{';
  if (with_index) {
    out += R"("index":)";
    append_int(out, static_cast<std::int64_t>(n));
    out += ',';
  }
  out += R"("id":)";
  append_call_id(out, call, id_suffix, n, scratch);
  out += R"(,"type":"function","function":{"name":)";
  append_json_string(out, call.name);
  out += R"(,"arguments":)";
  scratch.clear();
  if (call.args != nullptr && call.args->is_object()) {
    append_json(scratch, *call.args);
  } else {
    scratch = "{}";
  }
  append_json_string(out, scratch);
  out += '}';
  if (!call.signature.empty()) {
    out += R"(,"extra_content":{"google":{"thought_signature":)";
    append_json_string(out, call.signature);
    out += "}}";
  }
  out += '}';
}

// A token's UTF-8 bytes, as OpenAI's logprobs list them.
void append_bytes(std::string& out, std::string_view token) {
  out += '[';
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (i > 0) out += ',';
    append_int(out, static_cast<unsigned char>(token[i]));
  }
  out += ']';
}

void append_token(std::string& out, const json::object& t) {
  std::string_view token = string_of(member(t, "token"));
  out += R"({"token":)";
  append_json_string(out, token);
  out += R"(,"logprob":)";
  const json::value* lp = member(t, "logProbability");
  if (lp != nullptr && (lp->is_double() || lp->is_int64() || lp->is_uint64())) {
    append_json(out, *lp);
  } else {
    out += '0';
  }
  out += R"(,"bytes":)";
  append_bytes(out, token);
}

// candidate.logprobsResult ({chosenCandidates: [{token, logProbability}], topCandidates:
// [{candidates: [...]}]}) as OpenAI's choice.logprobs ({content: [{token, logprob, bytes,
// top_logprobs}]}); null when the candidate has none.
void append_logprobs(std::string& out, const json::object& candidate) {
  const json::object* result = object_of(member(candidate, "logprobsResult"));
  const json::array* chosen = result ? array_of(member(*result, "chosenCandidates")) : nullptr;
  if (chosen == nullptr) {
    out += "null";
    return;
  }
  const json::array* top = array_of(member(*result, "topCandidates"));
  out += R"({"content":[)";
  bool first = true;
  for (std::size_t k = 0; k < chosen->size(); ++k) {
    const json::object* t = object_of(&(*chosen)[k]);
    if (t == nullptr) continue;
    if (!first) out += ',';
    first = false;
    append_token(out, *t);
    out += R"(,"top_logprobs":[)";
    const json::object* step = top && k < top->size() ? object_of(&(*top)[k]) : nullptr;
    const json::array* alternatives = step ? array_of(member(*step, "candidates")) : nullptr;
    bool first_alternative = true;
    for (std::size_t j = 0; alternatives && j < alternatives->size(); ++j) {
      const json::object* a = object_of(&(*alternatives)[j]);
      if (a == nullptr) continue;
      if (!first_alternative) out += ',';
      first_alternative = false;
      append_token(out, *a);
      out += '}';
    }
    out += "]}";
  }
  out += "]}";
}

struct UsageCounts {
  std::uint64_t prompt = 0;
  std::uint64_t completion = 0;
  std::uint64_t cached = 0;
  std::uint64_t reasoning = 0;
};

// usageMetadata as OpenAI counts it: tool-use prompt tokens (what a tool fed back to the model)
// are billed as input, thinking tokens as output (and shown as reasoning_tokens).
UsageCounts read_usage(const json::object& u) {
  auto n = [&](std::string_view key) { return count_of(member(u, key)).value_or(0); };
  UsageCounts c;
  c.prompt = n("promptTokenCount") + n("toolUsePromptTokenCount");
  c.reasoning = n("thoughtsTokenCount");
  c.completion = n("candidatesTokenCount") + c.reasoning;
  c.cached = n("cachedContentTokenCount");
  return c;
}

void append_usage(std::string& out, const UsageCounts& c) {
  out += R"({"prompt_tokens":)";
  append_uint(out, c.prompt);
  out += R"(,"completion_tokens":)";
  append_uint(out, c.completion);
  out += R"(,"total_tokens":)";
  append_uint(out, c.prompt + c.completion);
  out += R"(,"prompt_tokens_details":{"cached_tokens":)";
  append_uint(out, c.cached);
  out += R"(},"completion_tokens_details":{"reasoning_tokens":)";
  append_uint(out, c.reasoning);
  out += "}}";
}

std::string_view id_suffix(std::string_view id) {
  constexpr std::string_view kPrefix = "chatcmpl-";
  if (id.starts_with(kPrefix)) id.remove_prefix(kPrefix.size());
  return id;
}

// A candidate's place: its `index`, or its position when Gemini leaves it out (it does for a
// single candidate).
core::Result<std::uint64_t> candidate_index(const json::object& candidate, std::size_t position) {
  const json::value* index = member(candidate, "index");
  if (index == nullptr) return position;
  auto n = count_of(index);
  if (!n) return protocol("a candidate index that is not a non-negative integer");
  return *n;
}

std::string_view block_reason(const json::object& answer) {
  const json::object* feedback = object_of(member(answer, "promptFeedback"));
  return feedback ? string_of(member(*feedback, "blockReason")) : std::string_view();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// A whole answer

core::Result<std::string> translate_response(std::string_view body, std::string_view model,
                                             std::string_view id, std::int64_t created) {
  api::JsonArenaParser parser;
  const json::value* v = parser.parse(body);
  if (v == nullptr) return protocol("with a body that is not JSON");
  const json::object* answer = object_of(v);
  if (answer == nullptr) return protocol("with a body that is not a JSON object");
  if (answer->contains("error")) return protocol("a success status with an error body");
  std::string_view version = string_of(member(*answer, "modelVersion"));

  std::string out;
  out.reserve(body.size() + 256);
  out += R"({"id":)";
  append_json_string(out, id);
  out += R"(,"object":"chat.completion","created":)";
  append_int(out, created);
  out += R"(,"model":)";
  append_json_string(out, version.empty() ? model : version);
  out += R"(,"choices":[)";

  const json::array* candidates = array_of(member(*answer, "candidates"));
  if (candidates != nullptr && !candidates->empty()) {
    Parts parts;
    std::string scratch;
    for (std::size_t i = 0; i < candidates->size(); ++i) {
      const json::object* candidate = object_of(&(*candidates)[i]);
      if (candidate == nullptr) return protocol("a candidate that is not an object");
      auto index = candidate_index(*candidate, i);
      if (!index) return index.error();
      parts.clear();
      if (auto r = read_parts(*candidate, parts); !r) return r.error();
      if (i > 0) out += ',';
      out += R"({"index":)";
      append_int(out, static_cast<std::int64_t>(*index));
      out += R"(,"message":{"role":"assistant","content":)";
      if (!parts.text.empty() || parts.calls.empty()) {
        append_json_string(out, parts.text);
      } else {
        out += "null";  // as OpenAI answers a reply that is only tool calls
      }
      if (!parts.thoughts.empty()) {
        out += R"(,"reasoning_content":)";
        append_json_string(out, parts.thoughts);
      }
      if (!parts.calls.empty()) {
        out += R"(,"tool_calls":[)";
        for (std::size_t n = 0; n < parts.calls.size(); ++n) {
          if (n > 0) out += ',';
          append_tool_call(out, parts.calls[n], id_suffix(id), n, false, scratch);
        }
        out += ']';
      }
      out += R"(},"logprobs":)";
      append_logprobs(out, *candidate);
      out += R"(,"finish_reason":")";
      out += finish_reason(string_of(member(*candidate, "finishReason")), !parts.calls.empty());
      out += "\"}";
    }
  } else if (!block_reason(*answer).empty()) {
    // The prompt was blocked before any candidate: OpenAI's filtered answer, with nothing in it.
    out += R"({"index":0,"message":{"role":"assistant","content":""},"logprobs":null,)"
           R"("finish_reason":"content_filter"})";
  } else {
    return protocol("without candidates and without a promptFeedback.blockReason");
  }
  out += ']';
  if (const json::object* usage = object_of(member(*answer, "usageMetadata"))) {
    out += R"(,"usage":)";
    append_usage(out, read_usage(*usage));
  }
  out += '}';
  return out;
}

// ---------------------------------------------------------------------------------------------
// Errors

TranslatedReply translate_error(int status, std::string_view body) {
  int fallback = status >= 400 && status <= 599 ? status : 502;
  api::JsonArenaParser parser;
  const json::value* v = parser.parse(body);
  const json::object* error = nullptr;
  if (v != nullptr) {
    if (const json::object* o = object_of(v)) {
      error = object_of(member(*o, "error"));
    } else if (const json::array* a = array_of(v); a && !a->empty() && a->front().is_object()) {
      error = object_of(member(a->front().get_object(), "error"));
    }
  }
  if (error == nullptr) {
    // Not Gemini's shape (a proxy's HTML page, an empty body): the shared rewriter quotes it.
    return TranslatedReply{fallback, api::normalize_upstream_error(fallback, body)};
  }
  core::Error e = wire::gemini_error(*error, fallback);
  return TranslatedReply{api::http_status(e), api::error_body(e)};
}

std::optional<std::string> retry_after(std::string_view error_body) {
  api::JsonArenaParser parser;
  const json::value* v = parser.parse(error_body);
  if (v != nullptr && v->is_array() && !v->get_array().empty()) v = &v->get_array().front();
  const json::object* o = object_of(v);
  const json::object* error = o ? object_of(member(*o, "error")) : nullptr;
  const json::array* details = error ? array_of(member(*error, "details")) : nullptr;
  if (details == nullptr) return std::nullopt;
  for (const json::value& d : *details) {
    const json::object* detail = object_of(&d);
    if (detail == nullptr ||
        !string_of(member(*detail, "@type")).ends_with("google.rpc.RetryInfo")) {
      continue;
    }
    // A protobuf Duration in JSON: seconds with up to nine decimals and an "s" ("32s", "1.5s").
    std::string_view delay = string_of(member(*detail, "retryDelay"));
    if (!delay.ends_with('s')) return std::nullopt;
    delay.remove_suffix(1);
    double seconds = 0;
    auto [end, ec] = std::from_chars(delay.data(), delay.data() + delay.size(), seconds);
    if (ec != std::errc() || end != delay.data() + delay.size() || seconds < 0) {
      return std::nullopt;
    }
    return std::to_string(static_cast<std::int64_t>(std::ceil(seconds)));
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// A stream

struct StreamTranslator::State {
  struct Choice {
    std::size_t calls = 0;  // tool calls so far (they are numbered across the stream)
    std::string finish;     // Gemini's last finishReason
  };

  bool include_usage;
  std::string model;
  std::string id;
  std::int64_t created;
  std::string prefix;  // every chunk's opening, up to its choices, once the model is known
  std::map<std::uint64_t, Choice> choices;
  bool blocked = false;  // promptFeedback.blockReason
  bool has_usage = false;
  UsageCounts usage;
  bool failed = false;
  api::JsonArenaParser parser;
  Parts parts;
  std::string scratch;

  void open_prefix(std::string_view version) {
    prefix = R"(data: {"id":)";
    append_json_string(prefix, id);
    prefix += R"(,"object":"chat.completion.chunk","created":)";
    append_int(prefix, created);
    prefix += R"(,"model":)";
    append_json_string(prefix, version.empty() ? std::string_view(model) : version);
    prefix += R"(,"choices":[)";
  }

  void end_chunk(std::string& out) const {
    out += ']';
    if (include_usage) out += R"(,"usage":null)";  // as OpenAI marks every chunk but the last
    out += "}\n\n";
  }

  // The chunk opening a choice: role "assistant" and content "", before anything else of it.
  void open_choice(std::string& out, std::uint64_t index) const {
    out += prefix;
    out += R"({"index":)";
    append_int(out, static_cast<std::int64_t>(index));
    out += R"(,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null})";
    end_chunk(out);
  }

  core::Result<void> candidate(const json::object& c, std::size_t position, std::string& out) {
    auto index = candidate_index(c, position);
    if (!index) return index.error();
    auto [it, added] = choices.try_emplace(*index);
    Choice& choice = it->second;
    parts.clear();
    if (auto r = read_parts(c, parts); !r) return r;
    if (std::string_view f = string_of(member(c, "finishReason")); !f.empty()) choice.finish = f;
    bool logprobs = member(c, "logprobsResult") != nullptr;
    bool delta = !parts.text.empty() || !parts.thoughts.empty() || !parts.calls.empty() || logprobs;
    if (!delta) {
      if (added) open_choice(out, *index);
      return core::ok();
    }
    out += prefix;
    out += R"({"index":)";
    append_int(out, static_cast<std::int64_t>(*index));
    out += R"(,"delta":{)";
    bool first = true;
    auto key = [&](std::string_view k) {
      if (!first) out += ',';
      first = false;
      wire::append_key(out, k);
    };
    if (added) {
      key("role");
      out += R"("assistant")";
      key("content");
      append_json_string(out, parts.text);  // "" when this event has no text
    } else if (!parts.text.empty()) {
      key("content");
      append_json_string(out, parts.text);
    }
    if (!parts.thoughts.empty()) {
      key("reasoning_content");
      append_json_string(out, parts.thoughts);
    }
    if (!parts.calls.empty()) {
      key("tool_calls");
      out += '[';
      for (std::size_t n = 0; n < parts.calls.size(); ++n) {
        if (n > 0) out += ',';
        append_tool_call(out, parts.calls[n], id_suffix(id), choice.calls++, true, scratch);
      }
      out += ']';
    }
    out += R"(},"logprobs":)";
    append_logprobs(out, c);
    out += R"(,"finish_reason":null})";
    end_chunk(out);
    return core::ok();
  }

  core::Result<void> event(std::string_view data, std::string& out) {
    const json::value* v = parser.parse(data);
    if (v == nullptr) return protocol("a stream event that is not JSON");
    const json::object* e = object_of(v);
    if (e == nullptr) return protocol("a stream event that is not a JSON object");
    if (const json::value* error = member(*e, "error")) {
      if (const json::object* err = object_of(error)) return wire::gemini_error(*err, 0);
      return protocol("a stream event with an error that is not an object");
    }
    if (prefix.empty()) open_prefix(string_of(member(*e, "modelVersion")));
    if (!block_reason(*e).empty()) blocked = true;
    if (const json::object* u = object_of(member(*e, "usageMetadata"))) {
      // Each event reports the totals so far; the last one counts.
      usage = read_usage(*u);
      has_usage = true;
    }
    const json::value* list = member(*e, "candidates");
    if (list == nullptr || list->is_null()) return core::ok();
    const json::array* candidates = array_of(list);
    if (candidates == nullptr) return protocol("a stream event whose candidates are not an array");
    for (std::size_t i = 0; i < candidates->size(); ++i) {
      const json::object* c = object_of(&(*candidates)[i]);
      if (c == nullptr) return protocol("a candidate that is not an object");
      if (auto r = candidate(*c, i, out); !r) return r;
    }
    return core::ok();
  }
};

StreamTranslator::StreamTranslator(bool include_usage, std::string_view model, std::string_view id,
                                   std::int64_t created)
    : state_(std::make_unique<State>()) {
  state_->include_usage = include_usage;
  state_->model = model;
  state_->id = id;
  state_->created = created;
}

StreamTranslator::~StreamTranslator() = default;

core::Result<void> StreamTranslator::feed(std::string_view events, std::string& out) {
  State& s = *state_;
  if (s.failed) return protocol("nothing more: the stream already failed");
  http::SseEventReader reader(events);
  http::SseEvent ev;
  while (reader.next(ev)) {
    if (!ev.whole) {
      if (!ev.has_data) continue;  // a trailing comment carries nothing
      s.failed = true;
      return protocol("a stream event cut short");
    }
    if (!ev.has_data) continue;
    if (auto r = s.event(ev.data, out); !r) {
      s.failed = true;
      return r;
    }
  }
  return core::ok();
}

core::Result<void> StreamTranslator::finish(std::string& out) {
  State& s = *state_;
  if (s.failed) return protocol("nothing more: the stream already failed");
  if (s.choices.empty() && !s.blocked) {
    s.failed = true;
    return protocol("a stream that ended without a candidate");
  }
  for (const auto& [index, choice] : s.choices) {
    if (choice.finish.empty() && !s.blocked) {
      s.failed = true;
      return protocol("a stream that ended before candidate " + std::to_string(index) +
                      " had a finishReason");
    }
  }
  if (s.prefix.empty()) s.open_prefix({});
  if (s.choices.empty()) {
    // The prompt was blocked before any candidate: one filtered, empty choice.
    s.open_choice(out, 0);
    s.choices[0].finish = "SAFETY";
  }
  for (const auto& [index, choice] : s.choices) {
    out += s.prefix;
    out += R"({"index":)";
    append_int(out, static_cast<std::int64_t>(index));
    out += R"(,"delta":{},"logprobs":null,"finish_reason":")";
    // A prompt blocked mid-stream ends the choices it cut off as filtered.
    out += choice.finish.empty() ? std::string_view("content_filter")
                                 : finish_reason(choice.finish, choice.calls > 0);
    out += "\"}";
    s.end_chunk(out);
  }
  if (s.include_usage && s.has_usage) {
    out += s.prefix;
    out += R"(],"usage":)";
    append_usage(out, s.usage);
    out += "}\n\n";
  }
  out += "data: [DONE]\n\n";
  return core::ok();
}

}  // namespace sluice::provider::gemini
