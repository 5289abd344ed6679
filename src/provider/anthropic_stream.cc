#include "provider/anthropic_translate.h"

#include <boost/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/json_text.h"
#include "http/sse.h"
#include "provider/anthropic_common.h"

namespace sluice::provider::anthropic {

namespace {

using core::Errc;

// A stream's content blocks are numbered from 0 in order; an index past this is not a block
// Anthropic sent but a number that would size the table of blocks.
constexpr std::int64_t kMaxBlocks = 1 << 16;

std::optional<std::int64_t> index_of(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_int64() && v->get_int64() >= 0) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= std::uint64_t(kMaxBlocks)) {
    return static_cast<std::int64_t>(v->get_uint64());
  }
  return std::nullopt;
}

enum class BlockKind : unsigned char { kNone, kText, kTool, kThinking, kOther };

struct Block {
  BlockKind kind = BlockKind::kNone;
  bool arguments_sent = false;  // a tool block streamed (non-empty) input JSON
  std::uint32_t tool = 0;       // the OpenAI tool call index of a tool block
  std::string start_input;      // a tool block's `input` at its start, serialized
};

// A content_block_delta, whichever way it was read. With `raw`, the strings are JSON string
// contents as Anthropic escaped them (valid JSON, copied as they are); without, decoded text.
struct Delta {
  std::optional<std::int64_t> index;
  bool has_delta = false;  // `delta` is an object
  bool raw = false;
  std::string_view type;  // delta.type
  std::string_view text;  // text_delta
  std::string_view partial_json;
  std::string_view thinking;
};

// The length of the UTF-8 sequence that starts at s[i] (a byte >= 0x80), or 0 when it is not a
// valid one (overlong, a surrogate, past U+10FFFF, cut short).
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  unsigned char low = 0x80, high = 0xBF;  // the range of the second byte
  std::size_t n = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) low = 0xA0;
    if (c == 0xED) high = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) low = 0x90;
    if (c == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < (k == 1 ? low : 0x80) || b > (k == 1 ? high : 0xBF)) return 0;
  }
  return n;
}

bool hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Where the JSON string whose contents start at s[i] ends (its closing quote), when those
// contents can be copied into another JSON string as they are: valid escapes, valid UTF-8, no
// raw control characters. npos otherwise, and for an escaped UTF-16 surrogate, which only the
// parser pairs up.
std::size_t copyable_string_end(std::string_view s, std::size_t i) {
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"') return i;
    if (c < 0x20) return std::string_view::npos;
    if (c == '\\') {
      if (i + 1 >= s.size()) return std::string_view::npos;
      const char e = s[i + 1];
      if (e == 'u') {
        if (i + 6 > s.size()) return std::string_view::npos;
        for (std::size_t k = 2; k < 6; ++k) {
          if (!hex_digit(s[i + k])) return std::string_view::npos;
        }
        const char lead = static_cast<char>(s[i + 2] | 0x20);  // lower case; digits stay
        const char second = static_cast<char>(s[i + 3] | 0x20);
        const bool surrogate =
            lead == 'd' && ((second >= '8' && second <= '9') || (second >= 'a' && second <= 'f'));
        if (surrogate) return std::string_view::npos;
        i += 6;
        continue;
      }
      if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
          e != 't') {
        return std::string_view::npos;
      }
      i += 2;
    } else if (c < 0x80) {
      ++i;
    } else {
      const std::size_t n = utf8_sequence(s, i);
      if (n == 0) return std::string_view::npos;
      i += n;
    }
  }
  return std::string_view::npos;
}

