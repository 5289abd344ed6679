// POST /v1/completions (the legacy text completion API): one text_completion body, or
// text_completion chunks. Several prompts give n choices each, numbered prompt * n + choice as
// OpenAI numbers them.
#include <boost/json.hpp>

#include "mock/handlers.h"
#include "mock/params.h"
#include "mock/text.h"

namespace sluice::mock {

namespace {

// Bounds the answer to a request with many prompts, each of which gets n choices.
constexpr std::size_t kMaxChoices = 128;

struct TextChoice {
  std::vector<std::string> tokens;
  std::string_view finish_reason;
};

struct TextAnswer {
  std::string id;
  std::int64_t created = 0;
  std::string_view model;
  std::vector<TextChoice> choices;
  std::size_t prompt_tokens = 0;
  std::size_t completion_tokens = 0;

  json::object envelope() const {
    json::object obj;
    obj["id"] = id;
    obj["object"] = "text_completion";
    obj["created"] = created;
    obj["model"] = model;
    return obj;
  }

  json::object usage() const {
    return usage_object(static_cast<std::int64_t>(prompt_tokens),
                        static_cast<std::int64_t>(completion_tokens));
  }
};

json::object choice_object(std::string text, std::size_t index, json::value finish_reason) {
  json::object choice;
  choice["text"] = std::move(text);
  choice["index"] = index;
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = std::move(finish_reason);
  return choice;
}

std::string whole_body(const TextAnswer& a) {
  json::array choices;
  for (std::size_t i = 0; i < a.choices.size(); ++i) {
    std::string text;
    for (const std::string& t : a.choices[i].tokens) text += t;
    choices.push_back(choice_object(std::move(text), i, json::string(a.choices[i].finish_reason)));
  }
  json::object body = a.envelope();
  body["choices"] = std::move(choices);
  body["usage"] = a.usage();
  body["system_fingerprint"] = kSystemFingerprint;
  return json::serialize(body);
}

Reply stream_reply(const TextAnswer& a, bool include_usage) {
  json::object envelope = a.envelope();
  envelope["system_fingerprint"] = kSystemFingerprint;
  auto event = [&](json::object choice) {
    json::object chunk = envelope;
    chunk["choices"] = json::array{std::move(choice)};
    if (include_usage) chunk["usage"] = nullptr;
    return sse_event(chunk);
  };
  std::vector<std::vector<std::string>> per_choice(a.choices.size());
  for (std::size_t i = 0; i < a.choices.size(); ++i) {
    for (const std::string& t : a.choices[i].tokens) {
      per_choice[i].push_back(event(choice_object(t, i, nullptr)));
    }
    // The last chunk of a choice carries no text, only why it ended.
    per_choice[i].push_back(event(choice_object("", i, json::string(a.choices[i].finish_reason))));
  }
  Reply r;
  r.stream = true;
  r.content_type = kEventStreamType;
  r.events = interleave(std::move(per_choice));
  if (include_usage) {
    json::object chunk = envelope;
    chunk["choices"] = json::array();
    chunk["usage"] = a.usage();
    r.events.push_back(sse_event(chunk));
  }
  r.events.emplace_back(kDoneEvent);
  return r;
}

}  // namespace

core::Result<Reply> completions(const Call& call) {
  const json::object& req = call.request;
  auto model = required_string(req, "model");
  if (!model) return model.error();
  auto prompts = read_text_inputs(req, "prompt", /*allow_empty_text=*/true);
  if (!prompts) return prompts.error();
  auto params = read_generation_params(req, /*chat=*/false);
  if (!params) return params.error();

  if (prompts->size() * static_cast<std::size_t>(params->n) > kMaxChoices) {
    return invalid_param("Too many choices: " + std::to_string(prompts->size()) +
                             " prompts times n=" + std::to_string(params->n) +
                             " exceeds the mock's limit of " + std::to_string(kMaxChoices) + ".",
                         "prompt");
  }

  TextAnswer a;
  a.id = "cmpl-" + hex64(request_seed(*model, json::serialize(req.at("prompt")), *params));
  a.created = call.created;
  a.model = *model;
  for (const TextInput& prompt : *prompts) {
    a.prompt_tokens += prompt.tokens;
    std::uint64_t base = request_seed(*model, prompt.seed_key(), *params);
    for (int i = 0; i < params->n; ++i) {
      std::uint64_t seed = choice_seed(base, i);
      AnswerLength len = answer_length(seed, call.forced_tokens, params->max_tokens, call.settings);
      a.choices.push_back(TextChoice{answer_words(seed, len.tokens), len.finish_reason});
      a.completion_tokens += a.choices.back().tokens.size();
    }
  }
  if (params->stream) return stream_reply(a, params->include_usage);
  Reply r;
  r.body = whole_body(a);
  return r;
}

}  // namespace sluice::mock
