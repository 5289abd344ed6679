#include "mock/engine.h"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "api/errors.h"
#include "core/asio.h"
#include "mock/handlers.h"
#include "mock/params.h"
#include "mock/text.h"

namespace sluice::mock {

using core::Errc;

namespace {

// Pacing slower than one token an hour is indistinguishable from a hang; the clamp also keeps
// 1000 / tps finite for absurdly small rates.
constexpr double kMaxIntervalMs = 3'600'000;

std::int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

Reply error_reply(const core::Error& e) {
  Reply r;
  r.status = api::http_status(e);
  r.body = api::error_body(e);
  return r;
}

Reply injected_error(int status, std::string message, const Faults& faults) {
  core::Error e(Errc::kUpstreamError, std::move(message));
  e.status = status;
  Reply r = error_reply(e);
  if (faults.retry_after >= 0)
    r.headers.emplace_back("retry-after", std::to_string(faults.retry_after));
  return r;
}

core::Result<Reply> build(api::Endpoint endpoint, std::string_view body, const Faults& faults,
                          const config::MockSettings& settings) {
  auto parsed = parse_body(body);
  if (!parsed) return parsed.error();
  Call call{parsed->get_object(), settings, faults.tokens, unix_now()};
  switch (endpoint) {
    case api::Endpoint::kChatCompletions:
      return chat_completions(call);
    case api::Endpoint::kCompletions:
      return completions(call);
    case api::Endpoint::kEmbeddings:
      return embeddings(call);
    case api::Endpoint::kImageGenerations:
      return image_generations(call);
  }
  return core::fail(Errc::kNotFound, "mock: unsupported endpoint");
}

// Pacing and connection faults describe how the Reply is delivered, so they apply to every
// answer, errors included.
void apply_pacing(Reply& r, const Faults& faults, const config::MockSettings& settings) {
  r.first_delay = faults.delay.value_or(settings.first_token_delay);
  double tps = faults.tokens_per_second.value_or(settings.tokens_per_second);
  if (tps > 0) {
    double ms = std::min(1000.0 / tps, kMaxIntervalMs);
    r.event_interval = Duration(std::llround(ms));
  }
  r.cut_after = faults.cut_after;
  r.hang = faults.hang;
}

}  // namespace

Engine::Engine(config::MockSettings settings) : settings_(std::move(settings)) {}

Reply Engine::respond(api::Endpoint endpoint, std::string_view body, const Faults& faults) const {
  Reply reply;
  if (faults.status >= 400) {
    reply = injected_error(faults.status, "mock: injected HTTP " + std::to_string(faults.status),
                           faults);
  } else if (auto built = build(endpoint, body, faults, settings_); !built) {
    reply = error_reply(built.error());
  } else if (next_is_fault()) {
    reply = injected_error(500, "mock: injected fault (fault_rate)", faults);
  } else {
    reply = std::move(*built);
  }
  apply_pacing(reply, faults, settings_);
  return reply;
}

bool Engine::next_is_fault() const {
  // No counter traffic at all when faults are off: every worker shares this cache line.
  if (settings_.fault_rate <= 0) return false;
  std::uint64_t n = sequence_.fetch_add(1, std::memory_order_relaxed);
  Rng draw(splitmix64(settings_.seed + n));
  return draw.unit() < settings_.fault_rate;
}

std::vector<std::string> Engine::default_models() {
  return {"mock", "mock-embedding", "mock-image"};
}

namespace detail {

std::optional<long long> parse_int(std::string_view v) {
  long long out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return out;
}

std::optional<double> parse_double(std::string_view v) {
  double out = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  // from_chars accepts "inf" and "nan"; neither is a usable header value.
  if (!std::isfinite(out)) return std::nullopt;
  return out;
}

}  // namespace detail

}  // namespace sluice::mock
