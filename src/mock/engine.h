// The simulated OpenAI-compatible model behind `kind: mock` providers and `sluice mock`.
//
// Engine::respond turns one request into a Reply: the status, the body or the SSE events, and the
// pacing and faults to apply while delivering it. The Engine does no I/O and never sleeps; the
// in-process provider (provider/mock_provider.h) and the HTTP server (mock/server.h) play the
// Reply with their own timers, so both behave identically.
//
// Output is derived deterministically from the request (the same messages, model and parameters
// give the same text, embeddings and images), and `usage` counts what was really produced: one
// completion token per streamed text word or tool-argument fragment, and prompt tokens by the
// approximation in mock/text.h (count_tokens) plus OpenAI's per-message framing.
//
// Thread safety: respond() is const apart from an atomic request counter and may be called from
// any number of threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/endpoint.h"
#include "config/config.h"

namespace sluice::mock {

using Duration = std::chrono::milliseconds;

// Per-request fault and pacing overrides, read from request headers (names are
// case-insensitive):
//   x-mock-status: N            answer with HTTP status N (400..599; lower values are
//                               ignored) and an OpenAI-shaped error body, even when the
//                               request itself is invalid
//   x-mock-retry-after: S       add "retry-after: S" to that error answer
//   x-mock-cut-after: K         streams: send K events, then drop the connection without
//                               ending the stream; non-stream: send the headers and half the
//                               body, then drop the connection
//   x-mock-hang: 1              accept the request and never answer
//   x-mock-delay-ms: N          wait N ms before the first byte
//   x-mock-tokens-per-second: R pace stream tokens at R per second
//   x-mock-tokens: N            produce exactly N completion tokens (ignores max_tokens;
//                               text answers only, not tool calls)
// Delay, pacing, cut and hang describe how a Reply is delivered and apply to every Reply,
// errors included. MockSettings::fault_rate only ever replaces a valid request's answer.
// `sluice mock` can also hold defaults for these (POST /mock/faults, mock/fault_defaults.h);
// a header that is present and parses replaces its default, so e.g. `x-mock-status: 200` or
// `x-mock-hang: 0` turns a default off for one request.
struct Faults {
  int status = 0;
  int retry_after = -1;
  int cut_after = -1;
  bool hang = false;
  std::optional<Duration> delay;
  std::optional<double> tokens_per_second;
  std::optional<int> tokens;

  // Reads the headers through `get(name)`, which returns the value or an empty view, over
  // `defaults`: each header that is present and parses replaces its field. Unparseable values
  // are ignored (the default stays).
  template <class Getter>
  static Faults from_headers(Getter&& get, const Faults& defaults = {});

  bool operator==(const Faults&) const = default;
};

// One answer, ready to be played.
struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers, e.g. retry-after
  bool stream = false;
  std::string body;                 // when !stream: the whole body
  std::vector<std::string> events;  // when stream: complete SSE events, each ending in "\n\n"
  Duration first_delay{0};          // before the first byte
  Duration event_interval{0};       // between two stream events that carry tokens
  int cut_after = -1;               // see Faults::cut_after; -1 means no cut
  bool hang = false;
};

class Engine {
 public:
  explicit Engine(config::MockSettings settings);

  // Builds the answer to one request. `body` is the raw JSON request body. Invalid requests get
  // a 400 Reply with an OpenAI-shaped error, as the real API does.
  Reply respond(api::Endpoint endpoint, std::string_view body, const Faults& faults) const;

  // The models the mock lists on GET /v1/models when no configuration names them.
  static std::vector<std::string> default_models();

  const config::MockSettings& settings() const { return settings_; }

 private:
  bool next_is_fault() const;

  config::MockSettings settings_;
  mutable std::atomic<std::uint64_t> sequence_{0};
};

// --- implementation of the header template ---

namespace detail {
std::optional<long long> parse_int(std::string_view v);
std::optional<double> parse_double(std::string_view v);
}  // namespace detail

template <class Getter>
Faults Faults::from_headers(Getter&& get, const Faults& defaults) {
  Faults f = defaults;
  if (auto v = detail::parse_int(get("x-mock-status")); v && *v >= 100 && *v <= 599) {
    f.status = static_cast<int>(*v);
  }
  if (auto v = detail::parse_int(get("x-mock-retry-after")); v && *v >= 0) {
    f.retry_after = static_cast<int>(*v);
  }
  if (auto v = detail::parse_int(get("x-mock-cut-after")); v && *v >= 0) {
    f.cut_after = static_cast<int>(*v);
  }
  if (std::string_view hang = get("x-mock-hang"); !hang.empty()) {
    f.hang = hang != "0" && hang != "false";
  }
  if (auto v = detail::parse_int(get("x-mock-delay-ms")); v && *v >= 0) f.delay = Duration(*v);
  if (auto v = detail::parse_double(get("x-mock-tokens-per-second")); v && *v > 0) {
    f.tokens_per_second = *v;
  }
  if (auto v = detail::parse_int(get("x-mock-tokens")); v && *v >= 0 && *v <= 100000) {
    f.tokens = static_cast<int>(*v);
  }
  return f;
}

}  // namespace sluice::mock