// Nearly every event of a stream is a content_block_delta, and Anthropic's API writes them
// compactly, members in one order:
//   {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}
// That spelling is matched rather than parsed, and its string, once checked, is copied into the
// chunk as it is: a parse would only decode what append_json_string encodes again. Any other
// spelling (whitespace, another order, other members) gives nullopt and goes to the parser.
std::optional<Delta> compact_delta(std::string_view data) {
  constexpr std::string_view kHead = R"({"type":"content_block_delta","index":)";
  constexpr std::string_view kDelta = R"(,"delta":{"type":")";
  constexpr std::string_view kText = R"(text_delta","text":")";
  constexpr std::string_view kInput = R"(input_json_delta","partial_json":")";
  constexpr std::string_view kThinking = R"(thinking_delta","thinking":")";
  if (!data.starts_with(kHead)) return std::nullopt;
  std::size_t i = kHead.size();
  std::int64_t index = 0;
  const std::size_t digits = i;
  while (i < data.size() && data[i] >= '0' && data[i] <= '9' && i - digits < 6) {
    index = index * 10 + (data[i] - '0');
    ++i;
  }
  if (i == digits || (data[digits] == '0' && i - digits > 1)) return std::nullopt;
  if (data.substr(i, kDelta.size()) != kDelta) return std::nullopt;
  i += kDelta.size();
  Delta d;
  d.index = index;
  d.has_delta = true;
  d.raw = true;
  std::string_view* field = nullptr;
  const std::string_view rest = data.substr(i);
  if (rest.starts_with(kText)) {
    d.type = "text_delta";
    field = &d.text;
    i += kText.size();
  } else if (rest.starts_with(kInput)) {
    d.type = "input_json_delta";
    field = &d.partial_json;
    i += kInput.size();
  } else if (rest.starts_with(kThinking)) {
    d.type = "thinking_delta";
    field = &d.thinking;
    i += kThinking.size();
  } else {
    return std::nullopt;
  }
  const std::size_t end = copyable_string_end(data, i);
  if (end == std::string_view::npos || data.substr(end + 1) != "}}") return std::nullopt;
  *field = data.substr(i, end - i);
  return d;
}

// `{"type":"content_block_stop","index":N}` as Anthropic writes it: the block's index, or
// nullopt for any other spelling (which the parser reads).
std::optional<std::int64_t> compact_block_stop(std::string_view data) {
  constexpr std::string_view kHead = R"({"type":"content_block_stop","index":)";
  if (!data.starts_with(kHead) || !data.ends_with("}")) return std::nullopt;
  const std::string_view digits = data.substr(kHead.size(), data.size() - kHead.size() - 1);
  if (digits.empty() || digits.size() > 6 || (digits[0] == '0' && digits.size() > 1)) {
    return std::nullopt;
  }
  std::int64_t index = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    index = index * 10 + (c - '0');
  }
  return index;
}

core::Error stream_error(const json::object& e) {
  // Mid-stream, where a status can no longer be sent: the error's type says which it was.
  const json::value* inner = member(e, "error");
  const json::object* err = inner != nullptr && inner->is_object() ? &inner->get_object() : nullptr;
  const std::string_view type =
      err != nullptr ? string_or_empty(member(*err, "type")) : std::string_view();
  std::string message(err != nullptr ? string_or_empty(member(*err, "message"))
                                     : std::string_view());
  if (message.empty()) {
    message = "Anthropic's stream failed";
    if (!type.empty()) {
      message += " with ";
      message += type;
    }
  }
  core::Error error(Errc::kUpstreamError, std::move(message));
  error.status = error_type_status(type);
  return error;
}

}  // namespace

struct StreamTranslator::State {
  State(bool include_usage, std::int64_t created)
      : include_usage(include_usage), created(created) {}

  core::Result<void> event(const json::object& e, std::string_view type, std::string& out);
  core::Result<void> message_start(const json::object& e, std::string& out);
  core::Result<void> block_start(const json::object& e, std::string& out);
  core::Result<void> delta(const Delta& d, std::string& out);
  core::Result<void> block_stop(const json::object& e, std::string& out);
  core::Result<void> block_stop(std::optional<std::int64_t> index, std::string& out);
  core::Result<void> message_delta(const json::object& e, std::string& out);
  core::Result<void> message_stop();
  core::Result<Block*> block_at(std::optional<std::int64_t> index, std::string_view event);

