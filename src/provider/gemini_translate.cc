// translate_request: an OpenAI chat.completions body as a Gemini GenerateContentRequest. The
// body is parsed once into an arena and the Gemini body written straight into one string; the
// rules are in docs/providers.md ("Gemini"), and the reasons for the ones that are not obvious
// are next to them here.
#include <boost/json.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "api/errors.h"
#include "core/strings.h"
#include "provider/gemini_translate.h"
#include "provider/gemini_wire.h"

namespace sluice::provider::gemini {

namespace {

using api::append_json;
using api::append_json_string;
using core::Errc;
using wire::append_key;
using wire::array_of;
using wire::member;
using wire::object_of;
using wire::string_of;

// Deeper than any schema a person writes, shallow enough that a $ref cycle stops quickly.
constexpr int kMaxSchemaDepth = 32;

// Where a value sits in the request ("messages[2].content[0].image_url"), for error messages:
// a chain of views on the stack, spelled out only when an error needs it, so a request that is
// fine costs no string for it.
class Path {
 public:
  explicit Path(std::string_view root) : key_(root) {}
  Path(const Path& parent, std::string_view key) : parent_(&parent), key_(key) {}
  Path(const Path& parent, std::size_t index) : parent_(&parent), index_(index), is_index_(true) {}

  std::string str() const {
    std::string out = parent_ != nullptr ? parent_->str() : std::string();
    if (is_index_) {
      out += '[';
      out += std::to_string(index_);
      out += ']';
    } else {
      if (parent_ != nullptr) out += '.';
      out += key_;
    }
    return out;
  }

 private:
  const Path* parent_ = nullptr;
  std::string_view key_;
  std::size_t index_ = 0;
  bool is_index_ = false;
};

core::Error invalid(std::string message, std::string param) {
  return core::fail(Errc::kInvalidRequest, std::move(message), std::move(param));
}

core::Error wrong_type(const Path& at, std::string_view expected, const json::value& got) {
  std::string param = at.str();
  return invalid("Invalid type for '" + param + "': expected " + std::string(expected) +
                     ", but got " + std::string(api::json_type_name(got)) + " instead.",
                 param);
}

core::Error missing(const Path& at) {
  std::string param = at.str();
  return invalid("Missing required parameter: '" + param + "'.", param);
}

core::Error bad_value(const Path& at, std::string_view why) {
  std::string param = at.str();
  return invalid("Invalid value for '" + param + "': " + std::string(why), param);
}

core::Error not_supported(const Path& at, std::string_view why) {
  std::string param = at.str();
  return invalid("'" + param + "' cannot be sent to a Gemini model: " + std::string(why), param);
}

// A member that is absent or null counts as absent, as OpenAI reads optional fields.
const json::value* present(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && !v->is_null() ? v : nullptr;
}

// ---------------------------------------------------------------------------------------------
// contents: Gemini wants alternating turns, so consecutive parts of one role share a turn, and a
// turn is only opened when a part is written (an empty turn is a 400 at Gemini).

class Turns {
 public:
  explicit Turns(std::string& out) : out_(out) {}

  // The string to write the next part of a `role` turn into, its separator already written.
  std::string& part(std::string_view role) {
    if (role_ != role) {
      if (!role_.empty()) out_ += "]},";
      out_ += R"({"role":")";
      out_ += role;
      out_ += R"(","parts":[)";
      role_ = role;
      ++turns_;
    } else {
      out_ += ',';
    }
    return out_;
  }

  std::size_t turns() const { return turns_; }

  void close() {
    if (!role_.empty()) out_ += "]}";
    role_ = {};
  }

