#include "batch/batch_line.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <optional>

#include "api/json_scan.h"
#include "core/asio.h"

namespace sluice::batch {

namespace {

using error_code = boost::system::error_code;

core::Error invalid(std::string message, std::string param = {}) {
  return core::Error(core::Errc::kInvalidRequest, std::move(message), std::move(param));
}

// Boost.JSON SAX handler for one line: keeps the four top-level members and the body's model,
// stream and token cap, and notes where the body's value begins in the line, so the body is sent
// as it was written; nothing is built. Every line is read twice (checked, then sent), and a DOM
// of it cost most of the client's work per line. Duplicate members: the last one counts.
class LineFields {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  enum class Kind { kNone, kString, kObject, kOther };  // kNone: the member is absent
  enum class Top { kOther, kCustomId, kMethod, kUrl, kBody };

  struct Member {
    Kind kind = Kind::kNone;
    std::string text;  // a string's value
  };

  explicit LineFields(std::string_view line) : line_(line) {}

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) {
    value(Kind::kObject);
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t, error_code&) { return ascend(); }
  bool on_array_begin(error_code&) {
    value(Kind::kOther);
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t, error_code&) { return ascend(); }
  bool on_key_part(json::string_view s, std::size_t, error_code&) {
    if (depth_ <= 2) part_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, error_code&) {
    if (depth_ == 1) {
      bool whole = part_.empty();
      part_.append(s.data(), s.size());
      top_ = top_member(part_);
      if (top_ == Top::kOther && !unknown_) unknown_ = part_;
      if (top_ == Top::kBody) {
        // A second body replaces the first, as in a parsed object.
        model_ = {};
        stream_ = false;
        max_tokens_ = 0;
        max_completion_tokens_.reset();
        // An unsplit key points into the line: its value follows the closing quote and a colon.
        std::size_t at = whole ? api::offset_in(line_, s) : std::string_view::npos;
        body_key_end_ = at != std::string_view::npos ? at + s.size() + 1 : 0;
      }
    } else if (depth_ == 2 && top_ == Top::kBody) {
      part_.append(s.data(), s.size());
      field_ = part_ == "model"                   ? Field::kModel
               : part_ == "stream"                ? Field::kStream
               : part_ == "max_tokens"            ? Field::kMaxTokens
               : part_ == "max_completion_tokens" ? Field::kMaxCompletionTokens
                                                  : Field::kOther;
    }
    part_.clear();
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, error_code&) {
    if (wanted_string()) part_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, error_code&) {
    if (wanted_string()) {
      part_.append(s.data(), s.size());
      if (depth_ == 1) {
        Member& m = member(top_);
        m.kind = Kind::kString;
        m.text = std::move(part_);
      } else {
        model_.kind = Kind::kString;
        model_.text = std::move(part_);
        field_ = Field::kOther;
      }
      part_.clear();
      return true;
    }
    value(Kind::kString);
    return true;
  }
  bool on_number_part(json::string_view, error_code&) { return true; }
  bool on_int64(std::int64_t v, json::string_view, error_code&) {
    if (in_body_field(Field::kMaxTokens)) max_tokens_ = v;
    if (in_body_field(Field::kMaxCompletionTokens)) max_completion_tokens_ = v;
    value(Kind::kOther);
    return true;
  }
  bool on_uint64(std::uint64_t, json::string_view, error_code&) {
    value(Kind::kOther);
    return true;
  }
  bool on_double(double, json::string_view, error_code&) {
    value(Kind::kOther);
    return true;
  }
  bool on_bool(bool b, error_code&) {
    if (in_body_field(Field::kStream)) stream_ = b;
    value(Kind::kOther);
    return true;
  }
  bool on_null(error_code&) {
    value(Kind::kOther);
    return true;
  }
  bool on_comment_part(json::string_view, error_code&) { return true; }
  bool on_comment(json::string_view, error_code&) { return true; }

  bool top_is_object() const { return top_is_object_; }
  const std::optional<std::string>& unknown() const { return unknown_; }
  const Member& custom_id() const { return custom_id_; }
  const Member& method() const { return method_; }
  const Member& url() const { return url_; }
  Kind body_kind() const { return body_kind_; }
  std::size_t body_key_end() const { return body_key_end_; }
  const Member& model() const { return model_; }
  bool stream() const { return stream_; }
  // max_completion_tokens when given (it is the newer name), else max_tokens.
  std::int64_t max_tokens() const { return max_completion_tokens_.value_or(max_tokens_); }

 private:
  enum class Field { kOther, kModel, kStream, kMaxTokens, kMaxCompletionTokens };

