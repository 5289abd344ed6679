// The request direction: an Anthropic Messages body checked and written out as an OpenAI
// chat.completions body. The answers' direction is anthropic_messages_reply.cc.
#include "api/anthropic_messages.h"

#include <boost/json.hpp>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "api/inference_request.h"
#include "api/json_text.h"
#include "core/strings.h"

namespace sluice::api::messages {

namespace {

using core::Errc;

core::Error invalid(std::string param, std::string_view problem) {
  std::string message = param;
  message += ": ";
  message += problem;
  return core::fail(Errc::kInvalidRequest, std::move(message), std::move(param));
}

// The block types a chat request can carry, by the roles that may send them.
constexpr std::string_view kBlockTypes =
    "the translated block types are text and image (user), tool_result (user), tool_use "
    "(assistant), thinking and redacted_thinking (assistant, dropped)";

bool is_number(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

std::string_view string_of(const json::value* v) {
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// Writes the OpenAI body while it walks the Anthropic one. `path_` is the Anthropic path of the
// value being read ("messages.2.content.0"), grown and shrunk as the walk goes, so an error can
// name it without paths being built for values that are fine.
class RequestWriter {
 public:
  explicit RequestWriter(std::size_t body_size) { out_.reserve(body_size + 256); }

  core::Result<provider::TranslatedRequest> translate(const json::object& body);

 private:
  // Appends ".key" or ".index" to the path for as long as it lives.
  class Step {
   public:
    Step(std::string& path, std::string_view key) : path_(path), size_(path.size()) {
      if (!path_.empty()) path_ += '.';
      path_ += key;
    }
    Step(std::string& path, std::size_t index) : path_(path), size_(path.size()) {
      path_ += '.';
      append_uint(path_, index);
    }
    ~Step() { path_.resize(size_); }
    Step(const Step&) = delete;
    Step& operator=(const Step&) = delete;

   private:
    std::string& path_;
    std::size_t size_;
  };

  core::Error invalid_here(std::string_view field, std::string_view problem) const {
    std::string param = path_;
    if (!field.empty()) {
      if (!param.empty()) param += '.';
      param += field;
    }
    return invalid(std::move(param), problem);
  }

  core::Result<std::string_view> required_string(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    if (v == nullptr) return invalid_here(key, "Field required");
    if (!v->is_string()) return invalid_here(key, "Input should be a valid string");
    return std::string_view(v->get_string());
  }

  core::Result<std::string_view> block_type(const json::value& block) {
    if (!block.is_object()) return invalid_here("", "Input should be a content block object");
    return required_string(block.get_object(), "type");
  }

  void begin_message(std::string_view role) {
    if (!first_message_) out_ += ',';
    first_message_ = false;
    out_ += "{\"role\":\"";
    out_ += role;
    out_ += '"';
  }

  core::Result<void> system(const json::value& v);
  core::Result<void> message(const json::value& v, bool last);
  core::Result<void> user_blocks(const json::array& blocks);
  core::Result<void> assistant_blocks(const json::array& blocks);
  core::Result<void> check_image(const json::object& block);
  void write_image_part(const json::object& block);
  core::Result<void> tool_result(const json::object& block);
  core::Result<void> tools(const json::value& v);
  core::Result<void> tool_choice(const json::value& v, bool has_tools);
  core::Result<void> stop_sequences(const json::value& v);
  core::Result<void> number(const json::object& body, std::string_view key);

  std::string out_;
  std::string path_;
  std::string scratch_;
  bool first_message_ = true;
  std::vector<const json::object*> parts_;  // a user turn's text and image blocks
  std::vector<const json::object*> calls_;  // an assistant turn's tool_use blocks
};

core::Result<provider::TranslatedRequest> RequestWriter::translate(const json::object& body) {
  auto model = required_string(body, "model");
  if (!model) return model.error();

  const json::value* max_tokens = body.if_contains("max_tokens");
  if (max_tokens == nullptr) return invalid("max_tokens", "Field required");
  const bool integer = max_tokens->is_int64() || max_tokens->is_uint64();
  auto max = json_count(max_tokens);
  if (!integer || !max || *max < 1) {
    return invalid("max_tokens", "Input should be an integer greater than or equal to 1");
  }

  const json::value* messages = body.if_contains("messages");
  if (messages == nullptr) return invalid("messages", "Field required");
  if (!messages->is_array()) return invalid("messages", "Input should be a valid list");
  const json::array& turns = messages->get_array();
  if (turns.empty()) return invalid("messages", "at least one message is required");

  out_ += "{\"model\":";
  append_json_string(out_, *model);
  out_ += ",\"messages\":[";
  if (const json::value* s = body.if_contains("system")) {
    if (auto r = system(*s); !r) return r.error();
  }
  {
    Step step(path_, "messages");
    for (std::size_t i = 0; i < turns.size(); ++i) {
      Step at(path_, i);
      if (auto r = message(turns[i], i + 1 == turns.size()); !r) return r.error();
    }
  }
  out_ += "],\"max_tokens\":";
  append_uint(out_, *max);

  if (const json::value* v = body.if_contains("stop_sequences")) {
    if (auto r = stop_sequences(*v); !r) return r.error();
  }
  if (auto r = number(body, "temperature"); !r) return r.error();
  if (auto r = number(body, "top_p"); !r) return r.error();
  // top_k has no OpenAI counterpart; it is dropped (docs/providers.md).

  if (const json::value* m = body.if_contains("metadata"); m != nullptr && !m->is_null()) {
    if (!m->is_object()) return invalid("metadata", "Input should be a valid dictionary");
    if (const json::value* u = m->get_object().if_contains("user_id");
        u != nullptr && !u->is_null()) {
      if (!u->is_string()) return invalid("metadata.user_id", "Input should be a valid string");
      out_ += ",\"user\":";
      append_json_string(out_, u->get_string());
    }
  }

  bool has_tools = false;
  if (const json::value* t = body.if_contains("tools")) {
    has_tools = t->is_array() && !t->get_array().empty();
    if (auto r = tools(*t); !r) return r.error();
  }
  if (const json::value* c = body.if_contains("tool_choice")) {
    if (auto r = tool_choice(*c, has_tools); !r) return r.error();
  }

  provider::TranslatedRequest request;
  if (const json::value* s = body.if_contains("stream")) {
    if (!s->is_bool()) return invalid("stream", "Input should be a valid boolean");
    request.stream = s->get_bool();
  }
  if (request.stream) {
    // Anthropic's stream reports usage in message_delta; OpenAI's only when asked.
    out_ += ",\"stream\":true,\"stream_options\":{\"include_usage\":true}";
    request.include_usage = true;
  }
  out_ += '}';
  request.body = std::move(out_);
  return request;
}

core::Result<void> RequestWriter::system(const json::value& v) {
  if (v.is_string()) {
    if (v.get_string().empty()) return core::ok();
    begin_message("system");
    out_ += ",\"content\":";
    append_json_string(out_, v.get_string());
    out_ += '}';
    return core::ok();
  }
  if (!v.is_array())
    return invalid("system", "Input should be a valid string or a list of text blocks");
  Step step(path_, "system");
  bool any = false;
  const json::array& blocks = v.get_array();
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    Step at(path_, i);
    auto type = block_type(blocks[i]);
    if (!type) return type.error();
    if (*type != "text") return invalid_here("type", "Input should be 'text'");
    auto text = required_string(blocks[i].get_object(), "text");
    if (!text) return text.error();
    any = any || !text->empty();
  }
  if (!any) return core::ok();
  // One system message: OpenAI-compatible servers do not all take a list as a system content.
  begin_message("system");
  out_ += ",\"content\":\"";
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    if (i > 0) out_ += "\\n";
    append_json_chars(out_, blocks[i].get_object().at("text").get_string());
  }
  out_ += "\"}";
  return core::ok();
}

core::Result<void> RequestWriter::message(const json::value& v, bool last) {
  if (!v.is_object()) return invalid_here("", "Input should be a message object");
  const json::object& m = v.get_object();
  auto role = required_string(m, "role");
  if (!role) return role.error();
  const bool user = *role == "user";
  if (!user && *role != "assistant") {
    return invalid_here("role", "Input should be 'user' or 'assistant'");
  }
  const json::value* content = m.if_contains("content");
  if (content == nullptr) return invalid_here("content", "Field required");
  const bool empty = (content->is_string() && content->get_string().empty()) ||
                     (content->is_array() && content->get_array().empty());
  if (empty) {
    // Anthropic lets only a final assistant turn (a prefill) be empty; there is nothing to send.
    if (!user && last) return core::ok();
    return invalid_here("content",
                        "must not be empty (only the final assistant message may be empty)");
  }
  if (content->is_string()) {
    begin_message(*role);
    out_ += ",\"content\":";
    append_json_string(out_, content->get_string());
    out_ += '}';
    return core::ok();
  }
  if (!content->is_array()) {
    return invalid_here("content", "Input should be a valid string or a list of content blocks");
  }
  Step step(path_, "content");
  return user ? user_blocks(content->get_array()) : assistant_blocks(content->get_array());
}

core::Result<void> RequestWriter::user_blocks(const json::array& blocks) {
  parts_.clear();
  for (std::size_t j = 0; j < blocks.size(); ++j) {
    Step at(path_, j);
    auto type = block_type(blocks[j]);
    if (!type) return type.error();
    const json::object& block = blocks[j].get_object();
    if (*type == "text") {
      if (auto text = required_string(block, "text"); !text) return text.error();
      parts_.push_back(&block);
    } else if (*type == "image") {
      if (auto r = check_image(block); !r) return r.error();
      parts_.push_back(&block);
    } else if (*type == "tool_result") {
      // OpenAI wants each result as a `tool` message right after the assistant turn that
      // called; the rest of this turn follows them as a user message.
      if (auto r = tool_result(block); !r) return r.error();
    } else if (*type == "tool_use" || *type == "thinking" || *type == "redacted_thinking") {
      std::string problem = "'";
      problem += *type;
      problem += "' blocks belong to assistant messages";
      return invalid_here("type", problem);
    } else {
      std::string problem = "'";
      problem += *type;
      problem += "' blocks cannot be translated for an OpenAI chat model; ";
      problem += kBlockTypes;
      return invalid_here("type", problem);
    }
  }
  if (parts_.empty()) return core::ok();
  begin_message("user");
  out_ += ",\"content\":";
  if (parts_.size() == 1 && parts_.front()->at("type").get_string() == "text") {
    append_json_string(out_, parts_.front()->at("text").get_string());
  } else {
    out_ += '[';
    for (std::size_t k = 0; k < parts_.size(); ++k) {
      if (k > 0) out_ += ',';
      const json::object& part = *parts_[k];
      if (part.at("type").get_string() == "text") {
        out_ += "{\"type\":\"text\",\"text\":";
        append_json_string(out_, part.at("text").get_string());
        out_ += '}';
      } else {
        write_image_part(part);
      }
    }
    out_ += ']';
  }
  out_ += '}';
  return core::ok();
}

core::Result<void> RequestWriter::check_image(const json::object& block) {
  const json::value* source = block.if_contains("source");
  if (source == nullptr) return invalid_here("source", "Field required");
  if (!source->is_object()) return invalid_here("source", "Input should be a valid dictionary");
  Step step(path_, "source");
  const json::object& s = source->get_object();
  auto type = required_string(s, "type");
  if (!type) return type.error();
  if (*type == "base64") {
    auto media = required_string(s, "media_type");
    if (!media) return media.error();
    if (*media != "image/jpeg" && *media != "image/png" && *media != "image/gif" &&
        *media != "image/webp") {
      return invalid_here("media_type",
                          "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'");
    }
    if (auto data = required_string(s, "data"); !data) return data.error();
    return core::ok();
  }
  if (*type == "url") {
    if (auto url = required_string(s, "url"); !url) return url.error();
    return core::ok();
  }
  if (*type == "file") {
    return invalid_here("type",
                        "'file' sources name a file in Anthropic's Files API, which an OpenAI chat "
                        "model cannot read; send the image as 'base64' or 'url'");
  }
  return invalid_here("type", "Input should be 'base64' or 'url'");
}

void RequestWriter::write_image_part(const json::object& block) {
  const json::object& s = block.at("source").get_object();
  out_ += "{\"type\":\"image_url\",\"image_url\":{\"url\":\"";
  if (s.at("type").get_string() == "base64") {
    out_ += "data:";
    append_json_chars(out_, s.at("media_type").get_string());
    out_ += ";base64,";
    append_json_chars(out_, s.at("data").get_string());
  } else {
    append_json_chars(out_, s.at("url").get_string());
  }
  out_ += "\"}}";
}

core::Result<void> RequestWriter::tool_result(const json::object& block) {
  auto id = required_string(block, "tool_use_id");
  if (!id) return id.error();
  bool is_error = false;
  if (const json::value* e = block.if_contains("is_error"); e != nullptr && !e->is_null()) {
    if (!e->is_bool()) return invalid_here("is_error", "Input should be a valid boolean");
    is_error = e->get_bool();
  }
  // The content as one string: a tool message carries text only.
  scratch_.clear();
  const json::value* content = block.if_contains("content");
  if (content == nullptr || content->is_null()) {
  } else if (content->is_string()) {
    scratch_ = content->get_string();
  } else if (content->is_array()) {
    Step step(path_, "content");
    const json::array& inner = content->get_array();
    for (std::size_t k = 0; k < inner.size(); ++k) {
      Step at(path_, k);
      auto type = block_type(inner[k]);
      if (!type) return type.error();
      if (*type == "image") {
        return invalid_here("type",
                            "images in a tool_result cannot be translated: an OpenAI tool message "
                            "carries text only; send the image in a user text turn instead");
      }
      if (*type != "text") {
        std::string problem = "'";
        problem += *type;
        problem += "' blocks cannot be translated inside a tool_result; only text blocks can";
        return invalid_here("type", problem);
      }
      auto text = required_string(inner[k].get_object(), "text");
      if (!text) return text.error();
      if (k > 0) scratch_ += '\n';
      scratch_ += *text;
    }
  } else {
    return invalid_here("content", "Input should be a valid string or a list of content blocks");
  }
  begin_message("tool");
  out_ += ",\"tool_call_id\":";
  append_json_string(out_, *id);
  out_ += ",\"content\":\"";
  // OpenAI has no is_error: the model is told in the text, unless the text already says so.
  if (is_error && !core::istarts_with(scratch_, "error")) {
    out_ += scratch_.empty() ? "Error" : "Error: ";
  }
  append_json_chars(out_, scratch_);
  out_ += "\"}";
  return core::ok();
}

core::Result<void> RequestWriter::assistant_blocks(const json::array& blocks) {
  parts_.clear();
  calls_.clear();
  for (std::size_t j = 0; j < blocks.size(); ++j) {
    Step at(path_, j);
    auto type = block_type(blocks[j]);
    if (!type) return type.error();
    const json::object& block = blocks[j].get_object();
    if (*type == "text") {
      if (auto text = required_string(block, "text"); !text) return text.error();
      parts_.push_back(&block);
    } else if (*type == "tool_use") {
      if (auto r = required_string(block, "id"); !r) return r.error();
      if (auto r = required_string(block, "name"); !r) return r.error();
      const json::value* input = block.if_contains("input");
      if (input == nullptr) return invalid_here("input", "Field required");
      if (!input->is_object()) return invalid_here("input", "Input should be a valid dictionary");
      calls_.push_back(&block);
    } else if (*type == "thinking" || *type == "redacted_thinking") {
      // Another model's reasoning (or this gateway's, unsigned): a chat model has no field for
      // it, so earlier turns' thinking is dropped.
    } else if (*type == "image" || *type == "tool_result") {
      std::string problem = "'";
      problem += *type;
      problem += "' blocks belong to user messages";
      return invalid_here("type", problem);
    } else {
      std::string problem = "'";
      problem += *type;
      problem += "' blocks cannot be translated for an OpenAI chat model; ";
      problem += kBlockTypes;
      return invalid_here("type", problem);
    }
  }
  if (parts_.empty() && calls_.empty()) return core::ok();  // thinking only
  begin_message("assistant");
  out_ += ",\"content\":";
  if (parts_.empty()) {
    out_ += "null";
  } else if (parts_.size() == 1) {
    append_json_string(out_, parts_.front()->at("text").get_string());
  } else {
    out_ += '[';
    for (std::size_t k = 0; k < parts_.size(); ++k) {
      if (k > 0) out_ += ',';
      out_ += "{\"type\":\"text\",\"text\":";
      append_json_string(out_, parts_[k]->at("text").get_string());
      out_ += '}';
    }
    out_ += ']';
  }
  if (!calls_.empty()) {
    out_ += ",\"tool_calls\":[";
    for (std::size_t k = 0; k < calls_.size(); ++k) {
      const json::object& call = *calls_[k];
      if (k > 0) out_ += ',';
      out_ += "{\"id\":";
      append_json_string(out_, call.at("id").get_string());
      out_ += ",\"type\":\"function\",\"function\":{\"name\":";
      append_json_string(out_, call.at("name").get_string());
      out_ += ",\"arguments\":";
      scratch_.clear();
      append_json(scratch_, call.at("input"));
      append_json_string(out_, scratch_);
      out_ += "}}";
    }
    out_ += ']';
  }
  out_ += '}';
  return core::ok();
}

core::Result<void> RequestWriter::tools(const json::value& v) {
  if (!v.is_array()) return invalid("tools", "Input should be a valid list");
  const json::array& list = v.get_array();
  if (list.empty()) return core::ok();  // OpenAI refuses an empty list; none means none
  Step step(path_, "tools");
  out_ += ",\"tools\":[";
  for (std::size_t i = 0; i < list.size(); ++i) {
    Step at(path_, i);
    if (!list[i].is_object()) return invalid_here("", "Input should be a valid dictionary");
    const json::object& tool = list[i].get_object();
    if (const json::value* type = tool.if_contains("type"); type != nullptr && !type->is_null()) {
      if (!type->is_string()) return invalid_here("type", "Input should be a valid string");
      if (type->get_string() != "custom") {
        std::string problem = "'";
        problem += type->get_string();
        problem +=
            "' is one of Anthropic's own tools, run by Anthropic or by its client tooling; an "
            "OpenAI chat model is given custom tools only (name, description, input_schema)";
        return invalid_here("type", problem);
      }
    }
    auto name = required_string(tool, "name");
    if (!name) return name.error();
    const json::value* description = tool.if_contains("description");
    if (description != nullptr && !description->is_null() && !description->is_string()) {
      return invalid_here("description", "Input should be a valid string");
    }
    const json::value* schema = tool.if_contains("input_schema");
    if (schema == nullptr) return invalid_here("input_schema", "Field required");
    if (!schema->is_object())
      return invalid_here("input_schema", "Input should be a valid dictionary");
    const json::value* strict = tool.if_contains("strict");
    if (strict != nullptr && !strict->is_null() && !strict->is_bool()) {
      return invalid_here("strict", "Input should be a valid boolean");
    }

    if (i > 0) out_ += ',';
    out_ += "{\"type\":\"function\",\"function\":{\"name\":";
    append_json_string(out_, *name);
    if (!string_of(description).empty()) {
      out_ += ",\"description\":";
      append_json_string(out_, string_of(description));
    }
    out_ += ",\"parameters\":";
    append_json(out_, *schema);
    if (strict != nullptr && strict->is_bool()) {
      out_ += strict->get_bool() ? ",\"strict\":true" : ",\"strict\":false";
    }
    out_ += "}}";
  }
  out_ += ']';
  return core::ok();
}

core::Result<void> RequestWriter::tool_choice(const json::value& v, bool has_tools) {
  if (v.is_null()) return core::ok();
  if (!v.is_object()) return invalid("tool_choice", "Input should be a valid dictionary");
  Step step(path_, "tool_choice");
  const json::object& choice = v.get_object();
  auto type = required_string(choice, "type");
  if (!type) return type.error();
  bool parallel_off = false;
  if (const json::value* d = choice.if_contains("disable_parallel_tool_use");
      d != nullptr && !d->is_null()) {
    if (!d->is_bool())
      return invalid_here("disable_parallel_tool_use", "Input should be a valid boolean");
    parallel_off = d->get_bool();
  }
  std::string_view name;
  if (*type == "tool") {
    auto n = required_string(choice, "name");
    if (!n) return n.error();
    name = *n;
  } else if (*type != "auto" && *type != "any" && *type != "none") {
    return invalid_here("type", "Input should be 'auto', 'any', 'tool' or 'none'");
  }
  // OpenAI refuses tool_choice and parallel_tool_calls without tools; without tools the model
  // cannot call one anyway.
  if (!has_tools) return core::ok();
  out_ += ",\"tool_choice\":";
  if (*type == "auto") {
    out_ += "\"auto\"";
  } else if (*type == "any") {
    out_ += "\"required\"";
  } else if (*type == "none") {
    out_ += "\"none\"";
    return core::ok();
  } else {
    out_ += "{\"type\":\"function\",\"function\":{\"name\":";
    append_json_string(out_, name);
    out_ += "}}";
  }
  if (parallel_off) out_ += ",\"parallel_tool_calls\":false";
  return core::ok();
}

core::Result<void> RequestWriter::stop_sequences(const json::value& v) {
  if (v.is_null()) return core::ok();
  if (!v.is_array()) return invalid("stop_sequences", "Input should be a valid list");
  const json::array& list = v.get_array();
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string()) {
      std::string param = "stop_sequences.";
      append_uint(param, i);
      return invalid(std::move(param), "Input should be a valid string");
    }
  }
  if (list.empty()) return core::ok();
  out_ += ",\"stop\":";
  append_json(out_, v);
  return core::ok();
}