 private:
  std::string& out_;
  std::string_view role_;
  std::size_t turns_ = 0;
};

// systemInstruction's parts: one list for all system and developer messages, wherever they sit
// (Gemini has one system instruction per request).
class SystemParts {
 public:
  std::string& part(std::string_view) {
    if (!out_.empty()) out_ += ',';
    return out_;
  }
  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

void write_text_part(std::string& out, std::string_view text) {
  out += R"({"text":)";
  append_json_string(out, text);
  out += '}';
}

void write_inline_data(std::string& out, std::string_view mime, std::string_view data) {
  out += R"({"inlineData":{"mimeType":)";
  append_json_string(out, mime);
  out += R"(,"data":)";
  append_json_string(out, data);
  out += "}}";
}

struct DataUrl {
  std::string_view mime;
  std::string_view data;  // base64, as Gemini's inlineData takes it
};

// "data:<type>/<subtype>[;param]*;base64,<data>"; nullopt for anything else (a data URL that is
// not base64 has no inlineData form).
std::optional<DataUrl> parse_data_url(std::string_view url) {
  if (!core::istarts_with(url, "data:")) return std::nullopt;
  std::size_t comma = url.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  std::string_view meta = url.substr(5, comma - 5);
  constexpr std::string_view kBase64 = ";base64";
  if (meta.size() < kBase64.size() ||
      !core::iequals(meta.substr(meta.size() - kBase64.size()), kBase64)) {
    return std::nullopt;
  }
  meta.remove_suffix(kBase64.size());
  std::string_view mime = meta.substr(0, meta.find(';'));
  if (mime.empty() || mime.find('/') == std::string_view::npos) return std::nullopt;
  return DataUrl{mime, url.substr(comma + 1)};
}

// The image formats Gemini documents (PNG, JPEG, WEBP, HEIC, HEIF), by the URL path's extension.
std::string_view image_mime(std::string_view url) {
  std::string_view path = url.substr(0, url.find_first_of("?#"));
  std::size_t slash = path.rfind('/');
  std::size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return {};
  std::string_view ext = path.substr(dot + 1);
  struct Entry {
    std::string_view ext;
    std::string_view mime;
  };
  static constexpr Entry kTable[] = {{"png", "image/png"},   {"jpg", "image/jpeg"},
                                     {"jpeg", "image/jpeg"}, {"webp", "image/webp"},
                                     {"heic", "image/heic"}, {"heif", "image/heif"}};
  for (const Entry& e : kTable) {
    if (core::iequals(ext, e.ext)) return e.mime;
  }
  return {};
}

// A file uploaded with Gemini's Files API: Gemini knows its type, so fileData needs none.
bool gemini_file_uri(std::string_view url) {
  return url.starts_with("https://generativelanguage.googleapis.com/") &&
         url.find("/files/") != std::string_view::npos;
}

core::Result<void> write_image(std::string& out, const json::value& image, const Path& at) {
  std::string_view url;
  Path url_at(at, "url");
  if (image.is_string()) {
    url = image.get_string();
  } else if (const json::object* o = object_of(&image)) {
    // `detail` has no per-image counterpart (Gemini sets media resolution per request); it
    // changes what the model is billed for seeing, not what it may answer, so it is not refused.
    const json::value* u = present(*o, "url");
    if (u == nullptr)
      return invalid("Missing required parameter: '" + url_at.str() + "'.", at.str());
    if (!u->is_string()) return wrong_type(url_at, "a string", *u);
    url = u->get_string();
  } else {
    return wrong_type(at, "an object", image);
  }
  if (auto data = parse_data_url(url)) {
    write_inline_data(out, data->mime, data->data);
    return core::ok();
  }
  if (core::istarts_with(url, "https://") || core::istarts_with(url, "http://")) {
    std::string_view mime = image_mime(url);
    if (mime.empty() && !gemini_file_uri(url)) {
      return invalid(
          "Gemini needs the type of the image at '" + std::string(url.substr(0, 200)) +
              "': give it a .png, .jpg, .jpeg, .webp, .heic or .heif path, or send the image as "
              "a data: URL (data:image/png;base64,...).",
          url_at.str());
    }
    out += R"({"fileData":{)";
    if (!mime.empty()) {
      append_key(out, "mimeType");
      append_json_string(out, mime);
      out += ',';
    }
    append_key(out, "fileUri");
    append_json_string(out, url);
    out += "}}";
    return core::ok();
  }
  return bad_value(url_at, "expected a base64 data: URL or an http(s) URL.");
}

core::Result<void> write_audio(std::string& out, const json::value& audio, const Path& at) {
  const json::object* o = object_of(&audio);
  if (o == nullptr) return wrong_type(at, "an object", audio);
  const json::value* data = present(*o, "data");
  if (data == nullptr || !data->is_string()) return missing(Path(at, "data"));
  std::string_view f = string_of(present(*o, "format"));
  std::string_view mime = f == "wav" ? "audio/wav" : f == "mp3" ? "audio/mp3" : "";
  if (mime.empty()) return bad_value(Path(at, "format"), "expected 'wav' or 'mp3'.");
  write_inline_data(out, mime, data->get_string());
  return core::ok();
}

core::Result<void> write_file(std::string& out, const json::value& file, const Path& at) {
  const json::object* o = object_of(&file);
  if (o == nullptr) return wrong_type(at, "an object", file);
  if (present(*o, "file_id") != nullptr) {
    return not_supported(Path(at, "file_id"),
                         "the file is stored with OpenAI; send its content as file_data");
  }
  auto data = parse_data_url(string_of(present(*o, "file_data")));
  if (!data) {
    return bad_value(Path(at, "file_data"),
                     "expected a base64 data: URL (data:application/pdf;base64,...).");
  }
  write_inline_data(out, data->mime, data->data);
  return core::ok();
}

enum class Author { kSystem, kUser, kAssistant, kTool };

std::string_view author_name(Author a) {
  switch (a) {
    case Author::kSystem:
      return "system";
    case Author::kUser:
      return "user";
    case Author::kAssistant:
      return "assistant";
    case Author::kTool:
      return "tool";
  }
  return "";
}

// A message's content (a string, or an array of parts) as Gemini parts. Empty texts are left out:
// Gemini refuses an empty text part.
template <class Sink>
core::Result<void> write_content(Sink& sink, std::string_view role, const json::value& content,
                                 const Path& at, Author author) {
  if (content.is_null()) return core::ok();
  if (content.is_string()) {
    if (!content.get_string().empty()) write_text_part(sink.part(role), content.get_string());
    return core::ok();
  }
  const json::array* parts = array_of(&content);
  if (parts == nullptr) return wrong_type(at, "a string or an array", content);
  for (std::size_t j = 0; j < parts->size(); ++j) {
    Path part_at(at, j);
    const json::object* part = object_of(&(*parts)[j]);
    if (part == nullptr) return wrong_type(part_at, "an object", (*parts)[j]);
    std::string_view type = string_of(member(*part, "type"));
    if (type == "text" || (type == "refusal" && author == Author::kAssistant)) {
      const json::value* text = present(*part, type);
      if (text == nullptr || !text->is_string()) return missing(Path(part_at, type));
      if (!text->get_string().empty()) write_text_part(sink.part(role), text->get_string());
      continue;
    }
    bool media =
        author == Author::kUser && (type == "image_url" || type == "input_audio" || type == "file");
    if (!media) {
      return bad_value(Path(part_at, "type"), "a " + std::string(author_name(author)) +
                                                  " message cannot have a '" + std::string(type) +
                                                  "' part.");
    }
    const json::value* body = present(*part, type);
    Path body_at(part_at, type);
    if (body == nullptr) return missing(body_at);
    core::Result<void> r = type == "image_url"     ? write_image(sink.part(role), *body, body_at)
                           : type == "input_audio" ? write_audio(sink.part(role), *body, body_at)
                                                   : write_file(sink.part(role), *body, body_at);
    if (!r) return r;
  }
  return core::ok();
}

// The text of a tool message's content (a string, or text parts joined).
core::Result<std::string_view> tool_text(const json::value& content, const Path& at,
                                         std::string& joined) {
  if (content.is_null()) return std::string_view();
  if (content.is_string()) return std::string_view(content.get_string());
  const json::array* parts = array_of(&content);
  if (parts == nullptr) return wrong_type(at, "a string or an array", content);
  joined.clear();
  for (std::size_t j = 0; j < parts->size(); ++j) {
    Path part_at(at, j);
    const json::object* part = object_of(&(*parts)[j]);
    if (part == nullptr) return wrong_type(part_at, "an object", (*parts)[j]);
    const json::value* text = member(*part, "text");
    if (string_of(member(*part, "type")) != "text" || text == nullptr || !text->is_string()) {
      return bad_value(Path(part_at, "type"), "a tool message's content parts are text.");
    }
    joined += text->get_string();
  }
  return std::string_view(joined);
}

std::string_view trim_json(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// Whether `text` is one JSON object, checked by a parser whose memory the next check reuses.
class ObjectCheck {
 public:
  ObjectCheck() : parser_(json::storage_ptr(), json::parse_options(), temp_, sizeof temp_) {}

  bool operator()(std::string_view text) {
    if (text.empty() || text.front() != '{') return false;
    arena_.release();
    parser_.reset(&arena_);
    boost::system::error_code ec;
    parser_.write(text.data(), text.size(), ec);
    if (ec) return false;
    bool object = parser_.release().is_object();
    return object;
  }

 private:
  unsigned char temp_[512];
  unsigned char first_block_[1024];
  json::monotonic_resource arena_{first_block_, sizeof first_block_};
  json::parser parser_;
};

// Names of the calls of the conversation so far, by tool call id. A later assistant message
// that reuses an id replaces the entry: a tool message answers the nearest call before it.
using CallNames = std::unordered_map<std::string_view, std::string_view>;

core::Result<void> write_tool_calls(Turns& turns, const json::value& calls, const Path& at,
                                    CallNames& names, ObjectCheck& is_object) {
  const json::array* list = array_of(&calls);
  if (list == nullptr) return wrong_type(at, "an array", calls);
  for (std::size_t j = 0; j < list->size(); ++j) {
    Path call_at(at, j);
    const json::object* call = object_of(&(*list)[j]);
    if (call == nullptr) return wrong_type(call_at, "an object", (*list)[j]);
    std::string_view type = string_of(member(*call, "type"));
    if (!type.empty() && type != "function") {
      return not_supported(Path(call_at, "type"), "Gemini calls functions only");
    }
    Path function_at(call_at, "function");
    const json::object* function = object_of(member(*call, "function"));
    if (function == nullptr) return missing(function_at);
    std::string_view name = string_of(member(*function, "name"));
    if (name.empty()) return missing(Path(function_at, "name"));
    Path arguments_at(function_at, "arguments");
    const json::value* arguments = present(*function, "arguments");
    if (arguments != nullptr && !arguments->is_string()) {
      return wrong_type(arguments_at, "a string", *arguments);
    }
    // A function without parameters may come back with arguments "" from some clients.
    std::string_view args = trim_json(string_of(arguments));
    if (args.empty()) args = "{}";
    if (!is_object(args)) {
      return bad_value(arguments_at, "expected a JSON object (Gemini's functionCall.args is one).");
    }
    std::string_view id = string_of(member(*call, "id"));
    if (!id.empty()) names[id] = name;

    std::string& out = turns.part("model");
    out += R"({"functionCall":{"name":)";
    append_json_string(out, name);
    out += R"(,"args":)";
    out += args;  // checked above; copied as written, so its numbers keep their digits
    out += '}';
    // Gemini 3 refuses a conversation whose function calls lost their signatures.
    const json::object* extra = object_of(member(*call, "extra_content"));
    const json::object* google = extra ? object_of(member(*extra, "google")) : nullptr;
    std::string_view signature = google ? string_of(member(*google, "thought_signature")) : "";
    if (!signature.empty()) {
      out += R"(,"thoughtSignature":)";
      append_json_string(out, signature);
    }
    out += '}';
  }
  return core::ok();
}

core::Result<void> write_tool_result(Turns& turns, const json::object& message, const Path& at,
                                     const CallNames& names, ObjectCheck& is_object,
                                     std::string& joined) {
  Path id_at(at, "tool_call_id");
  const json::value* id = present(message, "tool_call_id");
  if (id == nullptr) return missing(id_at);
  if (!id->is_string()) return wrong_type(id_at, "a string", *id);
  auto it = names.find(std::string_view(id->get_string()));
  if (it == names.end()) {
    return bad_value(id_at, "no assistant message before it has a tool call with id '" +
                                std::string(id->get_string()) +
                                "' (Gemini answers a call by its function's name).");
  }
  static const json::value kNull;
  const json::value* content = message.if_contains("content");
  auto text = tool_text(content ? *content : kNull, Path(at, "content"), joined);
  if (!text) return text.error();

  std::string& out = turns.part("user");
  out += R"({"functionResponse":{"name":)";
  append_json_string(out, it->second);
  out += R"(,"response":)";
  std::string_view body = trim_json(*text);
  if (is_object(body)) {
    out += body;
  } else {
    out += R"({"content":)";
    append_json_string(out, *text);
    out += '}';
  }
  out += "}}";
  return core::ok();
}

// Writes the contents array's elements into `out`, and returns systemInstruction's parts.
core::Result<std::string> write_messages(const json::value& messages, std::string& out) {
  const Path root("messages");
  const json::array* list = array_of(&messages);
  if (list == nullptr) return wrong_type(root, "an array", messages);
  if (list->empty()) {
    return invalid("Invalid 'messages': empty array. Expected an array with minimum length 1.",
                   "messages");
  }
  Turns turns(out);
  SystemParts system;
  CallNames names;
  ObjectCheck is_object;
  std::string joined;
  static const json::value kNull;
  for (std::size_t i = 0; i < list->size(); ++i) {
    Path at(root, i);
    const json::object* m = object_of(&(*list)[i]);
    if (m == nullptr) return wrong_type(at, "an object", (*list)[i]);
    const json::value* role_value = present(*m, "role");
    if (role_value == nullptr) return missing(Path(at, "role"));
    std::string_view role = string_of(role_value);
    const json::value* content = m->if_contains("content");
    const json::value& c = content ? *content : kNull;
    Path content_at(at, "content");
    core::Result<void> r = core::ok();
    if (role == "system" || role == "developer") {
      r = write_content(system, "", c, content_at, Author::kSystem);
    } else if (role == "user") {
      r = write_content(turns, "user", c, content_at, Author::kUser);
    } else if (role == "assistant") {
      if (present(*m, "function_call") != nullptr) {
        return not_supported(Path(at, "function_call"), "use tool_calls");
      }
      if (present(*m, "audio") != nullptr) {
        return not_supported(Path(at, "audio"), "Gemini cannot be given OpenAI's audio outputs");
      }
      r = write_content(turns, "model", c, content_at, Author::kAssistant);
      if (r) {
        if (const json::value* calls = present(*m, "tool_calls")) {
          r = write_tool_calls(turns, *calls, Path(at, "tool_calls"), names, is_object);
        }
      }
    } else if (role == "tool") {
      r = write_tool_result(turns, *m, at, names, is_object, joined);
    } else if (role == "function") {
      return not_supported(Path(at, "role"), "the legacy 'function' role; use 'tool'");
    } else {
      return bad_value(Path(at, "role"),
                       "expected 'system', 'developer', 'user', 'assistant' or 'tool'.");
    }
    if (!r) return r.error();
  }
  if (turns.turns() == 0) {
    return invalid(
        "Invalid 'messages': Gemini needs at least one user, assistant or tool message with "
        "content besides the system instructions.",
        "messages");
  }
  turns.close();
  return system.text();
}

// ---------------------------------------------------------------------------------------------
// Schemas (tool parameters, response_format json_schema): Gemini takes a subset of OpenAPI 3's
// schema object. Members it documents are kept; JSON Schema's that only tighten validation
// (additionalProperties, $schema, strict, $id, $comment, examples, exclusive bounds, ...) are
// dropped, since Gemini rejects them; `$ref` is replaced by what it points to, `oneOf` becomes
// `anyOf`, `const` a one-value `enum`, a type list with "null" a type with `nullable`; `allOf`
// and `not`, which would change what the model may answer, are refused.

bool kept_schema_key(std::string_view k) {
  static constexpr std::string_view kKept[] = {
      "title",    "description",      "nullable",      "enum",      "maxItems",  "minItems",
      "required", "minProperties",    "maxProperties", "minLength", "maxLength", "pattern",
      "example",  "propertyOrdering", "default",       "minimum",   "maximum"};
  for (std::string_view kept : kKept) {
    if (k == kept) return true;
  }
  return false;
}

// Gemini accepts these formats only (and refuses a schema with any other).
bool kept_format(std::string_view f) {
  return f == "date-time" || f == "enum" || f == "int32" || f == "int64" || f == "float" ||
         f == "double";
}

class SchemaWriter {
 public:
  SchemaWriter(const json::value& root, const Path& at) : root_(root), at_(at) {}

  core::Result<void> write(std::string& out, const json::value& schema, int depth = 0) {
    if (depth > kMaxSchemaDepth) {
      return refuse(
          "a schema nested this deeply, or a $ref that refers to itself (its schemas "
          "cannot be recursive)");
    }
    if (schema.is_bool() && schema.get_bool()) {
      out += "{}";  // `true`: any value
      return core::ok();
    }
    const json::object* o = object_of(&schema);
    if (o == nullptr) return wrong_type(at_, "a JSON schema object", schema);
    if (const json::value* ref = o->if_contains("$ref")) {
      const json::value* target = resolve(string_of(ref));
      if (target == nullptr) {
        return refuse("the $ref '" + std::string(string_of(ref)) +
                      "' (only local references, #/..., are followed)");
      }
      return write(out, *target, depth + 1);
    }
    if (o->contains("anyOf") && o->contains("oneOf")) return refuse("both anyOf and oneOf");
    bool first = true;
    auto key = [&](std::string_view k) {
      if (!first) out += ',';
      first = false;
      append_key(out, k);
    };
    out += '{';
    for (const auto& kv : *o) {
      std::string_view k = kv.key();
      const json::value& v = kv.value();
      if (k == "type") {
        if (v.is_string()) {
          key("type");
          append_json(out, v);
        } else if (const json::array* types = array_of(&v)) {
          const json::value* only = nullptr;
          bool null = false;
          for (const json::value& t : *types) {
            if (string_of(&t) == "null") {
              null = true;
            } else if (only == nullptr) {
              only = &t;
            } else {
              return refuse("a type list of more than one non-null type (use anyOf)");
            }
          }
          if (only != nullptr) {
            key("type");
            append_json(out, *only);
          }
          if (null && !o->contains("nullable")) {
            key("nullable");
            out += "true";
          }
        } else {
          return wrong_type(at_, "a schema whose type is a string or an array", v);
        }
      } else if (k == "properties") {
        const json::object* props = object_of(&v);
        if (props == nullptr) return wrong_type(at_, "a schema whose properties are an object", v);
        key("properties");
        out += '{';
        bool first_prop = true;
        for (const auto& p : *props) {
          if (!first_prop) out += ',';
          first_prop = false;
          append_json_string(out, p.key());
          out += ':';
          if (auto r = write(out, p.value(), depth + 1); !r) return r;
        }
        out += '}';
      } else if (k == "items") {
        if (v.is_array()) return refuse("tuple items (an array of schemas)");
        key("items");
        if (auto r = write(out, v, depth + 1); !r) return r;
      } else if (k == "anyOf" || k == "oneOf") {
        const json::array* list = array_of(&v);
        if (list == nullptr) return wrong_type(at_, "a schema whose anyOf is an array", v);
        key("anyOf");
        out += '[';
        for (std::size_t i = 0; i < list->size(); ++i) {
          if (i > 0) out += ',';
          if (auto r = write(out, (*list)[i], depth + 1); !r) return r;
        }
        out += ']';
      } else if (k == "allOf" || k == "not" || k == "if") {
        return refuse(std::string(k));
      } else if (k == "const") {
        if (v.is_string() && !o->contains("enum")) {
          key("enum");
          out += '[';
          append_json(out, v);
          out += ']';
        }
      } else if (k == "format") {
        if (kept_format(string_of(&v))) {
          key("format");
          append_json(out, v);
        }
      } else if (kept_schema_key(k)) {
        key(k);
        append_json(out, v);
      }
    }
    out += '}';
    return core::ok();
  }

 private:
  core::Error refuse(std::string what) {
    std::string param = at_.str();
    return invalid(
        "Invalid schema for '" + param + "': Gemini's schemas cannot express " + what + ".", param);
  }

  // A JSON pointer into the root ("#", "#/$defs/Name", "#/definitions/Name", ...).
  const json::value* resolve(std::string_view ref) {
    if (!ref.starts_with('#')) return nullptr;
    ref.remove_prefix(1);
    const json::value* at = &root_;
    std::string token;
    while (!ref.empty()) {
      if (ref.front() != '/') return nullptr;
      ref.remove_prefix(1);
      std::size_t end = ref.find('/');
      token.assign(ref.substr(0, end));
      ref = end == std::string_view::npos ? std::string_view() : ref.substr(end);
      // RFC 6901 escapes: "~1" is '/', "~0" is '~'.
      for (std::size_t i = 0; (i = token.find('~', i)) != std::string::npos; ++i) {
        if (i + 1 < token.size() && token[i + 1] == '1') {
          token.replace(i, 2, "/");
        } else if (i + 1 < token.size() && token[i + 1] == '0') {
          token.replace(i, 2, "~");
        }
      }
      const json::object* o = object_of(at);
      if (o == nullptr) return nullptr;
      at = o->if_contains(token);
      if (at == nullptr) return nullptr;
    }
    return at;
  }

  const json::value& root_;
  const Path& at_;
};

// Whether a function's parameters schema says "no parameters": Gemini refuses an OBJECT schema
// without properties, so such a declaration goes without `parameters`.
bool no_parameters(const json::value& schema) {
  const json::object* o = object_of(&schema);
  if (o == nullptr) return false;
  std::string_view type = string_of(member(*o, "type"));
  if (!type.empty() && type != "object") return false;
  if (o->contains("$ref") || o->contains("anyOf") || o->contains("oneOf")) return false;
  const json::object* props = object_of(member(*o, "properties"));
  return props == nullptr || props->empty();
}

// ---------------------------------------------------------------------------------------------
// tools and tool_choice

struct ToolChoice {
  std::string_view mode;                  // AUTO, ANY, NONE; empty: no toolConfig
  std::vector<std::string_view> allowed;  // allowedFunctionNames (mode ANY)
  bool filter = false;  // declare only the functions in `allowed` (allowed_tools in auto mode)
};

core::Result<ToolChoice> read_tool_choice(const json::value& v) {
  const Path root("tool_choice");
  ToolChoice c;
  if (v.is_string()) {
    std::string_view s = v.get_string();
    c.mode = s == "none" ? "NONE" : s == "auto" ? "AUTO" : s == "required" ? "ANY" : "";
    if (c.mode.empty()) {
      return bad_value(root, "expected 'none', 'auto', 'required' or an object.");
    }
    return c;
  }
  const json::object* o = object_of(&v);
  if (o == nullptr) return wrong_type(root, "a string or an object", v);
  std::string_view type = string_of(member(*o, "type"));
  if (type == "function") {
    const json::object* f = object_of(member(*o, "function"));
    std::string_view name = f ? string_of(member(*f, "name")) : "";
    if (name.empty()) return missing(Path(Path(root, "function"), "name"));
    c.mode = "ANY";
    c.allowed.push_back(name);
    return c;
  }
  if (type == "allowed_tools") {
    Path allowed_at(root, "allowed_tools");
    const json::object* a = object_of(member(*o, "allowed_tools"));
    if (a == nullptr) return missing(allowed_at);
    std::string_view mode = string_of(member(*a, "mode"));
    if (mode != "auto" && mode != "required") {
      return bad_value(Path(allowed_at, "mode"), "expected 'auto' or 'required'.");
    }
    Path tools_at(allowed_at, "tools");
    const json::array* tools = array_of(member(*a, "tools"));
    if (tools == nullptr) return missing(tools_at);
    for (std::size_t i = 0; i < tools->size(); ++i) {
      const json::object* t = object_of(&(*tools)[i]);
      const json::object* f = t ? object_of(member(*t, "function")) : nullptr;
      std::string_view name = f ? string_of(member(*f, "name")) : "";
      Path tool_at(tools_at, i);
      if (name.empty()) return missing(Path(Path(tool_at, "function"), "name"));
      c.allowed.push_back(name);
    }
    // Gemini restricts the callable functions only in ANY mode; in AUTO mode the same effect is
    // had by declaring only the allowed ones.
    c.mode = mode == "required" ? "ANY" : "AUTO";
    c.filter = mode == "auto";
    return c;
  }
  return not_supported(Path(root, "type"), "expected 'function' or 'allowed_tools'");
}

// Writes `,"tools":[{"functionDeclarations":[...]}]` into `out` (nothing when every function
// is filtered out), and returns the names of all the functions declared in the request.
core::Result<std::vector<std::string_view>> write_tools(std::string& out, const json::value& tools,
                                                        const ToolChoice& choice) {
  const Path root("tools");
  const json::array* list = array_of(&tools);
  if (list == nullptr) return wrong_type(root, "an array", tools);
  std::vector<std::string_view> names;
  names.reserve(list->size());
  bool opened = false;
  for (std::size_t i = 0; i < list->size(); ++i) {
    Path at(root, i);
    const json::object* tool = object_of(&(*list)[i]);
    if (tool == nullptr) return wrong_type(at, "an object", (*list)[i]);
    if (string_of(member(*tool, "type")) != "function") {
      return not_supported(Path(at, "type"), "Gemini is given functions only ('function' tools)");
    }
    Path function_at(at, "function");
    const json::object* f = object_of(member(*tool, "function"));
    if (f == nullptr) return missing(function_at);
    const json::value* name = present(*f, "name");
    if (name == nullptr || !name->is_string() || name->get_string().empty()) {
      return missing(Path(function_at, "name"));
    }
    std::string_view n = name->get_string();
    names.push_back(n);
    if (choice.filter &&
        std::find(choice.allowed.begin(), choice.allowed.end(), n) == choice.allowed.end()) {
      continue;
    }
    out += opened ? "," : R"(,"tools":[{"functionDeclarations":[)";
    opened = true;
    out += R"({"name":)";
    append_json_string(out, n);
    if (const json::value* description = present(*f, "description")) {
      if (!description->is_string()) {
        return wrong_type(Path(function_at, "description"), "a string", *description);
      }
      out += R"(,"description":)";
      append_json_string(out, description->get_string());
    }
    const json::value* parameters = present(*f, "parameters");
    if (parameters != nullptr && !no_parameters(*parameters)) {
      out += R"(,"parameters":)";
      Path parameters_at(function_at, "parameters");
      SchemaWriter schema(*parameters, parameters_at);
      if (auto r = schema.write(out, *parameters); !r) return r.error();
    }
    out += '}';
  }
  if (opened) out += "]}]";
  return names;
}

// ---------------------------------------------------------------------------------------------
// The top level

// Every top-level member OpenAI documents for chat.completions, and what becomes of it.
enum class Field {
  kMessages,
  kModel,
  kStream,
  kStreamOptions,
  kTemperature,
  kTopP,
  kTopK,  // not OpenAI's, but vLLM's and others'; Gemini has it
  kMaxTokens,
  kMaxCompletionTokens,
  kStop,
  kN,
  kSeed,
  kPresencePenalty,
  kFrequencyPenalty,
  kResponseFormat,
  kTools,
  kToolChoice,
  kParallelToolCalls,
  kLogprobs,
  kTopLogprobs,
  kReasoningEffort,
  kModalities,
  kLogitBias,
  kRefused,  // changes the answer and has no Gemini counterpart
  kIgnored,  // concerns OpenAI's service only
};

struct FieldName {
  std::string_view name;
  Field field;
  std::string_view why = {};  // for kRefused
};

constexpr FieldName kFields[] = {
    {"messages", Field::kMessages},
    {"model", Field::kModel},
    {"stream", Field::kStream},
    {"stream_options", Field::kStreamOptions},
    {"temperature", Field::kTemperature},
    {"top_p", Field::kTopP},
    {"top_k", Field::kTopK},
    {"max_tokens", Field::kMaxTokens},
    {"max_completion_tokens", Field::kMaxCompletionTokens},
    {"stop", Field::kStop},
    {"n", Field::kN},
    {"seed", Field::kSeed},
    {"presence_penalty", Field::kPresencePenalty},
    {"frequency_penalty", Field::kFrequencyPenalty},
    {"response_format", Field::kResponseFormat},
    {"tools", Field::kTools},
    {"tool_choice", Field::kToolChoice},
    {"parallel_tool_calls", Field::kParallelToolCalls},
    {"logprobs", Field::kLogprobs},
    {"top_logprobs", Field::kTopLogprobs},
    {"reasoning_effort", Field::kReasoningEffort},
    {"modalities", Field::kModalities},
    {"logit_bias", Field::kLogitBias},
    {"audio", Field::kRefused, "Gemini's generateContent does not answer with audio"},
    {"functions", Field::kRefused, "the legacy functions API; use tools"},
    {"function_call", Field::kRefused, "the legacy functions API; use tool_choice"},
    {"web_search_options", Field::kRefused, "OpenAI's web search is not Gemini's"},
    {"verbosity", Field::kRefused, "Gemini has no verbosity setting"},
    {"user", Field::kIgnored},
    {"metadata", Field::kIgnored},
    {"store", Field::kIgnored},
    {"service_tier", Field::kIgnored},
    {"prompt_cache_key", Field::kIgnored},
    {"safety_identifier", Field::kIgnored},
    {"prediction", Field::kIgnored},  // a latency hint: the answer is the same without it
};

const FieldName* find_field(std::string_view name) {
  static const std::unordered_map<std::string_view, const FieldName*> kByName = [] {
    std::unordered_map<std::string_view, const FieldName*> m;
    for (const FieldName& f : kFields) m.emplace(f.name, &f);
    return m;
  }();
  auto it = kByName.find(name);
  return it != kByName.end() ? it->second : nullptr;
}

bool is_number(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }
bool is_integer(const json::value& v) { return v.is_int64() || v.is_uint64(); }

// generationConfig's members, written into the body as they are read.
class Generation {
 public:
  explicit Generation(std::string& out) : out_(out) {}

  void add(std::string_view key, const json::value& v) { append_json(begin(key), v); }
  void add_raw(std::string_view key, std::string_view json_text) { begin(key) += json_text; }
  std::string& begin(std::string_view key) {
    out_ += opened_ ? "," : R"(,"generationConfig":{)";
    opened_ = true;
    append_key(out_, key);
    return out_;
  }
  void close() {
    if (opened_) out_ += '}';
  }

 private:
  std::string& out_;
  bool opened_ = false;
};

core::Result<void> number_field(Generation& g, const json::value* v, std::string_view param,
                                std::string_view key) {
  if (v == nullptr) return core::ok();
  if (!is_number(*v)) return wrong_type(Path(param), "a number", *v);
  g.add(key, *v);
  return core::ok();
}

core::Result<void> integer_field(Generation& g, const json::value* v, std::string_view param,
                                 std::string_view key) {
  if (v == nullptr) return core::ok();
  if (!is_integer(*v)) return wrong_type(Path(param), "an integer", *v);
  g.add(key, *v);
  return core::ok();
}

core::Result<void> write_stop(Generation& g, const json::value& v) {
  const Path root("stop");
  if (v.is_string()) {
    if (v.get_string().empty()) return core::ok();
    std::string& out = g.begin("stopSequences");
    out += '[';
    append_json_string(out, v.get_string());
    out += ']';
    return core::ok();
  }
  const json::array* list = array_of(&v);
  if (list == nullptr) return wrong_type(root, "a string or an array", v);
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (!(*list)[i].is_string()) return wrong_type(Path(root, i), "a string", (*list)[i]);
  }
  if (!list->empty()) g.add("stopSequences", v);
  return core::ok();
}

core::Result<void> write_response_format(Generation& g, const json::value& v) {
  const Path root("response_format");
  const json::object* o = object_of(&v);
  if (o == nullptr) return wrong_type(root, "an object", v);
  std::string_view type = string_of(member(*o, "type"));
  if (type == "text") return core::ok();
  if (type == "json_object") {
    g.add_raw("responseMimeType", R"("application/json")");
    return core::ok();
  }
  if (type == "json_schema") {
    Path spec_at(root, "json_schema");
    const json::object* spec = object_of(member(*o, "json_schema"));
    if (spec == nullptr) return missing(spec_at);
    g.add_raw("responseMimeType", R"("application/json")");
    if (const json::value* schema = present(*spec, "schema")) {
      Path schema_at(spec_at, "schema");
      SchemaWriter writer(*schema, schema_at);
      if (auto r = writer.write(g.begin("responseSchema"), *schema); !r) return r;
    }
    return core::ok();
  }
  return bad_value(Path(root, "type"), "expected 'text', 'json_object' or 'json_schema'.");
}

// reasoning_effort as a thinking budget, with the budgets Google's own OpenAI-compatible
// endpoint uses for Gemini 2.5 (none: thinking off).
core::Result<void> write_reasoning(Generation& g, const json::value& v) {
  const Path root("reasoning_effort");
  if (!v.is_string()) return wrong_type(root, "a string", v);
  std::string_view e = v.get_string();
  std::string_view budget = e == "none"                    ? "0"
                            : e == "minimal" || e == "low" ? "1024"
                            : e == "medium"                ? "8192"
                            : e == "high"                  ? "24576"
                                                           : "";
  if (budget.empty()) {
    return bad_value(root, "expected 'none', 'minimal', 'low', 'medium' or 'high'.");
  }
  std::string& out = g.begin("thinkingConfig");
  out += R"({"thinkingBudget":)";
  out += budget;
  out += '}';
  return core::ok();
}

}  // namespace

core::Result<TranslatedRequest> translate_request(std::string_view openai_body) {
  wire::RequestBody request;
  auto parsed = request.parse(openai_body);
  if (!parsed) return parsed.error();
  const json::object* body = *parsed;

  const json::value* fields[static_cast<int>(Field::kIgnored) + 1] = {};
  for (const auto& kv : *body) {
    const FieldName* f = find_field(kv.key());
    if (f == nullptr) {
      return invalid("Unrecognized request argument supplied: " + std::string(kv.key()),
                     std::string(kv.key()));
    }
    if (kv.value().is_null()) continue;
    if (f->field == Field::kRefused) return not_supported(Path(f->name), f->why);
    fields[static_cast<int>(f->field)] = &kv.value();
  }
  auto get = [&](Field f) { return fields[static_cast<int>(f)]; };

  TranslatedRequest out;
  if (const json::value* v = get(Field::kStream)) {
    if (!v->is_bool()) return wrong_type(Path("stream"), "a boolean", *v);
    out.stream = v->get_bool();
  }
  if (const json::value* v = get(Field::kStreamOptions)) {
    const Path options("stream_options");
    const json::object* o = object_of(v);
    if (o == nullptr) return wrong_type(options, "an object", *v);
    if (const json::value* u = present(*o, "include_usage")) {
      if (!u->is_bool()) return wrong_type(Path(options, "include_usage"), "a boolean", *u);
      out.include_usage = u->get_bool();
    }
  }
  if (const json::value* v = get(Field::kModalities)) {
    const json::array* list = array_of(v);
    if (list == nullptr) return wrong_type(Path("modalities"), "an array", *v);
    for (const json::value& m : *list) {
      if (string_of(&m) != "text") {
        return not_supported(Path("modalities"),
                             "Gemini's generateContent answers chats with text");
      }
    }
  }
  if (const json::value* v = get(Field::kLogitBias)) {
    const json::object* o = object_of(v);
    if (o == nullptr) return wrong_type(Path("logit_bias"), "an object", *v);
    if (!o->empty()) return not_supported(Path("logit_bias"), "Gemini has no token biases");
  }
  if (const json::value* v = get(Field::kParallelToolCalls)) {
    if (!v->is_bool()) return wrong_type(Path("parallel_tool_calls"), "a boolean", *v);
    if (!v->get_bool()) {
      return not_supported(Path("parallel_tool_calls"),
                           "Gemini may call several functions at once and has no switch for it");
    }
  }
  ToolChoice choice;
  if (const json::value* v = get(Field::kToolChoice)) {
    auto c = read_tool_choice(*v);
    if (!c) return c.error();
    choice = std::move(*c);
  }
  const json::value* messages = get(Field::kMessages);
  if (messages == nullptr) return missing(Path("messages"));

  std::string& b = out.body;
  b.reserve(openai_body.size() + 256);
  b += R"({"contents":[)";
  auto system = write_messages(*messages, b);
  if (!system) return system.error();
  b += ']';
  if (!system->empty()) {
    b += R"(,"systemInstruction":{"parts":[)";
    b += *system;
    b += "]}";
  }

  // Tools and the choice among them.
  std::vector<std::string_view> declared;
  if (const json::value* tools = get(Field::kTools)) {
    auto names = write_tools(b, *tools, choice);
    if (!names) return names.error();
    declared = std::move(*names);
  }
  if (declared.empty() && !choice.mode.empty()) {
    // Without functions, "none" and "auto" ask for nothing; anything else asks for a call.
    if (choice.mode == "ANY") {
      return bad_value(Path("tool_choice"), "it asks for a tool call, but 'tools' declares none.");
    }
    choice.mode = {};
  }
  for (std::string_view name : choice.allowed) {
    if (std::find(declared.begin(), declared.end(), name) == declared.end()) {
      return bad_value(Path("tool_choice"),
                       "no function named '" + std::string(name) + "' in 'tools'.");
    }
  }
  if (!choice.mode.empty()) {
    b += R"(,"toolConfig":{"functionCallingConfig":{"mode":")";
    b += choice.mode;
    b += '"';
    if (choice.mode == "ANY" && !choice.allowed.empty()) {
      b += R"(,"allowedFunctionNames":[)";
      for (std::size_t i = 0; i < choice.allowed.size(); ++i) {
        if (i > 0) b += ',';
        append_json_string(b, choice.allowed[i]);
      }
      b += ']';
    }
    b += "}}";
  }

