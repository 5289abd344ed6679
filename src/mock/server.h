// `sluice mock`: the simulated model (engine.h) behind its own HTTP server, speaking the OpenAI
// API with the engine's pacing and injected faults, plus what tests need to observe it:
//   GET  /mock/stats  -> {"requests":N,"in_flight":N,"completed":N,"cancelled":N,"faults":N,...}
//   POST /mock/reset  -> zeroes the counters
//   POST /mock/faults -> sets the faults every later request gets unless its own x-mock-*
//                        headers say otherwise (JSON form in mock/fault_defaults.h; {} clears
//                        them); answers with the new set, or 400 for a bad body
//   GET  /mock/faults -> the faults set now
// "cancelled" counts requests whose client (usually the gateway) went away before the answer was
// complete: the proof that a client disconnect reaches the upstream. The faults let a test make
// one upstream fail and recover while it keeps running; /mock/reset leaves them alone.
//
// Thread safety: one MockServer per worker; MockStats, FaultDefaults and the Engine are shared
// and thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "http/server.h"
#include "mock/engine.h"
#include "mock/fault_defaults.h"

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
  MockServer(std::shared_ptr<const Engine> engine, std::shared_ptr<MockStats> stats,
             std::shared_ptr<FaultDefaults> faults);

  asio::awaitable<void> handle(http::ServerSession& session) override;
  http::ErrorPage render_error(const core::Error& error) override;

 private:
  asio::awaitable<void> serve_inference(http::ServerSession& session, api::Endpoint endpoint);
  asio::awaitable<bool> play(http::ServerSession& session, Reply& reply);
  asio::awaitable<void> set_faults(http::ServerSession& session);

  std::shared_ptr<const Engine> engine_;
  std::shared_ptr<MockStats> stats_;
  std::shared_ptr<FaultDefaults> faults_;
  std::string models_body_;
};

}  // namespace sluice::mock
