// The prompt tokens of a request, for token reservations (stage 5): counted exactly with the
// model's tokenizer when it (or its first deployment's upstream name) is an OpenAI model, else
// estimated at four bytes a token (src/tokenizer/). Only requests under a tpm limit pay for it:
// the body is parsed again here, for its prompt member.
//
// Thread safety: runs on the request's worker; the tokenizer tables are shared and immutable.
#pragma once

#include <cstdint>

#include "gateway/request_context.h"

namespace sluice::gateway {

std::uint64_t prompt_tokens(const RequestContext& ctx);

}  // namespace sluice::gateway
