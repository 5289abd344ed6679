#include "api/inference_request.h"

#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>

#include <string>

namespace sluice::api {

using core::Errc;

namespace {

constexpr std::size_t kMaxDepth = 128;

std::size_t skip_ws(std::string_view t, std::size_t i) {
  while (i < t.size() && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
  return i;
}

// `i` is at an opening quote; returns the index just past the closing quote.
std::size_t skip_string(std::string_view t, std::size_t i) {
  for (++i; i < t.size(); ++i) {
    if (t[i] == '\\') {
      ++i;
    } else if (t[i] == '"') {
      return i + 1;
    }
  }
  return t.size();
}

// `i` is at the first byte of a value; returns the index just past it.
std::size_t skip_value(std::string_view t, std::size_t i) {
  if (i >= t.size()) return i;
  if (t[i] == '"') return skip_string(t, i);
  if (t[i] == '{' || t[i] == '[') {
    int depth = 0;
    while (i < t.size()) {
      char c = t[i];
      if (c == '"') {
        i = skip_string(t, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return i;
  }
  while (i < t.size() && t[i] != ',' && t[i] != '}' && t[i] != ']' && t[i] != ' ' && t[i] != '\t' &&
         t[i] != '\n' && t[i] != '\r') {
    ++i;
  }
  return i;
}

}  // namespace

bool find_top_level_member(std::string_view t, std::string_view key, std::size_t& begin,
                           std::size_t& end) {
  std::size_t i = skip_ws(t, 0);
  if (i >= t.size() || t[i] != '{') return false;
  i = skip_ws(t, i + 1);
  int found = 0;
  while (i < t.size() && t[i] == '"') {
    std::size_t key_end = skip_string(t, i);
    std::string_view k = t.substr(i + 1, key_end - i - 2);
    i = skip_ws(t, key_end);
    if (i >= t.size() || t[i] != ':') return false;
    i = skip_ws(t, i + 1);
    std::size_t value_end = skip_value(t, i);
    if (k == key) {
      begin = i;
      end = value_end;
      ++found;
    }
    i = skip_ws(t, value_end);
    if (i < t.size() && t[i] == ',') i = skip_ws(t, i + 1);
  }
  return found == 1;
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
  json::object copy(*r.fields);
  copy["model"] = model;
  return json::serialize(copy);
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

core::Result<InferenceRequest> decode_inference(Endpoint endpoint, std::string_view body,
                                                json::value& storage) {
  json::parse_options options;
  options.max_depth = kMaxDepth;
  unsigned char temp[1024];
  json::parser parser(json::storage_ptr(), options, temp, sizeof temp);
  // The parser's first argument is only its scratch space; the value goes where reset() says.
  parser.reset(storage.storage());
  boost::system::error_code ec;
  // write() wants one complete value and reports how far it got, which locates the error.
  std::size_t used = parser.write(body.data(), body.size(), ec);
  if (ec) {
    if (body.empty()) {
      return core::fail(Errc::kInvalidRequest,
                        "We could not parse the JSON body of your request: the body is empty. "
                        "The OpenAI API expects a JSON object.");
    }
    std::size_t line = 0;
    std::size_t column = 0;
    line_and_column(body, used, line, column);
    return core::fail(Errc::kInvalidRequest,
                      "We could not parse the JSON body of your request: " + ec.message() +
                          " at line " + std::to_string(line) + ", column " +
                          std::to_string(column) + " (byte " + std::to_string(used) + ").");
  }
  storage = parser.release();
  if (!storage.is_object()) {
    return core::fail(Errc::kInvalidRequest, "The request body must be a JSON object, not " +
                                                 std::string(json::to_string(storage.kind())) +
                                                 ".");
  }
  InferenceRequest r;
  r.endpoint = endpoint;
  r.body = body;
  r.fields = &storage.get_object();
  const json::value* model = r.fields->if_contains("model");
  if (!model || model->is_null()) {
    return core::fail(Errc::kModelNotFound, "You must provide a model parameter.", "model");
  }
  if (!model->is_string()) {
    return core::fail(Errc::kInvalidRequest,
                      "Invalid type for 'model': expected a string, but got " +
                          std::string(json::to_string(model->kind())) + ".",
                      "model");
  }
  r.model = model->get_string();
  if (r.model.empty()) {
    return core::fail(Errc::kModelNotFound, "You must provide a model parameter.", "model");
  }
  if (const json::value* stream = r.fields->if_contains("stream"); stream && !stream->is_null()) {
    if (!stream->is_bool()) {
      return core::fail(Errc::kInvalidRequest,
                        "Invalid type for 'stream': expected a boolean, but got " +
                            std::string(json::to_string(stream->kind())) + ".",
                        "stream");
    }
    r.stream = stream->get_bool() && endpoint_streams(endpoint);
  }
  if (!find_top_level_member(body, "model", r.model_begin, r.model_end)) {
    r.model_begin = r.model_end = 0;
  }
  return r;
}

}  // namespace sluice::api
