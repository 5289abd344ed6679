#include "gateway/token_estimate.h"

#include <boost/json.hpp>

#include "core/asio.h"
#include "route/model_registry.h"
#include "tokenizer/encoding.h"
#include "tokenizer/prompt_tokens.h"

namespace sluice::gateway {

namespace {

// The name whose tokenizer counts: the client's model when it is a known OpenAI name, else what
// the model's first deployment is called upstream (an alias such as "fast" for "gpt-4o-mini").
std::string_view counting_model(const RequestContext& ctx) {
  if (tokenizer::encoding_for_model(ctx.model)) return ctx.model;
  if (ctx.route != nullptr && !ctx.route->deployments.empty() &&
      !ctx.route->deployments.front().model.empty()) {
    return ctx.route->deployments.front().model;
  }
  return ctx.model;
}

std::uint64_t count_value(std::string_view model, const json::value& v) {
  if (v.is_string()) return tokenizer::count_prompt_tokens(model, v.as_string()).tokens;
  std::uint64_t n = 0;
  if (v.is_array()) {
    for (const json::value& item : v.as_array()) {
      if (item.is_string()) n += tokenizer::count_prompt_tokens(model, item.as_string()).tokens;
      // Token-id prompts ([1, 2, 3] or [[1, 2], [3]]) are their own count.
      if (item.is_number()) ++n;
      if (item.is_array()) n += item.as_array().size();
    }
  }
  return n;
}

}  // namespace

std::uint64_t prompt_tokens(const RequestContext& ctx) {
  const api::InferenceRequest& r = ctx.request;
  if (r.prompt_begin == 0) return 0;
  std::string_view model = counting_model(ctx);
  if (!tokenizer::encoding_for_model(model)) return tokenizer::estimate_bytes(r.prompt_bytes);
  // The body was validated by stage 4; only the prompt member is read here.
  boost::system::error_code ec;
  json::value doc = json::parse(r.body, ec);
  if (ec || !doc.is_object()) return tokenizer::estimate_bytes(r.prompt_bytes);
  const json::object& o = doc.as_object();
  if (const json::value* messages = o.if_contains("messages"); messages && messages->is_array()) {
    return tokenizer::count_prompt_tokens(model, messages->as_array()).tokens;
  }
  for (std::string_view name : {"prompt", "input"}) {
    if (const json::value* v = o.if_contains(name)) return count_value(model, *v);
  }
  return 0;
}

}  // namespace sluice::gateway