  // A chunk is head + `{"index":0,"delta":` + the delta + `,"logprobs":null,"finish_reason":` +
  // the reason + `}]` + tail. The pieces of the frequent chunks are put together once, at
  // message_start, so a text delta is three appends.
  void finish_chunk(std::string& out, std::string_view reason) const {
    out += head;
    out += "{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":\"";
    out += reason;
    out += "\"}]";
    out += tail;
  }
  // A string of the delta: escaped here, or copied when it comes escaped (Delta::raw).
  static void append_string(std::string& out, std::string_view s, bool raw) {
    if (raw) {
      out += '"';
      out += s;
      out += '"';
    } else {
      api::append_json_string(out, s);
    }
  }
  void content_chunk(std::string& out, std::string_view text, bool raw = false) const {
    out += content_open;
    append_string(out, text, raw);
    out += delta_close;
  }
  void reasoning_chunk(std::string& out, std::string_view text, bool raw = false) const {
    out += reasoning_open;
    append_string(out, text, raw);
    out += delta_close;
  }
  void arguments_chunk(std::string& out, std::uint32_t tool, std::string_view arguments,
                       bool raw = false) const {
    out += tool_open;
    append_int(out, tool);
    out += ",\"function\":{\"arguments\":";
    append_string(out, arguments, raw);
    out += "}}]";
    out += delta_close;
  }

  const bool include_usage;
  const std::int64_t created;
  api::JsonArenaParser parser;  // the events other than compact deltas
  std::string head;          // `data: {"id":...,"object":...,"created":...,"model":...,"choices":[`
  std::string tail;          // `,"usage":null}\n\n` with include_usage, else `}\n\n`
  std::string content_open;  // head + `{"index":0,"delta":{"content":`
  std::string reasoning_open;  // head + `{"index":0,"delta":{"reasoning_content":`
  std::string tool_open;       // head + `{"index":0,"delta":{"tool_calls":[{"index":`
  std::string delta_close;     // `},"logprobs":null,"finish_reason":null}]` + tail
  std::vector<Block> blocks;
  std::uint32_t tools = 0;
  Tokens tokens;
  bool usage_seen = false;
  bool started = false;
  bool finished = false;  // the finish_reason chunk went out
  bool stopped = false;   // message_stop arrived
};

core::Result<void> StreamTranslator::State::event(const json::object& e, std::string_view type,
                                                  std::string& out) {
  if (type == "ping") return core::ok();
  if (stopped) return core::ok();  // nothing follows message_stop but what has no counterpart
  if (type == "message_start") return message_start(e, out);
  const bool known = type == "content_block_start" || type == "content_block_delta" ||
                     type == "content_block_stop" || type == "message_delta" ||
                     type == "message_stop";
  // Event types Anthropic adds later are ignored, as its versioning policy asks of clients.
  if (!known) return core::ok();
  if (!started) {
    return protocol("Anthropic's stream sent " + std::string(type) + " before message_start");
  }
  if (type == "content_block_start") return block_start(e, out);
  if (type == "content_block_delta") {
    Delta d;
    d.index = index_of(member(e, "index"));
    const json::value* v = member(e, "delta");
    if (v != nullptr && v->is_object()) {
      const json::object& o = v->get_object();
      d.has_delta = true;
      d.type = string_or_empty(member(o, "type"));
      d.text = string_or_empty(member(o, "text"));
      d.partial_json = string_or_empty(member(o, "partial_json"));
      d.thinking = string_or_empty(member(o, "thinking"));
    }
    return delta(d, out);
  }
  if (type == "content_block_stop") return block_stop(e, out);
  if (type == "message_delta") return message_delta(e, out);
  return message_stop();
}

core::Result<void> StreamTranslator::State::message_stop() {
  if (!finished) return protocol("Anthropic's stream stopped without a stop_reason");
  stopped = true;
  return core::ok();
}

