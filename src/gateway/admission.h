// A request's admission (stage 5) as the record stage settles it (stage 12): the token charges
// reserved against tpm limits and the key's request slot. It lives in the RequestContext, so it is
// settled and the slot given back however the request ends.
//
// Thread safety: one per request, on its worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include <boost/container/small_vector.hpp>

#include "limit/limiter.h"

namespace sluice::gateway {

// What the record stage needs of an admission: the token charges to reconcile and the request
// slot to give back. Lives in the RequestContext, so it ends with the request however it ends.
class Admission {
 public:
  Admission() = default;
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  ~Admission();

  // Settles the token reservation with what the request really used (`used` tokens, or nothing
  // known: then the estimate stands when the upstream answered, and is given back when it did
  // not). Only the first call counts.
  void settle(std::optional<std::uint64_t> used, bool upstream_answered);

  std::uint64_t reserved_tokens() const { return reserved_; }

 private:
  friend class AdmitStage;
  limit::Limiter* limiter_ = nullptr;
  // cost = reserved_. The names and buckets they view are the tenant's and the runtime's, which
  // the RequestContext holds for longer than it holds this. Inline: at most three (key, model,
  // global), and a heap vector cost three allocations a request as it grew.
  boost::container::small_vector<limit::Charge, 3> token_charges_;
  std::uint64_t reserved_ = 0;
  std::atomic<int>* in_flight_ = nullptr;  // the key's slot, when it has max_concurrency
  bool settled_ = false;
};

}  // namespace sluice::gateway
