// Stage 7 of the pipeline: joining an identical request already in flight, or leading one that
// later identical requests may join (cache/coalescer.h has the mechanism).
//
// The pipeline calls join() after the cache lookup missed. A joiner is answered from the flight
// in the form it asked for (live stream events, the whole answer, or the answer converted), with
// x-sluice-cache: coalesced. A leader runs the upstream call as usual and publishes into the
// flight: the stream's head and events (through the sink), then the outcome; finish() ends the
// flight after the answer was stored in the cache, so an identical request that comes a moment
// later finds the entry instead of calling upstream again.
//
// Thread safety: one per request, on its worker; the flight it shares is thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>

#include "cache/cache_key.h"
#include "cache/coalescer.h"
#include "core/asio.h"
#include "gateway/request_context.h"
#include "provider/provider.h"

namespace sluice::gateway {

class CoalesceStage {
 public:
  // `key` is the request's cache key, or null when coalescing does not apply.
  CoalesceStage(RequestContext& ctx, const cache::KeyInfo* key);
  ~CoalesceStage();

  // True when the request was answered by joining a flight (or its client left meanwhile).
  asio::awaitable<bool> join();
  bool leading() const { return flight_ != nullptr && leading_; }

  // --- the leader ---

  // After the upstream call: joiners can no longer cancel it.
  void end_call();
  // Whether the call should go on after the leader's client left (someone else waits for it).
  bool keep_going_without_client();
  // Stream batches, as the sink sees them.
  void publish_events(const provider::Exchange& head, std::string_view events, bool first);
  // The call's outcome, before the leader answers its own client.
  void publish_outcome(const provider::Exchange& exchange);
  // After the answer was stored: later requests no longer join this flight.
  void finish();

  // The session's hook for the leader's client leaving (http::ServerSession::watch_client).
  static void on_client_gone(void* self);

 private:
  asio::awaitable<bool> serve_joined(std::shared_ptr<cache::Flight::Subscription> sub);

  RequestContext& ctx_;
  const cache::KeyInfo* key_;
  std::shared_ptr<cache::Flight> flight_;
  bool leading_ = false;
  bool published_ = false;
  bool released_ = false;  // the leader's client left while the call was in progress
  bool finished_ = false;
};

}  // namespace sluice::gateway
