#include "gateway/token_estimate.h"

namespace sluice::gateway {

std::uint64_t prompt_tokens(const RequestContext& ctx) {
  // Until the tokenizer lands: four bytes per token, rounded up.
  return (ctx.request.prompt_bytes + 3) / 4;
}

}  // namespace sluice::gateway
