#include "batch/step_request.h"

#include <boost/beast/core/detail/base64.hpp>
#include <boost/json.hpp>

#include "api/usage.h"
#include "core/asio.h"

namespace sluice::batch {

namespace {

core::Error bad_answer(std::string message) {
  return core::Error(core::Errc::kUpstreamProtocol, std::move(message));
}

// The file type of decoded image bytes, by their signature.
std::string_view image_extension(std::string_view bytes) {
  if (bytes.starts_with("\x89PNG\r\n\x1a\n")) return "png";
  if (bytes.starts_with("\xFF\xD8\xFF")) return "jpg";
  if (bytes.size() >= 12 && bytes.starts_with("RIFF") && bytes.substr(8, 4) == "WEBP") {
    return "webp";
  }
  return "png";
}

const json::value* first_choice(const json::object& answer) {
  const json::value* choices = answer.if_contains("choices");
  if (choices == nullptr || !choices->is_array() || choices->get_array().empty()) return nullptr;
  const json::value& first = choices->get_array().front();
  return first.is_object() ? &first : nullptr;
}

}  // namespace

std::string step_body(const StepSpec& step, std::string_view system, std::string_view prompt) {
  json::object body;
  body["model"] = step.model;
  switch (step.type) {
    case StepType::kChat: {
      json::array messages;
      if (!system.empty())
        messages.push_back(json::object{{"role", "system"}, {"content", system}});
      messages.push_back(json::object{{"role", "user"}, {"content", prompt}});
      body["messages"] = std::move(messages);
      break;
    }
    case StepType::kCompletion:
    case StepType::kImage:
      body["prompt"] = prompt;
      break;
    case StepType::kEmbedding:
      body["input"] = prompt;
      break;
  }
  for (const auto& [key, value] : step.params) body[key] = value;
  if (step.type == StepType::kImage) body["response_format"] = "b64_json";
  return json::serialize(body);
}

core::Result<StepAnswer> read_answer(StepType type, std::string_view text) {
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) return bad_answer("the answer is not a JSON object");
  const json::object& answer = parsed.get_object();
  StepAnswer out;
  if (auto usage = api::find_usage(text)) {
    out.prompt_tokens = static_cast<std::int64_t>(usage->prompt_tokens);
    out.completion_tokens = static_cast<std::int64_t>(usage->completion_tokens);
  }
  switch (type) {
    case StepType::kChat: {
      const json::value* choice = first_choice(answer);
      const json::value* message = choice ? choice->get_object().if_contains("message") : nullptr;
      const json::value* content =
          message && message->is_object() ? message->get_object().if_contains("content") : nullptr;
      if (content == nullptr || !content->is_string()) {
        return bad_answer("the answer has no text in choices[0].message.content");
      }
      out.output = content->get_string();
      out.extension = "txt";
      break;
    }
    case StepType::kCompletion: {
      const json::value* choice = first_choice(answer);
      const json::value* t = choice ? choice->get_object().if_contains("text") : nullptr;
      if (t == nullptr || !t->is_string()) return bad_answer("the answer has no choices[0].text");
      out.output = t->get_string();
      out.extension = "txt";
      break;
    }
    case StepType::kEmbedding: {
      const json::value* data = answer.if_contains("data");
      if (data == nullptr || !data->is_array() || data->get_array().empty()) {
        return bad_answer("the answer has no data[] of embeddings");
      }
      json::array vectors;
      for (const json::value& item : data->get_array()) {
        const json::value* e =
            item.is_object() ? item.get_object().if_contains("embedding") : nullptr;
        if (e == nullptr) return bad_answer("an element of data[] has no embedding");
        vectors.push_back(*e);
      }
      out.output = json::serialize(vectors);
      out.extension = "json";
      break;
    }
    case StepType::kImage: {
      const json::value* data = answer.if_contains("data");
      const json::value* first = data && data->is_array() && !data->get_array().empty()
                                     ? &data->get_array().front()
                                     : nullptr;
      const json::value* b64 =
          first && first->is_object() ? first->get_object().if_contains("b64_json") : nullptr;
      if (b64 == nullptr || !b64->is_string()) {
        return bad_answer("the answer has no data[0].b64_json");
      }
      auto bytes = base64_decode(b64->get_string());
      if (!bytes || bytes->empty()) return bad_answer("data[0].b64_json is not base64");
      out.extension = std::string(image_extension(*bytes));
      out.image = std::move(*bytes);
      break;
    }
  }
  return out;
}

std::string answer_error(int status, std::string_view body) {
  std::string out = "HTTP " + std::to_string(status);
  boost::system::error_code ec;
  json::value parsed = json::parse(body, ec);
  if (!ec && parsed.is_object()) {
    const json::value* error = parsed.get_object().if_contains("error");
    const json::value* message =
        error && error->is_object() ? error->get_object().if_contains("message") : nullptr;
    if (message != nullptr && message->is_string()) {
      return out + ": " + std::string(message->get_string());
    }
  }
  if (!body.empty()) out += ": " + std::string(body.substr(0, 200));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  namespace b64 = boost::beast::detail::base64;
  std::string out(b64::decoded_size(text.size()), '\0');
  auto [written, read] = b64::decode(out.data(), text.data(), text.size());
  // Beast's decoder stops at padding or at the first character outside the alphabet; only
  // padding may remain.
  std::string_view rest = text.substr(read);
  if (rest.size() > 2 || rest.find_first_not_of('=') != std::string_view::npos) return std::nullopt;
  out.resize(written);
  return out;
}

}  // namespace sluice::batch