  static Top top_member(std::string_view k) {
    if (k == "custom_id") return Top::kCustomId;
    if (k == "method") return Top::kMethod;
    if (k == "url") return Top::kUrl;
    if (k == "body") return Top::kBody;
    return Top::kOther;
  }
  Member& member(Top top) {
    return top == Top::kCustomId ? custom_id_ : top == Top::kMethod ? method_ : url_;
  }
  // A string whose text is kept: a top-level member's, or the body's model.
  bool wanted_string() const {
    return (depth_ == 1 && (top_ == Top::kCustomId || top_ == Top::kMethod || top_ == Top::kUrl)) ||
           in_body_field(Field::kModel);
  }
  bool in_body_field(Field f) const { return depth_ == 2 && top_ == Top::kBody && field_ == f; }
  // A value other than a kept string begins (before an object or array descends into it).
  void value(Kind kind) {
    if (depth_ == 0) {
      top_is_object_ = kind == Kind::kObject;
    } else if (depth_ == 1) {
      if (top_ == Top::kBody) {
        body_kind_ = kind;
      } else if (top_ != Top::kOther) {
        Member& m = member(top_);
        m.kind = kind;
        m.text.clear();
      }
    } else if (in_body_field(Field::kModel)) {
      model_.kind = kind;
      model_.text.clear();
    }
    if (depth_ == 2) field_ = Field::kOther;
  }
  bool ascend() {
    --depth_;
    if (depth_ == 2) field_ = Field::kOther;
    return true;
  }

  std::string_view line_;
  int depth_ = 0;
  Top top_ = Top::kOther;
  Field field_ = Field::kOther;
  std::string part_;
  bool top_is_object_ = false;
  std::optional<std::string> unknown_;
  Member custom_id_, method_, url_, model_;
  Kind body_kind_ = Kind::kNone;
  std::size_t body_key_end_ = 0;
  bool stream_ = false;
  std::int64_t max_tokens_ = 0;
  std::optional<std::int64_t> max_completion_tokens_;
};

}  // namespace

core::Result<BatchLine> parse_batch_line(std::string_view line) {
  using Kind = LineFields::Kind;
  json::parse_options options;
  options.max_depth = 128;
  json::basic_parser<LineFields> parser(options, line);
  error_code ec;
  std::size_t used = parser.write_some(false, line.data(), line.size(), ec);
  if (!ec && used < line.size()) ec = json::error::extra_data;
  if (ec) return invalid("the line is not valid JSON (" + ec.message() + ")");
  const LineFields& f = parser.handler();
  if (!f.top_is_object()) return invalid("the line must be a JSON object");
  if (const auto& k = f.unknown()) return invalid("unknown field \"" + *k + "\"", *k);

  BatchLine out;
  if (f.custom_id().kind != Kind::kString || f.custom_id().text.empty()) {
    return invalid("custom_id must be a non-empty string", "custom_id");
  }
  out.custom_id = f.custom_id().text;
  if (f.method().kind != Kind::kString || f.method().text != "POST") {
    return invalid("method must be \"POST\"", "method");
  }
  if (f.url().kind != Kind::kString) return invalid("url must be a string", "url");
  out.url = f.url().text;
  auto endpoint = api::endpoint_for_path(out.url);
  if (!endpoint) {
    return invalid("url " + out.url +
                       " is not an inference endpoint (use /v1/chat/completions, "
                       "/v1/completions, /v1/embeddings or /v1/images/generations)",
                   "url");
  }
  out.endpoint = *endpoint;
  if (f.body_kind() != Kind::kObject) return invalid("body must be a JSON object", "body");
  if (f.model().kind != Kind::kString || f.model().text.empty()) {
    return invalid("body.model must be a non-empty string", "body.model");
  }
  out.model = f.model().text;
  if (f.stream()) {
    return invalid("body.stream must not be true: a batch writes whole answers", "body.stream");
  }
  out.max_tokens = f.max_tokens();

  // The body as written: from the colon after its key to the end of its value. A key "body"
  // spelled with escapes does not point into the line; then the (valid) line is parsed whole.
  std::size_t colon = f.body_key_end() != 0 ? line.find(':', f.body_key_end()) : line.npos;
  std::size_t begin = colon != line.npos ? line.find('{', colon + 1) : line.npos;
  std::size_t end = begin != line.npos ? api::json_value_end(line, begin) : line.npos;
  if (end != line.npos) {
    out.body = std::string(line.substr(begin, end - begin));
    return out;
  }
  json::value whole = json::parse(line, ec, {}, options);
  const json::value* body =
      !ec && whole.is_object() ? whole.get_object().if_contains("body") : nullptr;
  if (body == nullptr) return invalid("body must be a JSON object", "body");
  out.body = json::serialize(*body);
  return out;
}

}  // namespace sluice::batch
