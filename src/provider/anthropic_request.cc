#include "provider/anthropic_translate.h"

#include <boost/json.hpp>

#include <array>
#include <charconv>
#include <optional>
#include <utility>

#include "api/errors.h"
#include "api/json_text.h"
#include "provider/anthropic_common.h"

namespace sluice::provider::anthropic {

namespace {

using core::Errc;

// ---------------------------------------------------------------------------------------------
// Errors

// Where a value sits in the client's request, for error messages
// ("messages[2].content[0].image_url.url"). Kept as a few segments by value and written out only
// when an error names it, so the fields that are fine cost no strings.
class Path {
 public:
  Path(const char* field) : Path(std::string_view(field)) {}  // NOLINT: reads as the field
  Path(std::string_view field) { push(field, 0, false); }     // NOLINT
  Path dot(std::string_view field) const {
    Path p = *this;
    p.push(field, 0, false);
    return p;
  }
  Path at(std::size_t index) const {
    Path p = *this;
    p.push({}, index, true);
    return p;
  }
  std::string str() const {
    std::string out;
    for (std::size_t i = 0; i < size_; ++i) {
      const Segment& s = segments_[i];
      if (s.is_index) {
        out += '[';
        append_int(out, s.index);
        out += ']';
      } else {
        if (i > 0) out += '.';
        out += s.field;
      }
    }
    return out;
  }

 private:
  struct Segment {
    std::string_view field;  // a literal, or a key of the request: both outlive the Path
    std::size_t index = 0;
    bool is_index = false;
  };
  // messages[i].tool_calls[j].function.arguments, the deepest, has six.
  static constexpr std::size_t kMaxSegments = 7;

  void push(std::string_view field, std::size_t index, bool is_index) {
    if (size_ < kMaxSegments) segments_[size_++] = Segment{field, index, is_index};
  }

