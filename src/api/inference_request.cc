#include "api/inference_request.h"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <optional>
#include <string>

#include "api/canonical_request.h"
#include "api/json_scan.h"

namespace sluice::api {

using core::Errc;

namespace {

using core::Errc;
using json::string_view;
using error_code = boost::system::error_code;

constexpr std::size_t kMaxDepth = 128;

// Boost.JSON SAX handler: follows the nesting depth, notes which top-level member a value
// belongs to, and keeps `model` and `stream`; when asked, it also passes every event to a
// CanonicalWriter, so the cache key costs no second parse.
class Fields {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  Fields(std::string_view body, CanonicalWriter* canonical) : body_(body), canonical_(canonical) {}

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code& ec) {
    if (canonical_) canonical_->on_object_begin(ec);
    return value_begins(Kind::kObject, ec) && descend();
  }
  bool on_object_end(std::size_t n, error_code& ec) {
    if (canonical_) canonical_->on_object_end(n, ec);
    return ascend();
  }
  bool on_array_begin(error_code& ec) {
    if (canonical_) canonical_->on_array_begin(ec);
    return value_begins(Kind::kArray, ec) && descend();
  }
  bool on_array_end(std::size_t n, error_code& ec) {
    if (canonical_) canonical_->on_array_end(n, ec);
    return ascend();
  }
  bool on_key_part(string_view s, std::size_t n, error_code& ec) {
    if (canonical_) canonical_->on_key_part(s, n, ec);
    if (depth_ == 1) key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(string_view s, std::size_t n, error_code& ec) {
    if (canonical_) canonical_->on_key(s, n, ec);
    if (depth_ == 2 && top_ == Top::kStreamOptions) {
      // The whole body is parsed in one call, so keys arrive whole (no on_key_part).
      include_usage_key_ = s == "include_usage";
    }
    if (depth_ != 1) return true;
    key_.append(s.data(), s.size());
    if (prompt_open_) {
      // The first prompt's value ended before this key: past it are only `,` and whitespace.
      prompt_open_ = false;
      std::size_t at = key_.size() == s.size() ? offset_in(body_, s) : std::string_view::npos;
      if (at != std::string_view::npos) note_prompt_end(at - 1);
    }
    top_ = top_member(key_);
    if (top_ == Top::kStreamOptions) request_.has_stream_options = true;
    member_ = key_ == "model"    ? Member::kModel
              : key_ == "stream" ? Member::kStream
              : key_ == "user"   ? Member::kUser
                                 : Member::kOther;
    if (top_ == Top::kPrompt && request_.prompt_begin == 0) {
      // An unsplit key points into the body: the value follows its closing quote and the colon.
      if (std::size_t at = offset_in(body_, s); at != std::string_view::npos) {
        request_.prompt_begin = at + s.size() + 1;
        prompt_open_ = true;
      }
    }
    key_.clear();
    if (member_ == Member::kModel && seen_model_) return fail(ec, duplicate("model"));
    if (member_ == Member::kStream && seen_stream_) return fail(ec, duplicate("stream"));
    return true;
  }
  bool on_string_part(string_view s, std::size_t n, error_code& ec) {
    if (canonical_) canonical_->on_string_part(s, n, ec);
    if (depth_ == 1 && member_ == Member::kModel) {
      model_escaped_ = true;
      model_.append(s.data(), s.size());
    }
    if (depth_ == 1 && member_ == Member::kUser) request_.user.append(s.data(), s.size());
    return true;
  }
  bool on_string(string_view s, std::size_t n, error_code& ec) {
    if (canonical_) canonical_->on_string(s, n, ec);
    if (top_ == Top::kPrompt && depth_ >= 1) request_.prompt_bytes += n;
    if (depth_ == 0) return value_begins(Kind::kString, ec);
    if (depth_ != 1 || member_ == Member::kOther) return true;
    if (member_ == Member::kStream) return value_begins(Kind::kString, ec);
    if (member_ == Member::kUser) {
      request_.user.append(s.data(), s.size());
      member_ = Member::kOther;
      return true;
    }
    seen_model_ = true;
    member_ = Member::kOther;
    std::size_t at = model_escaped_ ? std::string_view::npos : offset_in(body_, s);
    if (at != std::string_view::npos && at > 0) {
      // Unescaped strings come straight from the input: the quotes are around the view.
      request_.model_begin = at - 1;
      request_.model_end = request_.model_begin + s.size() + 2;
    } else {
      model_.append(s.data(), s.size());
      request_.escaped_model = std::move(model_);
    }
    return true;
  }
  bool on_number_part(string_view, error_code&) { return true; }
  bool on_int64(std::int64_t v, string_view s, error_code& ec) {
    if (canonical_) canonical_->on_int64(v, s, ec);
    if (v >= 0) integer_at_top(static_cast<std::uint64_t>(v));
    return value_begins(Kind::kNumber, ec);
  }
  bool on_uint64(std::uint64_t v, string_view s, error_code& ec) {
    if (canonical_) canonical_->on_uint64(v, s, ec);
    integer_at_top(v);
    return value_begins(Kind::kNumber, ec);
  }
  bool on_double(double v, string_view s, error_code& ec) {
    if (canonical_) canonical_->on_double(v, s, ec);
    return value_begins(Kind::kNumber, ec);
  }
  bool on_bool(bool b, error_code& ec) {
    if (canonical_) canonical_->on_bool(b, ec);
    if (depth_ == 2 && top_ == Top::kStreamOptions && include_usage_key_) {
      request_.include_usage = b;
    }
    if (depth_ == 1 && member_ == Member::kStream) {
      seen_stream_ = true;
      request_.stream = b;
      member_ = Member::kOther;
      return true;
    }
    return value_begins(Kind::kBool, ec);
  }
  bool on_null(error_code& ec) {
    if (canonical_) canonical_->on_null(ec);
    if (depth_ == 0) return value_begins(Kind::kNull, ec);
    if (depth_ == 1 && member_ == Member::kStream) seen_stream_ = true;
    if (depth_ == 1) member_ = Member::kOther;  // a null model counts as missing
    return true;
  }
  bool on_comment_part(string_view, error_code&) { return true; }
  bool on_comment(string_view, error_code&) { return true; }

  // The whole body has been read: a prompt that was the last member ends before the `}`.
  void finish() {
    if (!prompt_open_) return;
    prompt_open_ = false;
    std::size_t at = body_.find_last_not_of(kWhitespace);
    if (at != std::string_view::npos && body_[at] == '}') note_prompt_end(at);
  }

  InferenceRequest& request() { return request_; }
  bool top_is_object() const { return top_is_object_; }
  bool seen_model() const { return seen_model_; }
  const core::Error* error() const { return error_ ? &*error_ : nullptr; }

 private:
  enum class Member { kOther, kModel, kStream, kUser };
  // The top-level member being read, at any depth below it (member_ tracks only depth 1).
  enum class Top { kOther, kPrompt, kMaxTokens, kN, kStreamOptions };

  // Every top-level key is classified, so by its length first: one comparison, not seven.
  static Top top_member(std::string_view k) {
    switch (k.size()) {
      case 1:
        return k == "n" ? Top::kN : Top::kOther;
      case 5:
        return k == "input" ? Top::kPrompt : Top::kOther;
      case 6:
        return k == "prompt" ? Top::kPrompt : Top::kOther;
      case 8:
        return k == "messages" ? Top::kPrompt : Top::kOther;
      case 10:
        return k == "max_tokens" ? Top::kMaxTokens : Top::kOther;
      case 14:
        return k == "stream_options" ? Top::kStreamOptions : Top::kOther;
      case 21:
        return k == "max_completion_tokens" ? Top::kMaxTokens : Top::kOther;
      default:
        return Top::kOther;
    }
  }

  // max_tokens and n, when they are non-negative integers; the upstream judges other values.
  void integer_at_top(std::uint64_t v) {
    if (depth_ != 1) return;
    if (top_ == Top::kMaxTokens) request_.max_tokens = v;
    if (top_ == Top::kN) request_.n = v;
  }
  enum class Kind { kObject, kArray, kString, kNumber, kBool, kNull };

  static std::string_view kind_name(Kind k) {
    switch (k) {
      case Kind::kObject:
        return "an object";
      case Kind::kArray:
        return "an array";
      case Kind::kString:
        return "a string";
      case Kind::kNumber:
        return "a number";
      case Kind::kBool:
        return "a boolean";
      case Kind::kNull:
        return "null";
    }
    return "a value";
  }

  // A value other than the one a watched member expects.
  bool value_begins(Kind kind, error_code& ec) {
    if (depth_ == 0) {
      top_is_object_ = kind == Kind::kObject;
      if (!top_is_object_) {
        return fail(
            ec, core::Error(Errc::kInvalidRequest, "The request body must be a JSON object, not " +
                                                       std::string(kind_name(kind)) + "."));
      }
      return true;
    }
    if (depth_ != 1 || member_ == Member::kOther) return true;
    if (member_ == Member::kUser) {  // not ours to judge: the upstream says what it accepts
      member_ = Member::kOther;
      return true;
    }
    std::string name = member_ == Member::kModel ? "model" : "stream";
    std::string expected = member_ == Member::kModel ? "a string" : "a boolean";
    return fail(ec, core::Error(Errc::kInvalidRequest,
                                "Invalid type for '" + name + "': expected " + expected +
                                    ", but got " + std::string(kind_name(kind)) + ".",
                                name));
  }
  bool descend() {
    ++depth_;
    if (depth_ == 2) member_ = Member::kOther;
    return true;
  }
  bool ascend() {
    --depth_;
    if (depth_ == 1) member_ = Member::kOther;
    return true;
  }
  static constexpr std::string_view kWhitespace = " \t\r\n";

  // `sep` is the index of what follows the prompt's value (the next key's opening quote, or the
  // object's closing brace): the value ends at the last non-blank before it, past a comma.
  void note_prompt_end(std::size_t sep) {
    std::string_view before = body_.substr(0, sep);
    std::size_t at = before.find_last_not_of(kWhitespace);
    if (at != std::string_view::npos && before[at] == ',' && body_[sep] == '"') {
      at = before.find_last_not_of(kWhitespace, at - 1);
    }
    if (at != std::string_view::npos && at >= request_.prompt_begin) request_.prompt_end = at + 1;
  }

  static core::Error duplicate(std::string_view name) {
    return core::Error(Errc::kInvalidRequest,
                       "The request body has more than one '" + std::string(name) + "'.",
                       std::string(name));
  }
  bool fail(error_code& ec, core::Error error) {
    error_ = std::move(error);
    ec = json::error::syntax;  // stops the parser; error_ says what really went wrong
    return false;
  }

  std::string_view body_;
  CanonicalWriter* canonical_;
  InferenceRequest request_;
  int depth_ = 0;
  Member member_ = Member::kOther;
  Top top_ = Top::kOther;
  bool include_usage_key_ = false;
  std::string key_;
  std::string model_;
  bool model_escaped_ = false;
  bool seen_model_ = false;
  bool seen_stream_ = false;
  bool prompt_open_ = false;  // the first prompt's value is being read: its end is not yet known
  bool top_is_object_ = false;
  std::optional<core::Error> error_;
};

}  // namespace

core::Result<InferenceRequest> decode_inference(Endpoint endpoint, std::string_view body,
                                                bool canonical) {
  if (body.empty()) {
    return core::fail(Errc::kInvalidRequest,
                      "We could not parse the JSON body of your request: the body is empty. "
                      "The OpenAI API expects a JSON object.");
  }
  json::parse_options options;
  options.max_depth = kMaxDepth;
  std::optional<CanonicalWriter> writer;
  if (canonical) writer.emplace(body.size());
  json::basic_parser<Fields> parser(options, body, writer ? &*writer : nullptr);
  error_code ec;
  std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
  Fields& fields = parser.handler();
  if (const core::Error* e = fields.error()) return *e;
  if (!ec && used < body.size()) ec = json::error::extra_data;
  if (ec) {
    std::size_t line = 0;
    std::size_t column = 0;
    line_and_column(body, used, line, column);
    return core::fail(Errc::kInvalidRequest,
                      "We could not parse the JSON body of your request: " + ec.message() +
                          " at line " + std::to_string(line) + ", column " +
                          std::to_string(column) + " (byte " + std::to_string(used) + ").");
  }
  fields.finish();
  InferenceRequest r = std::move(fields.request());
  r.endpoint = endpoint;
  r.body = body;
  if (!fields.seen_model() || r.model().empty()) {
    return core::fail(Errc::kModelNotFound, "You must provide a model parameter.", "model");
  }
  if (!endpoint_streams(endpoint)) r.stream = false;
  if (writer) {
    r.canonical = writer->take();
    r.has_canonical = true;
    r.deterministic =
        endpoint == Endpoint::kEmbeddings || writer->zero_temperature() || writer->integer_seed();
  }
  return r;
}

std::string body_with_stream_usage(const InferenceRequest& r) {
  std::size_t end = r.body.find_last_of('}');
  if (!r.has_stream_options && end != std::string_view::npos) {
    // A JSON object ends with its closing brace (and perhaps whitespace): splice the member in
    // before it, so every offset into the body stays valid. `{}` has no model, so the object
    // always has a member before this one.
    std::string out;
    constexpr std::string_view kMember = R"(,"stream_options":{"include_usage":true})";
    out.reserve(r.body.size() + kMember.size());
    out.append(r.body.substr(0, end));
    out.append(kMember);
    out.append(r.body.substr(end));
    return out;
  }
  json::value doc = json::parse(r.body);
  json::object& o = doc.as_object();
  json::value& options = o["stream_options"];
  if (!options.is_object()) options = json::object();
  options.as_object()["include_usage"] = true;
  return json::serialize(doc);
}

std::string body_with_model(const InferenceRequest& r, std::string_view model) {
  if (r.model_end > r.model_begin) {
    std::string out;
    std::string quoted = json::serialize(json::string_view(model));
    out.reserve(r.body.size() + quoted.size());
    out.append(r.body.substr(0, r.model_begin));
    out.append(quoted);
    out.append(r.body.substr(r.model_end));
    return out;
  }
  json::value doc = json::parse(r.body);
  doc.as_object()["model"] = model;
  return json::serialize(doc);
}

void line_and_column(std::string_view text, std::size_t offset, std::size_t& line,
                     std::size_t& column) {
  line = 1;
  column = 1;
  for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
}

}  // namespace sluice::api