core::Result<void> StreamTranslator::State::message_start(const json::object& e, std::string& out) {
  if (started) return protocol("Anthropic's stream sent a second message_start");
  const json::value* m = member(e, "message");
  if (m == nullptr || !m->is_object()) return protocol("message_start carries no message");
  const json::object& message = m->get_object();
  const json::value* id = member(message, "id");
  const json::value* model = member(message, "model");
  if (id == nullptr || !id->is_string() || model == nullptr || !model->is_string()) {
    return protocol("message_start's message has no id or model");
  }
  started = true;
  head = "data: {\"id\":";
  api::append_json_string(head, id->get_string());
  head += ",\"object\":\"chat.completion.chunk\",\"created\":";
  append_int(head, created);
  head += ",\"model\":";
  api::append_json_string(head, model->get_string());
  head += ",\"choices\":[";
  tail = include_usage ? ",\"usage\":null}\n\n" : "}\n\n";
  content_open = head + "{\"index\":0,\"delta\":{\"content\":";
  reasoning_open = head + "{\"index\":0,\"delta\":{\"reasoning_content\":";
  tool_open = head + "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":";
  delta_close = "},\"logprobs\":null,\"finish_reason\":null}]" + tail;
  if (const json::value* usage = member(message, "usage"); usage != nullptr && usage->is_object()) {
    tokens.update(usage->get_object());
    usage_seen = true;
  }
  // As OpenAI's first chunk: the role, and content "" for the content to append to.
  out += head;
  out += "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"";
  out += delta_close;
  return core::ok();
}

core::Result<Block*> StreamTranslator::State::block_at(std::optional<std::int64_t> index,
                                                       std::string_view event) {
  if (!index || *index >= kMaxBlocks) {
    return protocol(std::string(event) + " has no valid content block index");
  }
  const auto i = static_cast<std::size_t>(*index);
  if (i >= blocks.size()) blocks.resize(i + 1);
  return &blocks[i];
}

core::Result<void> StreamTranslator::State::block_start(const json::object& e, std::string& out) {
  auto block = block_at(index_of(member(e, "index")), "content_block_start");
  if (!block) return block.error();
  Block& b = **block;
  if (b.kind != BlockKind::kNone) return protocol("content_block_start for a block that started");
  const json::value* cb = member(e, "content_block");
  if (cb == nullptr || !cb->is_object())
    return protocol("content_block_start has no content_block");
  const json::object& content = cb->get_object();
  const std::string_view type = string_or_empty(member(content, "type"));
  if (type == "text") {
    b.kind = BlockKind::kText;
    std::string_view text = string_or_empty(member(content, "text"));
    if (!text.empty()) content_chunk(out, text);
  } else if (type == "tool_use") {
    const json::value* id = member(content, "id");
    const json::value* name = member(content, "name");
    if (id == nullptr || !id->is_string() || name == nullptr || !name->is_string()) {
      return protocol("a tool_use block of Anthropic's stream has no id or name");
    }
    b.kind = BlockKind::kTool;
    b.tool = tools++;
    const json::value* input = member(content, "input");
    if (input != nullptr) {
      api::append_json(b.start_input, *input);
    } else {
      b.start_input = "{}";
    }
    out += tool_open;
    append_int(out, b.tool);
    out += ",\"id\":";
    api::append_json_string(out, id->get_string());
    out += ",\"type\":\"function\",\"function\":{\"name\":";
    api::append_json_string(out, name->get_string());
    out += ",\"arguments\":\"\"}}]";
    out += delta_close;
  } else if (type == "thinking") {
    b.kind = BlockKind::kThinking;
    std::string_view thinking = string_or_empty(member(content, "thinking"));
    if (!thinking.empty()) reasoning_chunk(out, thinking);
  } else {
    // redacted_thinking, server tool calls and their results: as in translate_response().
    b.kind = BlockKind::kOther;
  }
  return core::ok();
}

core::Result<void> StreamTranslator::State::delta(const Delta& d, std::string& out) {
  auto block = block_at(d.index, "content_block_delta");
  if (!block) return block.error();
  Block& b = **block;
  if (b.kind == BlockKind::kNone) {
    return protocol("content_block_delta for a block that did not start");
  }
  if (!d.has_delta) return protocol("content_block_delta has no delta");
  if (d.type == "text_delta") {
    if (!d.text.empty()) content_chunk(out, d.text, d.raw);
  } else if (d.type == "input_json_delta") {
    // A server tool's input streams too; only the client's own tools are tool calls.
    if (b.kind == BlockKind::kTool && !d.partial_json.empty()) {
      b.arguments_sent = true;
      arguments_chunk(out, b.tool, d.partial_json, d.raw);
    }
  } else if (d.type == "thinking_delta") {
    if (!d.thinking.empty()) reasoning_chunk(out, d.thinking, d.raw);
  }
  // signature_delta (the thinking block's seal, for Anthropic alone), citations_delta, and types
  // to come: no counterpart.
  return core::ok();
}

