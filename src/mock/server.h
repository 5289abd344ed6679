// `sluice mock`: the simulated model (engine.h) behind its own HTTP server, speaking the OpenAI
// API with the engine's pacing and injected faults, plus what tests need to observe it:
//   GET  /mock/stats  -> {"requests":N,"in_flight":N,"completed":N,"cancelled":N,"faults":N,...}
//   POST /mock/reset  -> zeroes the counters
// "cancelled" counts requests whose client (usually the gateway) went away before the answer was
// complete: the proof that a client disconnect reaches the upstream.
//
// Thread safety: one MockServer per worker; MockStats and the Engine are shared and atomic.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "http/server.h"
#include "mock/engine.h"

namespace sluice::mock {

struct MockStats {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> in_flight{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> cancelled{0};
  std::atomic<std::uint64_t> faults{0};
  std::array<std::atomic<std::uint64_t>, 4> by_endpoint{};

  std::string to_json() const;
  void reset();
};

class MockServer final : public http::WorkerHandler {
 public:
  MockServer(std::shared_ptr<const Engine> engine, std::shared_ptr<MockStats> stats);

  asio::awaitable<void> handle(http::ServerSession& session) override;
  http::ErrorPage render_error(const core::Error& error) override;

 private:
  asio::awaitable<void> serve_inference(http::ServerSession& session, api::Endpoint endpoint);
  asio::awaitable<bool> play(http::ServerSession& session, Reply& reply);

  std::shared_ptr<const Engine> engine_;
  std::shared_ptr<MockStats> stats_;
  std::string models_body_;
};

}  // namespace sluice::mock
