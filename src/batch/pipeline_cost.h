// What a pipeline's steps cost: the price of a step's model, for the manifest's per-step cost,
// and the dry run's estimate (`sluice run --dry-run`) made before anything is sent.
//
// A model is priced as the configuration prices it: the model entry its name selects (an exact
// name, else the longest matching pattern), its first deployment of the lowest priority, and
// that deployment's `*_cost_per_mtok` (which the loader fills with config::list_price when the
// file leaves them out, so a configured model priced at 0 is free). A name no model entry
// matches (a remote gateway's, with --url) takes config::list_price, or has no known price.
//
// The estimate counts prompt tokens with the tokenizer (tokenizer/prompt_tokens.h, exact for
// OpenAI's encodings) on the prompts rendered from the inputs. What is not known before the run
// is estimated: an earlier step's output as that step's completion estimate, an item of a list
// that an earlier step produces as kUnknownItemTokens, and the completion as the step's
// max_tokens (or max_completion_tokens) or kDefaultCompletionTokens. Embeddings have no
// completion; images are priced per image, not per token, and are left out of the total.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "batch/pipeline_plan.h"
#include "config/config.h"
#include "config/prices.h"

namespace sluice::batch {

inline constexpr std::int64_t kDefaultCompletionTokens = 256;
inline constexpr std::int64_t kUnknownItemTokens = 16;

// The price of `model` (a name as a step writes it) in `config`; nullopt when none is known.
std::optional<config::Price> model_price(const config::Config& config, std::string_view model);

// USD for the tokens at `price`.
double cost_usd(const config::Price& price, std::int64_t prompt_tokens,
                std::int64_t completion_tokens);

// Tokens and cost are totals over every call when the number of calls is known, and per call
// when it is not (a foreach over a list an earlier step produces).
struct StepEstimate {
  std::optional<std::size_t> calls;  // requests; nullopt when not known before the run
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  bool exact_tokens = false;  // the prompts were tokenized exactly: no unknowns, a known encoding
  std::optional<double> cost_usd;  // nullopt: no price (an image step, a model with none known)
};

struct CostEstimate {
  std::vector<StepEstimate> steps;  // parallel to the plan's steps
  double known_usd = 0;             // the steps with a price and a known number of calls
};

CostEstimate estimate_cost(const Plan& plan, const config::Config& config);

}  // namespace sluice::batch
