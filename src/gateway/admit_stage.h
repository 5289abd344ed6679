// Stage 5, "Admit" (DESIGN.md): whether this request may go on now, against the caller's key
// (allowed models, budget, requests in flight, rpm, tpm), its model's limits and the gateway's
// global ones. Every rpm is one GCRA charge of 1; every tpm a charge of the request's estimated
// tokens (its prompt, counted, plus max_tokens or limits.reserve_output_tokens, times n), which
// the record stage reconciles with the real usage. The charges are taken all or nothing.
//
// A refusal is answered here: 403 for a model the key may not use, 429 insufficient_quota for a
// spent budget, 429 rate_limit_exceeded (with Retry-After) for a limit, 503 when the distributed
// limiter is unreachable and configured to fail closed. Admitted answers carry OpenAI's
// x-ratelimit-* headers for the tightest request and token limits that apply.
//
// Thread safety: one per request, on its worker.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/container/small_vector.hpp>

#include <array>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/asio.h"
#include "gateway/admission.h"
#include "gateway/request_context.h"
#include "http/response_head.h"
#include "limit/limiter.h"
#include "limit/rate_headers.h"
#include "route/model_registry.h"

namespace sluice::gateway {

class AdmitStage {
 public:
  AdmitStage(RequestContext& ctx, const route::ModelRoute& route) : ctx_(ctx), route_(route) {}

  // Whether anything is to be decided (a key, or a model or global limit); when not, run() need
  // not be called, and a plain pass-through makes no coroutine frame for it.
  bool needed() const;
  // False when the request was refused (and answered).
  asio::awaitable<bool> run();

  // x-ratelimit-* for the answer (empty when no limit applies).
  std::span<const http::Header> headers() const { return headers_; }

 private:
  std::uint64_t estimate_tokens() const;
  void add_headers(std::span<const limit::Charge> charges, std::span<const limit::Decision> d);
  asio::awaitable<void> refuse(const core::Error& error, std::chrono::milliseconds retry_after);

  RequestContext& ctx_;
  const route::ModelRoute& route_;
  std::size_t request_charges_ = 0;  // charges before this index count requests, after it tokens
  // Copies `value` into text_ and returns the copy, which lives as long as this stage.
  std::string_view keep(std::string_view value);

  boost::container::small_vector<http::Header, 7> headers_;
  // The header values headers_ points to: four numbers (20 characters at most), two durations
  // and a Retry-After (a number), added in that order.
  std::array<char, 5 * 20 + 2 * limit::kMaxResetChars> text_;
  std::size_t text_used_ = 0;
};

}  // namespace sluice::gateway
