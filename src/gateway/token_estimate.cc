#include "gateway/token_estimate.h"

#include <xxhash.h>

#include <boost/json.hpp>

#include "api/json_scan.h"
#include "core/asio.h"
#include "gateway/worker_state.h"
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

// Exact tokens of the prompt value `text` (validated JSON).
std::uint64_t count_exact(std::string_view model, std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return tokenizer::estimate(text);
  if (v.is_array() && !v.as_array().empty() && v.as_array().front().is_object()) {
    return tokenizer::count_prompt_tokens(model, v.as_array()).tokens;  // chat messages
  }
  return count_value(model, v);
}

}  // namespace

std::uint64_t prompt_tokens(const RequestContext& ctx) {
  const api::InferenceRequest& r = ctx.request;
  if (r.prompt_begin == 0) return 0;
  std::string_view model = counting_model(ctx);
  auto encoding = tokenizer::encoding_for_model(model);
  if (!encoding) return tokenizer::estimate_bytes(r.prompt_bytes);
  // prompt_begin is just after the member's name: past the colon is the value.
  std::size_t begin = r.body.find(':', r.prompt_begin);
  std::size_t end = begin == std::string_view::npos ? begin
                    : r.prompt_end > begin          ? r.prompt_end
                                                    : api::json_value_end(r.body, begin + 1);
  if (end == std::string_view::npos) return tokenizer::estimate_bytes(r.prompt_bytes);
  std::string_view text = r.body.substr(begin + 1, end - begin - 1);
  std::uint64_t hash =
      XXH3_64bits_withSeed(text.data(), text.size(), static_cast<std::uint64_t>(*encoding) + 1);
  PromptTokenMemo& memo = ctx.worker.prompt_tokens;
  if (std::int64_t known = memo.find(hash); known >= 0) return static_cast<std::uint64_t>(known);
  std::uint64_t tokens = count_exact(model, text);
  memo.insert(hash, tokens);
  return tokens;
}

}  // namespace sluice::gateway