core::Result<void> StreamTranslator::State::block_stop(const json::object& e, std::string& out) {
  return block_stop(index_of(member(e, "index")), out);
}

core::Result<void> StreamTranslator::State::block_stop(std::optional<std::int64_t> index,
                                                       std::string& out) {
  auto block = block_at(index, "content_block_stop");
  if (!block) return block.error();
  Block& b = **block;
  if (b.kind == BlockKind::kNone) {
    return protocol("content_block_stop for a block that did not start");
  }
  // A call whose input came whole at its start (a tool without parameters streams no JSON)
  // still gets its arguments, as the same answer unstreamed would have them.
  if (b.kind == BlockKind::kTool && !b.arguments_sent) {
    b.arguments_sent = true;
    arguments_chunk(out, b.tool, b.start_input);
  }
  return core::ok();
}

core::Result<void> StreamTranslator::State::message_delta(const json::object& e, std::string& out) {
  if (const json::value* usage = member(e, "usage"); usage != nullptr && usage->is_object()) {
    tokens.update(usage->get_object());
    usage_seen = true;
  }
  const json::value* d = member(e, "delta");
  const json::value* stop_reason =
      d != nullptr && d->is_object() ? member(d->get_object(), "stop_reason") : nullptr;
  if (stop_reason == nullptr || finished) return core::ok();
  if (!stop_reason->is_string()) return protocol("message_delta's stop_reason is not a string");
  finished = true;
  finish_chunk(out, finish_reason(stop_reason->get_string()));
  return core::ok();
}

StreamTranslator::StreamTranslator(bool include_usage, std::int64_t created)
    : state_(std::make_unique<State>(include_usage, created)) {}

StreamTranslator::~StreamTranslator() = default;

core::Result<void> StreamTranslator::feed(std::string_view events, std::string& out) {
  State& s = *state_;
  http::SseEventReader reader(events);
  http::SseEvent ev;
  while (reader.next(ev)) {
    if (!ev.whole) {
      if (ev.has_data) return protocol("Anthropic's stream was fed half an event");
      continue;
    }
    if (!ev.has_data) continue;  // comments and blank lines
    // Anthropic names every event after its type (the data's `type` says it again): a ping is
    // skipped unread, a delta in the compact form its API writes is matched (compact_delta).
    if (ev.name == "ping") continue;
    if (ev.name == "content_block_delta" && s.started && !s.stopped) {
      if (std::optional<Delta> d = compact_delta(ev.data)) {
        if (auto r = s.delta(*d, out); !r) return r;
        continue;
      }
    }
    if (ev.name == "content_block_stop" && s.started && !s.stopped) {
      if (std::optional<std::int64_t> index = compact_block_stop(ev.data)) {
        if (auto r = s.block_stop(index, out); !r) return r;
        continue;
      }
    }
    if (ev.name == "message_stop" && ev.data == R"({"type":"message_stop"})" && s.started &&
        !s.stopped) {
      if (auto r = s.message_stop(); !r) return r;
      continue;
    }
    const json::value* v = s.parser.parse(ev.data);
    if (v == nullptr) return protocol("an event of Anthropic's stream is not JSON");
    if (!v->is_object()) return protocol("an event of Anthropic's stream is not a JSON object");
    const json::object& e = v->get_object();
    std::string_view type = string_or_empty(member(e, "type"));
    if (type.empty()) type = ev.name;
    if (type == "error" || ev.name == "error") return stream_error(e);
    if (auto r = s.event(e, type, out); !r) return r;
  }
  return core::ok();
}

core::Result<void> StreamTranslator::finish(std::string& out) {
  State& s = *state_;
  if (!s.stopped) return protocol("Anthropic's stream ended before message_stop");
  if (s.include_usage && s.usage_seen) {
    out += s.head;
    out += "],\"usage\":";
    append_usage(out, s.tokens);
    out += "}\n\n";
  }
  out += "data: [DONE]\n\n";
  return core::ok();
}

}  // namespace sluice::provider::anthropic
