// usage and cost: strategies that prefer members by one score (headroom against the provider's
// rate limits; price), then spread among the equally preferred with p2c-ewma, so that several
// members of the same price or the same spare capacity share the traffic by latency and load
// instead of the lowest index taking it all.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

#include "route/balancer_strategies.h"

namespace sluice::route::detail {

namespace {

// Headroom against rpm / tpm: the smallest 1 - used / limit over the limits the member has (1
// for a member without limits; below 0 past a limit). Usage is recorded as each attempt is sent
// (its tokens estimated), so members within one percentage point of the best count as equal and
// p2c-ewma, which sees what is in flight, spreads a burst among them instead of sending it all
// to the one a hair ahead.
struct Headroom {
  static constexpr double kBand = 0.01;
  double operator()(const Member& m, core::Clock::time_point now) const {
    if (m.rpm == 0 && m.tpm == 0) return 1;  // no lock taken for members without limits
    const DeploymentLoad::Usage used = m.load->usage(now);
    double headroom = 1;
    if (m.rpm > 0) headroom = std::min(headroom, 1 - used.requests / static_cast<double>(m.rpm));
    if (m.tpm > 0) headroom = std::min(headroom, 1 - used.tokens / static_cast<double>(m.tpm));
    return headroom;
  }
};

// Cheaper is better. A request's mix of input and output tokens is unknown when it is routed, so
// the two prices count alike. Equal prices are equal up to rounding.
struct Cheapness {
  static constexpr double kBand = 1e-9;  // USD per million tokens
  double operator()(const Member& m, core::Clock::time_point) const {
    return -(m.input_cost_per_mtok + m.output_cost_per_mtok);
  }
};

template <typename Score>
class PreferThenP2c final : public Balancer {
 public:
  PreferThenP2c(std::span<const Member> members, Rng& rng) : members_(members), rng_(rng) {
    // Sized once, so a pick allocates nothing.
    scores_.resize(members.size());
    candidates_.reserve(members.size());
  }

  std::uint32_t pick(std::span<const std::uint32_t> eligible, const PickContext& ctx) override {
    if (eligible.size() == 1) return eligible.front();
    double best = -std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < eligible.size(); ++k) {
      scores_[k] = score_(members_[eligible[k]], ctx.now);
      best = std::max(best, scores_[k]);
    }
    candidates_.clear();
    for (std::size_t k = 0; k < eligible.size(); ++k) {
      if (scores_[k] >= best - Score::kBand) candidates_.push_back(eligible[k]);
    }
    return pick_p2c_ewma(members_, candidates_, ctx.now, rng_);
  }

 private:
  std::span<const Member> members_;
  Rng& rng_;
  Score score_;
  std::vector<double> scores_;             // by position in `eligible`
  std::vector<std::uint32_t> candidates_;  // member indexes within kBand of the best
};

}  // namespace

std::unique_ptr<Balancer> make_most_headroom(std::span<const Member> members, Rng& rng) {
  return std::make_unique<PreferThenP2c<Headroom>>(members, rng);
}

std::unique_ptr<Balancer> make_cheapest(std::span<const Member> members, Rng& rng) {
  return std::make_unique<PreferThenP2c<Cheapness>>(members, rng);
}

}  // namespace sluice::route::detail