core::Result<void> RequestWriter::number(const json::object& body, std::string_view key) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr || v->is_null()) return core::ok();
  if (!is_number(*v)) return invalid(std::string(key), "Input should be a valid number");
  out_ += ",\"";
  out_ += key;
  out_ += "\":";
  append_json(out_, *v);
  return core::ok();
}

}  // namespace

core::Result<provider::TranslatedRequest> to_chat_request(std::string_view messages_body) {
  if (messages_body.empty()) {
    return core::fail(Errc::kInvalidRequest,
                      "The request body is empty; the Messages API expects a JSON object.");
  }
  JsonArenaParser parser;
  boost::system::error_code ec;
  std::size_t at = 0;
  const json::value* body = parser.parse(messages_body, ec, at);
  if (body == nullptr) {
    std::size_t line = 0;
    std::size_t column = 0;
    line_and_column(messages_body, at, line, column);
    return core::fail(Errc::kInvalidRequest, "The request body is not valid JSON: " + ec.message() +
                                                 " at line " + std::to_string(line) + ", column " +
                                                 std::to_string(column) + " (byte " +
                                                 std::to_string(at) + ").");
  }
  if (!body->is_object()) {
    return core::fail(Errc::kInvalidRequest, "The request body must be a JSON object.");
  }
  RequestWriter writer(messages_body.size());
  return writer.translate(body->get_object());
}

}  // namespace sluice::api::messages
