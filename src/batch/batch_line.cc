#include "batch/batch_line.h"

#include <boost/json.hpp>

#include "api/json_text.h"
#include "core/asio.h"

namespace sluice::batch {

namespace {

core::Error invalid(std::string message, std::string param = {}) {
  return core::Error(core::Errc::kInvalidRequest, std::move(message), std::move(param));
}

}  // namespace

core::Result<BatchLine> parse_batch_line(std::string_view line) {
  // Every line is read twice (checked, then sent): into an arena the next line reuses, so a line
  // costs no allocation per JSON node (it was a third of the client's work per line).
  thread_local api::JsonArenaParser parser;
  boost::system::error_code ec;
  std::size_t error_at = 0;
  const json::value* v = parser.parse(line, ec, error_at);
  if (v == nullptr) return invalid("the line is not valid JSON (" + ec.message() + ")");
  if (!v->is_object()) return invalid("the line must be a JSON object");
  const json::object& o = v->get_object();
  for (const auto& member : o) {
    std::string_view k = member.key();
    if (k != "custom_id" && k != "method" && k != "url" && k != "body") {
      return invalid("unknown field \"" + std::string(k) + "\"", std::string(k));
    }
  }

  BatchLine out;
  const json::value* id = o.if_contains("custom_id");
  if (id == nullptr || !id->is_string() || id->get_string().empty()) {
    return invalid("custom_id must be a non-empty string", "custom_id");
  }
  out.custom_id = id->get_string();

  const json::value* method = o.if_contains("method");
  if (method == nullptr || !method->is_string() || method->get_string() != "POST") {
    return invalid("method must be \"POST\"", "method");
  }

  const json::value* url = o.if_contains("url");
  if (url == nullptr || !url->is_string()) return invalid("url must be a string", "url");
  out.url = url->get_string();
  auto endpoint = api::endpoint_for_path(out.url);
  if (!endpoint) {
    return invalid("url " + out.url +
                       " is not an inference endpoint (use /v1/chat/completions, "
                       "/v1/completions, /v1/embeddings or /v1/images/generations)",
                   "url");
  }
  out.endpoint = *endpoint;

  const json::value* body = o.if_contains("body");
  if (body == nullptr || !body->is_object()) return invalid("body must be a JSON object", "body");
  const json::value* model = body->get_object().if_contains("model");
  if (model == nullptr || !model->is_string() || model->get_string().empty()) {
    return invalid("body.model must be a non-empty string", "body.model");
  }
  out.model = model->get_string();
  const json::object& fields = body->get_object();
  if (const json::value* stream = fields.if_contains("stream");
      stream != nullptr && stream->is_bool() && stream->get_bool()) {
    return invalid("body.stream must not be true: a batch writes whole answers", "body.stream");
  }
  for (std::string_view name : {"max_tokens", "max_completion_tokens"}) {
    if (const json::value* n = fields.if_contains(name); n != nullptr && n->is_int64()) {
      out.max_tokens = n->get_int64();
    }
  }
  api::append_json(out.body, *body);
  return out;
}

}  // namespace sluice::batch
