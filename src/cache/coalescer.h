// Coalescing of identical requests in flight (docs/caching.md, "Coalescing"): while one request
// is being answered by the upstream, requests with the same cache key join it instead of
// calling the upstream again, and all of them get the same answer.
//
// A Flight is that one upstream call as its joiners see it. The request that started it (the
// leader) publishes into it as the answer arrives: the head, each batch of stream events, the
// whole answer, or the failure. Joiners, on any worker, subscribe and are woken on their own
// worker whenever something new was published; they copy what they need under the flight's
// lock and write it to their own client outside it. A stream joiner thus gets the events
// already produced, then the live ones.
//
// The leader's client leaving does not end the call while joiners wait: the leader keeps
// publishing without writing to its client, and the call is cancelled only when nobody is left
// (Flight::release_leader and unsubscribe decide that together).
//
// Thread safety: the Coalescer and every Flight may be used from all workers at once. Each
// Flight has one lock; the table has one lock per shard, held only to find, add or remove.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "cache/entry.h"
#include "cache/stream_assembly.h"
#include "core/asio.h"
#include "core/error.h"

namespace sluice::cache {

class Flight : public std::enable_shared_from_this<Flight> {
 public:
  enum class Outcome { kRunning, kComplete, kFailed };

  // What a joiner sees at one moment.
  struct View {
    Outcome outcome = Outcome::kRunning;
    bool head = false;    // the head is known (a stream has started, or the answer is complete)
    bool events = false;  // `data` is an event stream (else the whole answer's body)
    int status = 0;
    std::string content_type;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string data;   // stream events from the joiner's offset, or the whole answer body
    core::Error error;  // when failed
    bool stream_started = false;  // failed after stream events were published
  };

  // `max_bytes` bounds what a joiner may still catch up on: past it, the flight takes no more
  // joiners (those already in get everything).
  Flight(bool stream, std::size_t max_bytes) : stream_(stream), max_bytes_(max_bytes) {}

  // Whether the leader's upstream call streams (its answer is an event stream).
  bool stream() const { return stream_; }

  // --- the leader, on its worker ---

  // The stream's head, before its first events.
  void publish_head(int status, std::vector<std::pair<std::string, std::string>> headers);
  void publish_events(std::string_view events);
  // The stream ended cleanly.
  void publish_stream_end();
  // A whole answer (success or an upstream error answer).
  void publish_reply(int status, std::string_view content_type, std::string_view body,
                     const std::vector<std::pair<std::string, std::string>>& headers);
  void publish_failure(core::Error error);

  // The leader's client left. Returns true when joiners are waiting: the call goes on for them,
  // and `cancel`, posted to `executor` (the leader's worker), ends it once the last of them has
  // left. Returns false when nobody is waiting: the caller cancels the call itself.
  bool release_leader(asio::any_io_executor executor, std::function<void()> cancel);
  // The leader's call ended (on the leader's worker): a released leader's canceller is dropped.
  void end_leader_call();

  // --- joiners, on their own workers ---

  struct Subscription;
  // Subscribes a joiner that waits on `executor`; nullptr when the flight takes no more joiners
  // (its call is being cancelled, or it grew past max_bytes). A flight that already ended can
  // still be joined: its answer is all there.
  std::shared_ptr<Subscription> subscribe(asio::any_io_executor executor);
  void unsubscribe(const std::shared_ptr<Subscription>& s);
  // Copies what `s` has not seen yet (stream data from its offset) and advances it.
  View view(Subscription& s);
  // Waits until something new was published (returns at once if it already was).
  asio::awaitable<void> wait(Subscription& s);

  // The complete answer's usage (what a joiner saved). Parsed on the first call, by a joiner:
  // a flight nobody joined never pays for it.
  Usage usage();

  std::size_t subscribers() const;
  std::size_t bytes() const;

 private:
  void wake_all();  // with mu_ held

  const bool stream_;
  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  Outcome outcome_ = Outcome::kRunning;
  bool head_ = false;
  bool events_ = false;
  int status_ = 0;
  std::string content_type_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string data_;
  core::Error error_;
  std::optional<Usage> usage_;
  bool refuse_joiners_ = false;
  bool leader_gone_ = false;
  std::vector<std::shared_ptr<Subscription>> subscribers_;
  asio::any_io_executor leader_executor_;
  std::function<void()> cancel_;
};

struct Flight::Subscription {
  explicit Subscription(asio::any_io_executor executor) : timer(std::move(executor)) {}
  asio::steady_timer timer;  // waited on by the joiner; cancelled (on its executor) to wake it
  std::size_t offset = 0;    // stream bytes already taken
  bool pending = false;      // something was published since the last view (under mu_)
};

class Coalescer {
 public:
  // Flights keep at most `max_flight_bytes` for joiners to catch up on.
  explicit Coalescer(std::size_t max_flight_bytes) : max_flight_bytes_(max_flight_bytes) {}

  struct Joined {
    std::shared_ptr<Flight> flight;
    bool leader = false;  // the caller must run the call and publish into `flight`
  };
  // The flight for `key`: the one in progress (to join), or a new one the caller leads.
  Joined join_or_lead(const Key& key, bool stream);
  // The leader's call ended: later requests with this key start a new flight.
  void finish(const Key& key, const Flight& flight);

  // A request was answered by joining a flight; `usage` is what its own call would have cost.
  void count_joined(const Usage& usage);
  // The coalescing part of GET /admin/cache.
  json::object stats() const;

 private:
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<Key, std::shared_ptr<Flight>, KeyHash> flights;
  };
  Shard& shard(const Key& key) { return shards_[key.high % shards_.size()]; }

  const std::size_t max_flight_bytes_;
  std::array<Shard, 32> shards_;
  std::atomic<std::uint64_t> joined_{0};
  std::atomic<std::uint64_t> prompt_tokens_{0};
  std::atomic<std::uint64_t> completion_tokens_{0};
};

}  // namespace sluice::cache