  Generation g(b);
  if (auto r = integer_field(g, get(Field::kN), "n", "candidateCount"); !r) return r.error();
  if (const json::value* v = get(Field::kStop)) {
    if (auto r = write_stop(g, *v); !r) return r.error();
  }
  // max_completion_tokens replaced max_tokens; when both are sent it is the one that counts.
  if (const json::value* v = get(Field::kMaxCompletionTokens)) {
    if (auto r = integer_field(g, v, "max_completion_tokens", "maxOutputTokens"); !r) {
      return r.error();
    }
  } else if (auto r = integer_field(g, get(Field::kMaxTokens), "max_tokens", "maxOutputTokens");
             !r) {
    return r.error();
  }
  for (auto [field, param, key] : {std::tuple{Field::kTemperature, "temperature", "temperature"},
                                   std::tuple{Field::kTopP, "top_p", "topP"}}) {
    if (auto r = number_field(g, get(field), param, key); !r) return r.error();
  }
  if (auto r = integer_field(g, get(Field::kTopK), "top_k", "topK"); !r) return r.error();
  if (auto r = integer_field(g, get(Field::kSeed), "seed", "seed"); !r) return r.error();
  for (auto [field, param, key] :
       {std::tuple{Field::kPresencePenalty, "presence_penalty", "presencePenalty"},
        std::tuple{Field::kFrequencyPenalty, "frequency_penalty", "frequencyPenalty"}}) {
    if (auto r = number_field(g, get(field), param, key); !r) return r.error();
  }
  bool logprobs = false;
  if (const json::value* v = get(Field::kLogprobs)) {
    if (!v->is_bool()) return wrong_type(Path("logprobs"), "a boolean", *v);
    logprobs = v->get_bool();
    if (logprobs) g.add_raw("responseLogprobs", "true");
  }
  if (const json::value* v = get(Field::kTopLogprobs)) {
    if (!is_integer(*v)) return wrong_type(Path("top_logprobs"), "an integer", *v);
    if (!logprobs) return bad_value(Path("top_logprobs"), "it needs 'logprobs' true.");
    g.add("logprobs", *v);
  }
  if (const json::value* v = get(Field::kResponseFormat)) {
    if (auto r = write_response_format(g, *v); !r) return r.error();
  }
  if (const json::value* v = get(Field::kReasoningEffort)) {
    if (auto r = write_reasoning(g, *v); !r) return r.error();
  }
  g.close();
  b += '}';
  return out;
}

}  // namespace sluice::provider::gemini