  std::array<Segment, kMaxSegments> segments_{};
  std::size_t size_ = 0;
};

core::Error invalid(std::string message, std::string param) {
  return core::Error(Errc::kInvalidRequest, std::move(message), std::move(param));
}

// OpenAI's wording, so a client sees the same sentence whichever provider serves the model.
core::Error wrong_type(const Path& path, std::string_view expected, const json::value& got) {
  std::string param = path.str();
  std::string message = "Invalid type for '";
  message += param;
  message += "': expected ";
  message += expected;
  message += ", but got ";
  message += api::json_type_name(got);
  message += " instead.";
  return invalid(std::move(message), std::move(param));
}

core::Error invalid_value(const Path& path, std::string_view why) {
  std::string param = path.str();
  std::string message = "Invalid value for '";
  message += param;
  message += "': ";
  message += why;
  return invalid(std::move(message), std::move(param));
}

core::Error missing(const Path& path) {
  std::string param = path.str();
  std::string message = "Missing required parameter: '";
  message += param;
  message += "'.";
  return invalid(std::move(message), std::move(param));
}

// A field the client set that Anthropic's Messages API has no way to honour: sending the request
// without it would return a different answer than the one asked for.
core::Error unsupported(const Path& path, std::string_view why) {
  std::string param = path.str();
  std::string message = "'";
  message += param;
  message += "' cannot be used with this model: Anthropic's Messages API ";
  message += why;
  return invalid(std::move(message), std::move(param));
}

// ---------------------------------------------------------------------------------------------
// The request
//
// The client's body is parsed once; the Messages body is written straight out as text while the
// parsed one is read, strings escaped on the way (api/json_text.h), so no second document is
// built.

bool is_number(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

double number_of(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  return v.get_double();
}

// The members of the request this translation reads, found in one pass over its object. Null
// counts as absent, as OpenAI takes it.
struct Members {
  const json::value* messages = nullptr;
  const json::value* tools = nullptr;
  const json::value* tool_choice = nullptr;
  const json::value* parallel_tool_calls = nullptr;
  const json::value* stop = nullptr;
  const json::value* max_tokens = nullptr;
  const json::value* max_completion_tokens = nullptr;
  const json::value* temperature = nullptr;
  const json::value* top_p = nullptr;
  const json::value* top_k = nullptr;
  const json::value* stream = nullptr;
  const json::value* stream_options = nullptr;
  const json::value* user = nullptr;
  const json::value* safety_identifier = nullptr;
  const json::value* thinking = nullptr;
  // Refused when set (refuse_inexpressible).
  const json::value* n = nullptr;
  const json::value* logprobs = nullptr;
  const json::value* top_logprobs = nullptr;
  const json::value* response_format = nullptr;
  const json::value* audio = nullptr;
  const json::value* modalities = nullptr;
  const json::value* functions = nullptr;
  const json::value* function_call = nullptr;
  const json::value* logit_bias = nullptr;
  const json::value* web_search_options = nullptr;
};

// Which slot of Members a key fills, or null for the members that are dropped (seed, store,
// ...) and the ones this table does not know. By length first: one comparison for most keys.
const json::value** slot_of(Members& m, std::string_view key) {
  switch (key.size()) {
    case 1:
      return key == "n" ? &m.n : nullptr;
    case 4:
      if (key == "stop") return &m.stop;
      if (key == "user") return &m.user;
      return nullptr;
    case 5:
      if (key == "tools") return &m.tools;
      if (key == "top_p") return &m.top_p;
      if (key == "top_k") return &m.top_k;
      if (key == "audio") return &m.audio;
      return nullptr;
    case 6:
      return key == "stream" ? &m.stream : nullptr;
    case 8:
      if (key == "messages") return &m.messages;
      if (key == "thinking") return &m.thinking;
      if (key == "logprobs") return &m.logprobs;
      return nullptr;
    case 9:
      return key == "functions" ? &m.functions : nullptr;
    case 10:
      if (key == "max_tokens") return &m.max_tokens;
      if (key == "modalities") return &m.modalities;
      if (key == "logit_bias") return &m.logit_bias;
      return nullptr;
    case 11:
      if (key == "temperature") return &m.temperature;
      if (key == "tool_choice") return &m.tool_choice;
      return nullptr;
    case 12:
      return key == "top_logprobs" ? &m.top_logprobs : nullptr;
    case 13:
      return key == "function_call" ? &m.function_call : nullptr;
    case 14:
      return key == "stream_options" ? &m.stream_options : nullptr;
    case 15:
      return key == "response_format" ? &m.response_format : nullptr;
    case 17:
      return key == "safety_identifier" ? &m.safety_identifier : nullptr;
    case 18:
      return key == "web_search_options" ? &m.web_search_options : nullptr;
    case 19:
      return key == "parallel_tool_calls" ? &m.parallel_tool_calls : nullptr;
    case 21:
      return key == "max_completion_tokens" ? &m.max_completion_tokens : nullptr;
    default:
      return nullptr;
  }
}

Members read_members(const json::object& request) {
  Members m;
  for (const auto& kv : request) {
    if (kv.value().is_null()) continue;
    if (const json::value** slot = slot_of(m, kv.key())) *slot = &kv.value();
  }
  return m;
}

// A request field that changes the answer in a way Anthropic cannot reproduce: refused, naming it.
core::Result<void> refuse_inexpressible(const Members& m) {
  if (const json::value* n = m.n) {
    if (!n->is_int64() && !n->is_uint64()) return wrong_type("n", "an integer", *n);
    if (n->is_int64() && n->get_int64() < 1) {
      return invalid_value("n", "integer below minimum value. Expected a value >= 1.");
    }
    if (!(n->is_int64() && n->get_int64() == 1)) {
      return unsupported("n", "returns one choice per request.");
    }
  }
  if (const json::value* logprobs = m.logprobs) {
    if (!logprobs->is_bool()) return wrong_type("logprobs", "a boolean", *logprobs);
    if (logprobs->get_bool()) return unsupported("logprobs", "does not return log probabilities.");
  }
  if (const json::value* top = m.top_logprobs) {
    if (!top->is_int64() && !top->is_uint64())
      return wrong_type("top_logprobs", "an integer", *top);
    if (!(top->is_int64() && top->get_int64() == 0)) {
      return unsupported("top_logprobs", "does not return log probabilities.");
    }
  }
  if (const json::value* format = m.response_format) {
    if (!format->is_object()) return wrong_type("response_format", "an object", *format);
    const json::value* type = member(format->get_object(), "type");
    if (type == nullptr) return missing("response_format.type");
    if (!type->is_string()) return wrong_type("response_format.type", "a string", *type);
    const std::string_view t = type->get_string();
    if (t == "json_object" || t == "json_schema") {
      return unsupported("response_format",
                         "has no JSON mode: the answer would be free text. Describe the format "
                         "in the prompt, or ask for a tool call with the schema as its "
                         "parameters.");
    }
    if (t != "text") {
      return invalid_value("response_format.type",
                           "supported values are: 'text', 'json_object' and 'json_schema'.");
    }
  }
  if (m.audio != nullptr) return unsupported("audio", "does not answer with audio.");
  if (const json::value* modalities = m.modalities) {
    if (!modalities->is_array()) return wrong_type("modalities", "an array", *modalities);
    for (const json::value& v : modalities->get_array()) {
      if (string_or_empty(&v) == "audio") {
        return unsupported("modalities", "does not answer with audio.");
      }
    }
  }
  if (m.functions != nullptr) {
    return unsupported("functions", "only takes `tools` (functions are their deprecated form).");
  }
  if (m.function_call != nullptr) {
    return unsupported("function_call",
                       "only takes `tool_choice` (function_call is its deprecated form).");
  }
  if (const json::value* bias = m.logit_bias) {
    if (!bias->is_object()) return wrong_type("logit_bias", "an object", *bias);
    if (!bias->get_object().empty()) {
      return unsupported("logit_bias", "cannot bias or ban tokens (and its tokens differ).");
    }
  }
  if (m.web_search_options != nullptr) {
    return unsupported("web_search_options", "searches the web only through its own server tool.");
  }
  return core::ok();
}

core::Result<std::uint64_t> max_tokens_of(const Members& m, std::uint64_t default_max_tokens) {
  const std::pair<const char*, const json::value*> fields[] = {
      {"max_completion_tokens", m.max_completion_tokens}, {"max_tokens", m.max_tokens}};
  for (const auto& [key, v] : fields) {
    if (v == nullptr) continue;
    if (v->is_uint64()) {
      if (v->get_uint64() >= 1) return v->get_uint64();
    } else if (!v->is_int64()) {
      return wrong_type(key, "an integer", *v);
    } else if (v->get_int64() >= 1) {
      return static_cast<std::uint64_t>(v->get_int64());
    }
    return invalid_value(key, "integer below minimum value. Expected a value >= 1.");
  }
  return default_max_tokens;
}

core::Result<void> check_range(const json::value* v, const char* key, double max) {
  if (v == nullptr) return core::ok();
  if (!is_number(*v)) return wrong_type(key, "a decimal", *v);
  const double d = number_of(*v);
  if (!(d >= 0) || d > max) {
    return invalid_value(
        key, max == 2 ? "expected a value between 0 and 2." : "expected a value between 0 and 1.");
  }
  return core::ok();
}

// "data:<media type>;base64,<data>": the media type and the base64 text, or nullopt.
struct DataUrl {
  std::string_view media_type;
  std::string_view data;
};

std::optional<DataUrl> parse_data_url(std::string_view url) {
  constexpr std::string_view kScheme = "data:";
  constexpr std::string_view kBase64 = ";base64,";
  if (!url.starts_with(kScheme)) return std::nullopt;
  std::size_t marker = url.find(kBase64);
  if (marker == std::string_view::npos) return std::nullopt;
  DataUrl out;
  out.media_type = url.substr(kScheme.size(), marker - kScheme.size());
  out.data = url.substr(marker + kBase64.size());
  if (out.media_type.empty()) return std::nullopt;
  return out;
}

bool starts_with_ignoring_case(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// Writes the `messages` array of the Messages body and gathers its `system` prompt. OpenAI
// messages become Messages API turns: consecutive messages of one role (tool results count as
// the user's) share a turn, since Anthropic requires the roles to alternate.
class MessagesWriter {
 public:
  MessagesWriter(std::string& out, json::storage_ptr sp) : out_(out), sp_(std::move(sp)) {}

  core::Result<void> write(const json::value& messages);
  const std::string& system() const { return system_; }

 private:
  core::Result<void> message(const json::value& message, std::size_t i);
  core::Result<void> system_content(const json::value& content, const Path& path);
  core::Result<void> content(const json::value& content, const Path& path);
  core::Result<void> part(const json::value& part, const Path& path);
  core::Result<void> image(const json::value& image_url, const Path& path);
  core::Result<void> file(const json::value& file, const Path& path);
  core::Result<void> tool_calls(const json::value& calls, const Path& path);
  core::Result<void> tool_result(const json::object& message, const Path& path);

  void begin_turn(std::string_view role, std::size_t i);
  core::Result<void> end_turn();
  void text(const json::string& text);
  void open_block();
  void text_block(std::string_view text);
  void base64_source(std::string_view block_type, const DataUrl& data);

  std::string& out_;
  json::storage_ptr sp_;  // for the tool call arguments parsed to check them
  std::string system_;
  std::size_t turns_ = 0;
  // The turn being written.
  bool turn_open_ = false;
  std::string_view role_;
  std::size_t turn_message_ = 0;  // where it began in the client's `messages`, for errors
  std::size_t blocks_ = 0;
  // Its first block while it is its only one and text: a turn of one text is written as the
  // string it was, as Anthropic's own examples write it.
  const json::string* pending_text_ = nullptr;
};

void MessagesWriter::begin_turn(std::string_view role, std::size_t i) {
  if (turn_open_ && role == role_) return;
  if (turns_ > 0) out_ += ',';
  ++turns_;
  turn_open_ = true;
  role_ = role;
  turn_message_ = i;
  blocks_ = 0;
  pending_text_ = nullptr;
  out_ += "{\"role\":\"";
  out_ += role;
  out_ += "\",\"content\":";
}

core::Result<void> MessagesWriter::end_turn() {
  turn_open_ = false;
  if (blocks_ == 0) {
    return invalid_value(Path("messages").at(turn_message_).dot("content"),
                         "the message has no content to send (empty text is dropped, and "
                         "Anthropic's Messages API needs every turn to say something).");
  }
  if (pending_text_ != nullptr) {
    api::append_json_string(out_, *pending_text_);
    pending_text_ = nullptr;
  } else {
    out_ += ']';
  }
  out_ += '}';
  return core::ok();
}

void MessagesWriter::text_block(std::string_view text) {
  out_ += "{\"type\":\"text\",\"text\":";
  api::append_json_string(out_, text);
  out_ += '}';
}

// Before a block is written: the first opens the array, and a lone text kept back becomes the
// array's first block.
void MessagesWriter::open_block() {
  if (blocks_ == 0) {
    out_ += '[';
  } else {
    if (pending_text_ != nullptr) {
      out_ += '[';
      text_block(*pending_text_);
      pending_text_ = nullptr;
    }
    out_ += ',';
  }
  ++blocks_;
}

// Anthropic refuses empty text blocks; an empty text says nothing, so nothing is sent.
void MessagesWriter::text(const json::string& text) {
  if (text.empty()) return;
  if (blocks_ == 0) {
    pending_text_ = &text;
    blocks_ = 1;
    return;
  }
  open_block();
  text_block(text);
}

void MessagesWriter::base64_source(std::string_view block_type, const DataUrl& data) {
  open_block();
  out_ += "{\"type\":\"";
  out_ += block_type;
  out_ += "\",\"source\":{\"type\":\"base64\",\"media_type\":";
  api::append_json_string(out_, data.media_type);
  out_ += ",\"data\":";
  api::append_json_string(out_, data.data);
  out_ += "}}";
}

core::Result<void> MessagesWriter::write(const json::value& messages) {
  if (!messages.is_array()) return wrong_type("messages", "an array", messages);
  const json::array& list = messages.get_array();
  if (list.empty()) {
    return invalid(
        "Invalid 'messages': empty array. Expected an array with minimum length 1, "
        "but got an empty array instead.",
        "messages");
  }
  out_ += "\"messages\":[";
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (auto r = message(list[i], i); !r) return r;
  }
  if (turn_open_) {
    if (auto r = end_turn(); !r) return r;
  }
  if (turns_ == 0) {
    return invalid(
        "Invalid 'messages': Anthropic's Messages API needs at least one user or assistant "
        "message; system and developer messages alone become its `system` prompt.",
        "messages");
  }
  out_ += ']';
  return core::ok();
}

core::Result<void> MessagesWriter::message(const json::value& value, std::size_t i) {
  const Path path = Path("messages").at(i);
  if (!value.is_object()) return wrong_type(path, "an object", value);
  const json::object& m = value.get_object();
  const json::value* role_value = member(m, "role");
  if (role_value == nullptr) return missing(path.dot("role"));
  if (!role_value->is_string()) return wrong_type(path.dot("role"), "a string", *role_value);
  const std::string_view role = role_value->get_string();

  if (role == "system" || role == "developer") {
    const json::value* content = member(m, "content");
    if (content == nullptr) return missing(path.dot("content"));
    return system_content(*content, path.dot("content"));
  }
  if (role == "user") {
    const json::value* content = member(m, "content");
    if (content == nullptr) return missing(path.dot("content"));
    if (turn_open_ && role_ != "user") {
      if (auto r = end_turn(); !r) return r;
    }
    begin_turn("user", i);
    return this->content(*content, path.dot("content"));
  }
  if (role == "assistant") {
    if (member(m, "function_call") != nullptr) {
      return unsupported(path.dot("function_call"),
                         "only takes tool calls: send the call in `tool_calls`.");
    }
    if (member(m, "audio") != nullptr) {
      return unsupported(path.dot("audio"), "has no audio output to refer back to.");
    }
    if (turn_open_ && role_ != "assistant") {
      if (auto r = end_turn(); !r) return r;
    }
    begin_turn("assistant", i);
    const std::size_t before = blocks_;
    if (const json::value* content = member(m, "content")) {
      if (auto r = this->content(*content, path.dot("content")); !r) return r;
    }
    if (const json::value* calls = member(m, "tool_calls")) {
      if (auto r = tool_calls(*calls, path.dot("tool_calls")); !r) return r;
    }
    if (blocks_ == before) {
      return invalid_value(path.dot("content"),
                           "an assistant message needs `content` or `tool_calls`.");
    }
    return core::ok();
  }
  if (role == "tool") {
    if (turn_open_ && role_ != "user") {
      if (auto r = end_turn(); !r) return r;
    }
    begin_turn("user", i);
    return tool_result(m, path);
  }
  if (role == "function") {
    return unsupported(path.dot("role"),
                       "only takes tool results: send them as messages with role `tool`.");
  }
  return invalid_value(path.dot("role"),
                       "supported values are: 'system', 'developer', 'user', 'assistant' and "
                       "'tool'.");
}

// System and developer messages, wherever they stand, join Anthropic's top-level `system`
// prompt, separated by a blank line: the Messages API has no system role inside a conversation.
core::Result<void> MessagesWriter::system_content(const json::value& content, const Path& path) {
  auto append = [&](std::string_view text) {
    if (text.empty()) return;
    if (!system_.empty()) system_ += "\n\n";
    system_ += text;
  };
  if (content.is_string()) {
    append(content.get_string());
    return core::ok();
  }
  if (!content.is_array()) return wrong_type(path, "a string or an array", content);
  const json::array& parts = content.get_array();
  for (std::size_t j = 0; j < parts.size(); ++j) {
    const Path part_path = path.at(j);
    if (!parts[j].is_object()) return wrong_type(part_path, "an object", parts[j]);
    const json::object& p = parts[j].get_object();
    if (string_or_empty(member(p, "type")) != "text") {
      return invalid_value(part_path.dot("type"),
                           "a system or developer message can only contain text parts.");
    }
    const json::value* text = member(p, "text");
    if (text == nullptr) return missing(part_path.dot("text"));
    if (!text->is_string()) return wrong_type(part_path.dot("text"), "a string", *text);
    append(text->get_string());
  }
  return core::ok();
}

core::Result<void> MessagesWriter::content(const json::value& content, const Path& path) {
  if (content.is_string()) {
    text(content.get_string());
    return core::ok();
  }
  if (!content.is_array()) return wrong_type(path, "a string or an array", content);
  const json::array& parts = content.get_array();
  for (std::size_t j = 0; j < parts.size(); ++j) {
    if (auto r = part(parts[j], path.at(j)); !r) return r;
  }
  return core::ok();
}

core::Result<void> MessagesWriter::part(const json::value& value, const Path& path) {
  if (!value.is_object()) return wrong_type(path, "an object", value);
  const json::object& p = value.get_object();
  const json::value* type_value = member(p, "type");
  if (type_value == nullptr) return missing(path.dot("type"));
  if (!type_value->is_string()) return wrong_type(path.dot("type"), "a string", *type_value);
  const std::string_view type = type_value->get_string();
  if (type == "text" || type == "refusal") {
    // An assistant's earlier refusal is its text as far as the next turn is concerned.
    const char* field = type == "text" ? "text" : "refusal";
    const json::value* text_value = member(p, field);
    if (text_value == nullptr) return missing(path.dot(field));
    if (!text_value->is_string()) return wrong_type(path.dot(field), "a string", *text_value);
    text(text_value->get_string());
    return core::ok();
  }
  if (type == "image_url") {
    const json::value* image_url = member(p, "image_url");
    if (image_url == nullptr) return missing(path.dot("image_url"));
    return image(*image_url, path.dot("image_url"));
  }
  if (type == "file") {
    const json::value* f = member(p, "file");
    if (f == nullptr) return missing(path.dot("file"));
    return file(*f, path.dot("file"));
  }
  if (type == "input_audio") return unsupported(path, "takes no audio input.");
  return invalid_value(path.dot("type"),
                       "supported values are: 'text', 'image_url', 'file' and 'refusal'.");
}

// OpenAI's image_url.detail has no counterpart (Anthropic sizes images itself) and is dropped.
core::Result<void> MessagesWriter::image(const json::value& image_url, const Path& path) {
  Path url_path = path;
  const json::value* url_value = &image_url;
  if (image_url.is_object()) {
    url_path = path.dot("url");
    url_value = member(image_url.get_object(), "url");
    if (url_value == nullptr) return missing(url_path);
  }
  if (!url_value->is_string()) return wrong_type(url_path, "a string", *url_value);
  const std::string_view url = url_value->get_string();

  if (auto data = parse_data_url(url)) {
    constexpr std::string_view kTypes[] = {"image/jpeg", "image/png", "image/gif", "image/webp"};
    bool known = false;
    for (std::string_view t : kTypes) known = known || data->media_type == t;
    if (!known) {
      return unsupported(url_path,
                         "takes images of type image/jpeg, image/png, image/gif and image/webp "
                         "only, not " +
                             std::string(data->media_type) + ".");
    }
    base64_source("image", *data);
    return core::ok();
  }
  if (!starts_with_ignoring_case(url, "https://") && !starts_with_ignoring_case(url, "http://")) {
    return invalid_value(url_path,
                         "expected an http(s) URL or a base64 data URL "
                         "(data:image/png;base64,...).");
  }
  open_block();
  out_ += "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":";
  api::append_json_string(out_, url);
  out_ += "}}";
  return core::ok();
}

// A file the client sends inline (file_data, a base64 data URL) becomes a document block; a
// file_id names a file uploaded to OpenAI, which Anthropic cannot read.
core::Result<void> MessagesWriter::file(const json::value& value, const Path& path) {
  if (!value.is_object()) return wrong_type(path, "an object", value);
  const json::object& f = value.get_object();
  if (member(f, "file_id") != nullptr) {
    return unsupported(path.dot("file_id"),
                       "cannot read files uploaded to OpenAI: send the file inline in "
                       "`file_data`.");
  }
  const json::value* data_value = member(f, "file_data");
  if (data_value == nullptr) return missing(path.dot("file_data"));
  if (!data_value->is_string()) return wrong_type(path.dot("file_data"), "a string", *data_value);
  auto data = parse_data_url(data_value->get_string());
  if (!data) {
    return invalid_value(path.dot("file_data"),
                         "expected a base64 data URL (data:application/pdf;base64,...).");
  }
  if (data->media_type != "application/pdf") {
    return unsupported(path.dot("file_data"), "takes PDF documents inline (application/pdf), not " +
                                                  std::string(data->media_type) + ".");
  }
  base64_source("document", *data);
  return core::ok();
}

// Each OpenAI tool call is a tool_use block; its arguments, a JSON text, are Anthropic's `input`
// object. They are parsed to check that they are one, then sent as the client wrote them.
core::Result<void> MessagesWriter::tool_calls(const json::value& calls, const Path& path) {
  if (!calls.is_array()) return wrong_type(path, "an array", calls);
  const json::array& list = calls.get_array();
  for (std::size_t j = 0; j < list.size(); ++j) {
    const Path call_path = path.at(j);
    if (!list[j].is_object()) return wrong_type(call_path, "an object", list[j]);
    const json::object& call = list[j].get_object();
    const json::value* type = member(call, "type");
    if (type != nullptr && string_or_empty(type) != "function") {
      return unsupported(call_path.dot("type"), "only takes function tool calls.");
    }
    const json::value* id = member(call, "id");
    if (id == nullptr) return missing(call_path.dot("id"));
    if (!id->is_string()) return wrong_type(call_path.dot("id"), "a string", *id);
    const json::value* function = member(call, "function");
    if (function == nullptr) return missing(call_path.dot("function"));
    if (!function->is_object())
      return wrong_type(call_path.dot("function"), "an object", *function);
    const json::object& fn = function->get_object();
    const json::value* name = member(fn, "name");
    if (name == nullptr) return missing(call_path.dot("function").dot("name"));
    if (!name->is_string()) {
      return wrong_type(call_path.dot("function").dot("name"), "a string", *name);
    }
    const json::value* arguments = member(fn, "arguments");
    std::string_view input = "{}";  // a call without arguments
    if (arguments != nullptr && !arguments->is_string()) {
      return wrong_type(call_path.dot("function").dot("arguments"), "a string", *arguments);
    }
    if (arguments != nullptr && !arguments->get_string().empty()) {
      input = arguments->get_string();
      boost::system::error_code ec;
      json::value parsed = json::parse(input, ec, sp_, parse_options());
      if (ec) {
        return invalid_value(call_path.dot("function").dot("arguments"),
                             "the arguments are not valid JSON (" + ec.message() +
                                 "); Anthropic's Messages API needs them as a JSON object.");
      }
      if (!parsed.is_object()) {
        return invalid_value(call_path.dot("function").dot("arguments"),
                             "the arguments are " + std::string(api::json_type_name(parsed)) +
                                 "; Anthropic's Messages API needs them as a JSON object.");
      }
    }
    open_block();
    out_ += "{\"type\":\"tool_use\",\"id\":";
    api::append_json_string(out_, id->get_string());
    out_ += ",\"name\":";
    api::append_json_string(out_, name->get_string());
    out_ += ",\"input\":";
    out_ += input;
    out_ += '}';
  }
  return core::ok();
}

// A `tool` message is a tool_result block in the user's next turn: consecutive tool messages
// (one per parallel call) and a user message after them share that turn, the results first, as
// Anthropic requires.
core::Result<void> MessagesWriter::tool_result(const json::object& m, const Path& path) {
  const json::value* id = member(m, "tool_call_id");
  if (id == nullptr) return missing(path.dot("tool_call_id"));
  if (!id->is_string()) return wrong_type(path.dot("tool_call_id"), "a string", *id);
  const json::value* content = member(m, "content");
  if (content == nullptr) return missing(path.dot("content"));
  const Path content_path = path.dot("content");
  std::size_t texts = 0;
  if (content->is_array()) {
    const json::array& parts = content->get_array();
    for (std::size_t j = 0; j < parts.size(); ++j) {
      const Path part_path = content_path.at(j);
      if (!parts[j].is_object()) return wrong_type(part_path, "an object", parts[j]);
      const json::object& p = parts[j].get_object();
      if (string_or_empty(member(p, "type")) != "text") {
        return invalid_value(part_path.dot("type"), "a tool message can only contain text parts.");
      }
      const json::value* text_value = member(p, "text");
      if (text_value == nullptr) return missing(part_path.dot("text"));
      if (!text_value->is_string()) {
        return wrong_type(part_path.dot("text"), "a string", *text_value);
      }
      if (!text_value->get_string().empty()) ++texts;
    }
  } else if (!content->is_string()) {
    return wrong_type(content_path, "a string or an array", *content);
  }
  open_block();
  out_ += "{\"type\":\"tool_result\",\"tool_use_id\":";
  api::append_json_string(out_, id->get_string());
  // An empty result is sent without content, as Anthropic spells an empty result.
  if (content->is_string() && !content->get_string().empty()) {
    out_ += ",\"content\":";
    api::append_json_string(out_, content->get_string());
  } else if (texts > 0) {
    out_ += ",\"content\":[";
    bool first = true;
    for (const json::value& part : content->get_array()) {
      std::string_view t = string_or_empty(member(part.get_object(), "text"));
      if (t.empty()) continue;
      if (!first) out_ += ',';
      first = false;
      text_block(t);
    }
    out_ += ']';
  }
  out_ += '}';
  return core::ok();
}

// Writes `tools` and `tool_choice`.
core::Result<void> write_tools(const Members& m, std::string& out) {
  std::size_t count = 0;
  if (const json::value* tools = m.tools) {
    if (!tools->is_array()) return wrong_type("tools", "an array", *tools);
    const json::array& list = tools->get_array();
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Path path = Path("tools").at(i);
      if (!list[i].is_object()) return wrong_type(path, "an object", list[i]);
      const json::object& tool = list[i].get_object();
      const json::value* type = member(tool, "type");
      if (type != nullptr && string_or_empty(type) != "function") {
        return unsupported(path.dot("type"), "only takes function tools.");
      }
      const json::value* function = member(tool, "function");
      if (function == nullptr) return missing(path.dot("function"));
      if (!function->is_object()) return wrong_type(path.dot("function"), "an object", *function);
      const json::object& fn = function->get_object();
      const Path fn_path = path.dot("function");
      const json::value* name = member(fn, "name");
      if (name == nullptr) return missing(fn_path.dot("name"));
      if (!name->is_string()) return wrong_type(fn_path.dot("name"), "a string", *name);
      const json::value* description = member(fn, "description");
      if (description != nullptr && !description->is_string()) {
        return wrong_type(fn_path.dot("description"), "a string", *description);
      }
      const json::value* parameters = member(fn, "parameters");
      if (parameters != nullptr && !parameters->is_object()) {
        return wrong_type(fn_path.dot("parameters"), "an object", *parameters);
      }
      out += count++ == 0 ? ",\"tools\":[{\"name\":" : ",{\"name\":";
      api::append_json_string(out, name->get_string());
      if (description != nullptr) {
        out += ",\"description\":";
        api::append_json_string(out, description->get_string());
      }
      out += ",\"input_schema\":";
      if (parameters != nullptr) {
        api::append_json(out, *parameters);
      } else {
        // OpenAI lets a function leave its parameters out; Anthropic needs a schema.
        out += "{\"type\":\"object\",\"properties\":{}}";
      }
      out += '}';
    }
    if (count > 0) out += ']';
  }

  std::string_view type;
  std::string_view name;
  if (const json::value* choice = m.tool_choice) {
    if (choice->is_string()) {
      const std::string_view c = choice->get_string();
      if (c == "auto") {
        type = "auto";
      } else if (c == "required") {
        type = "any";
      } else if (c == "none") {
        type = "none";
      } else {
        return invalid_value("tool_choice",
                             "supported values are: 'none', 'auto' and 'required', or an object "
                             "naming a function.");
      }
    } else if (choice->is_object()) {
      const json::object& c = choice->get_object();
      const std::string_view t = string_or_empty(member(c, "type"));
      if (t != "function") {
        return unsupported(
            "tool_choice",
            "can require one named function, any tool, or none: not '" + std::string(t) + "'.");
      }
      const json::value* function = member(c, "function");
      if (function == nullptr) return missing("tool_choice.function");
      if (!function->is_object()) return wrong_type("tool_choice.function", "an object", *function);
      const json::value* n = member(function->get_object(), "name");
      if (n == nullptr) return missing("tool_choice.function.name");
      if (!n->is_string()) return wrong_type("tool_choice.function.name", "a string", *n);
      type = "tool";
      name = n->get_string();
    } else {
      return wrong_type("tool_choice", "a string or an object", *choice);
    }
    // "auto" and "none" without tools ask for what happens anyway.
    if (count == 0 && type != "auto" && type != "none") {
      return invalid_value("tool_choice",
                           "'tool_choice' is only allowed when 'tools' are specified.");
    }
  }
  bool serial = false;
  if (const json::value* parallel = m.parallel_tool_calls) {
    if (!parallel->is_bool()) return wrong_type("parallel_tool_calls", "a boolean", *parallel);
    serial = !parallel->get_bool();
  }
  if (count == 0) return core::ok();
  if (serial && type.empty()) type = "auto";
  if (type.empty()) return core::ok();
  out += ",\"tool_choice\":{\"type\":\"";
  out += type;
  out += '"';
  if (!name.empty()) {
    out += ",\"name\":";
    api::append_json_string(out, name);
  }
  // `none` calls no tool at all, so there is nothing to keep from running in parallel.
  if (serial && type != "none") out += ",\"disable_parallel_tool_use\":true";
  out += '}';
  return core::ok();
}

core::Result<void> write_request(const json::object& request, std::size_t body_size,
                                 const RequestOptions& options, json::storage_ptr sp,
                                 TranslatedRequest& translated) {
  const Members m = read_members(request);
  if (m.messages == nullptr) return missing("messages");
  if (auto r = refuse_inexpressible(m); !r) return r;
  auto max_tokens = max_tokens_of(m, options.default_max_tokens);
  if (!max_tokens) return max_tokens.error();
  // OpenAI's temperature runs from 0 to 2, Anthropic's from 0 to 1: anything above 1 is sent as
  // 1, as random as Anthropic goes.
  if (auto r = check_range(m.temperature, "temperature", 2); !r) return r;
  if (auto r = check_range(m.top_p, "top_p", 1); !r) return r;
  if (m.stream != nullptr) {
    if (!m.stream->is_bool()) return wrong_type("stream", "a boolean", *m.stream);
    translated.stream = m.stream->get_bool();
  }
  if (const json::value* options_value = m.stream_options) {
    if (!options_value->is_object()) {
      return wrong_type("stream_options", "an object", *options_value);
    }
    if (const json::value* include = member(options_value->get_object(), "include_usage")) {
      if (!include->is_bool()) {
        return wrong_type("stream_options.include_usage", "a boolean", *include);
      }
      translated.include_usage = translated.stream && include->get_bool();
    }
  }
  if (const json::value* stop = m.stop) {
    if (stop->is_array()) {
      for (const json::value& s : stop->get_array()) {
        if (!s.is_string()) return wrong_type("stop", "a string or an array of strings", *stop);
      }
    } else if (!stop->is_string()) {
      return wrong_type("stop", "a string or an array of strings", *stop);
    }
  }
  // OpenAI's newer name for the same end-user identifier stands in when `user` is absent.
  const json::value* user = m.user;
  if (user != nullptr && !user->is_string()) return wrong_type("user", "a string", *user);
  if (user == nullptr && m.safety_identifier != nullptr) {
    user = m.safety_identifier;
    if (!user->is_string()) return wrong_type("safety_identifier", "a string", *user);
  }
  // Anthropic's own sampling and thinking fields, for clients that send them through an OpenAI
  // SDK's extra body: passed as they are, for Anthropic to judge.
  if (m.top_k != nullptr && !m.top_k->is_int64() && !m.top_k->is_uint64()) {
    return wrong_type("top_k", "an integer", *m.top_k);
  }
  if (m.thinking != nullptr && !m.thinking->is_object()) {
    return wrong_type("thinking", "an object", *m.thinking);
  }

  std::string& out = translated.body;
  out.reserve(body_size + 256);  // most of a body is its messages' text, written once
  out += "{\"model\":";
  api::append_json_string(out, options.model);
  out += ",\"max_tokens\":";
  append_int(out, *max_tokens);
  out += ',';
  MessagesWriter messages(out, std::move(sp));
  if (auto r = messages.write(*m.messages); !r) return r;
  if (!messages.system().empty()) {
    out += ",\"system\":";
    api::append_json_string(out, messages.system());
  }
  if (const json::value* stop = m.stop) {
    std::size_t n = 0;
    auto add = [&](std::string_view s) {
      out += n++ == 0 ? ",\"stop_sequences\":[" : ",";
      api::append_json_string(out, s);
    };
    if (stop->is_string()) {
      add(stop->get_string());
    } else {
      for (const json::value& s : stop->get_array()) add(s.get_string());
    }
    if (n > 0) out += ']';
  }
  if (m.temperature != nullptr) {
    out += ",\"temperature\":";
    if (number_of(*m.temperature) > 1) {
      out += '1';
    } else {
      api::append_json(out, *m.temperature);
    }
  }
  if (m.top_p != nullptr) {
    out += ",\"top_p\":";
    api::append_json(out, *m.top_p);
  }
  if (m.top_k != nullptr) {
    out += ",\"top_k\":";
    api::append_json(out, *m.top_k);
  }
  if (translated.stream) out += ",\"stream\":true";
  if (user != nullptr) {
    out += ",\"metadata\":{\"user_id\":";
    api::append_json_string(out, user->get_string());
    out += '}';
  }
  if (auto r = write_tools(m, out); !r) return r;
  if (m.thinking != nullptr) {
    out += ",\"thinking\":";
    api::append_json(out, *m.thinking);
  }
  out += '}';
  return core::ok();
}

}  // namespace

core::Result<TranslatedRequest> translate_request(std::string_view openai_body,
                                                  const RequestOptions& options) {
  if (openai_body.empty()) {
    return invalid(
        "We could not parse the JSON body of your request: the body is empty. The "
        "OpenAI API expects a JSON object.",
        "");
  }
  // The parse's arena: a chat request of a few kilobytes needs no heap allocation for it.
  unsigned char first_block[8192];
  json::monotonic_resource arena(first_block, sizeof first_block);
  json::storage_ptr sp(&arena);
  boost::system::error_code ec;
  json::value parsed = json::parse(openai_body, ec, sp, parse_options());
  if (ec) {
    return invalid("We could not parse the JSON body of your request: " + ec.message() + ".", "");
  }
  if (!parsed.is_object()) {
    return invalid("Invalid type for request body: expected an object, but got " +
                       std::string(api::json_type_name(parsed)) + " instead.",
                   "");
  }
  TranslatedRequest out;
  if (auto r = write_request(parsed.get_object(), openai_body.size(), options, sp, out); !r) {
    return r.error();
  }
  return out;
}

}  // namespace sluice::provider::anthropic
