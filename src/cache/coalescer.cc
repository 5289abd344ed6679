#include "cache/coalescer.h"

#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sluice::cache {

void Flight::publish_head(int status, std::vector<std::pair<std::string, std::string>> headers) {
  std::lock_guard lock(mu_);
  head_ = true;
  events_ = true;
  status_ = status;
  content_type_ = "text/event-stream";
  headers_ = std::move(headers);
  wake_all();
}

void Flight::publish_events(std::string_view events) {
  std::lock_guard lock(mu_);
  data_.append(events);
  if (data_.size() > max_bytes_) refuse_joiners_ = true;
  wake_all();
}

void Flight::publish_stream_end() {
  std::lock_guard lock(mu_);
  outcome_ = Outcome::kComplete;
  wake_all();
}

void Flight::publish_reply(int status, std::string_view content_type, std::string_view body,
                           const std::vector<std::pair<std::string, std::string>>& headers) {
  std::lock_guard lock(mu_);
  if (subscribers_.empty()) {
    // Nobody to give it to: joining closes instead of copying the answer (a request arriving in
    // the moment before the flight ends calls the upstream itself).
    outcome_ = Outcome::kComplete;
    refuse_joiners_ = true;
    return;
  }
  outcome_ = Outcome::kComplete;
  head_ = true;
  events_ = false;
  status_ = status;
  content_type_ = content_type;
  headers_ = headers;
  data_ = body;
  wake_all();
}

void Flight::publish_failure(core::Error error) {
  std::lock_guard lock(mu_);
  outcome_ = Outcome::kFailed;
  error_ = std::move(error);
  wake_all();
}

bool Flight::release_leader(asio::any_io_executor executor, std::function<void()> cancel) {
  std::lock_guard lock(mu_);
  if (leader_gone_) return !refuse_joiners_;  // released before (the hook, then a failed write)
  leader_gone_ = true;
  if (subscribers_.empty()) {
    refuse_joiners_ = true;  // about to be cancelled: nobody may join a call that is going away
    return false;
  }
  leader_executor_ = std::move(executor);
  cancel_ = std::move(cancel);
  return true;
}

void Flight::end_leader_call() {
  std::lock_guard lock(mu_);
  cancel_ = nullptr;
}

std::shared_ptr<Flight::Subscription> Flight::subscribe(asio::any_io_executor executor) {
  std::lock_guard lock(mu_);
  if (refuse_joiners_) return nullptr;
  auto s = std::make_shared<Subscription>(std::move(executor));
  s->pending = true;  // the first view shows what was published before it joined
  subscribers_.push_back(s);
  return s;
}

void Flight::unsubscribe(const std::shared_ptr<Subscription>& s) {
  std::function<void()> cancel;
  asio::any_io_executor executor;
  {
    std::lock_guard lock(mu_);
    std::erase(subscribers_, s);
    if (subscribers_.empty() && leader_gone_ && outcome_ == Outcome::kRunning && cancel_) {
      refuse_joiners_ = true;
      cancel = cancel_;
      executor = leader_executor_;
    }
  }
  // The canceller touches the leader's session, so it runs on the leader's worker; by then the
  // call may have ended, and the leader clears the canceller (on that same worker) when it does.
  if (cancel) {
    asio::post(executor, [flight = shared_from_this()] {
      std::function<void()> c;
      {
        std::lock_guard lock(flight->mu_);
        c = flight->cancel_;
      }
      if (c) c();
    });
  }
}

Flight::View Flight::view(Subscription& s) {
  std::lock_guard lock(mu_);
  s.pending = false;
  View v;
  v.outcome = outcome_;
  v.head = head_;
  v.events = events_;
  v.status = status_;
  v.content_type = content_type_;
  v.headers = headers_;
  if (s.offset < data_.size()) {
    v.data = data_.substr(s.offset);
    s.offset = data_.size();
  }
  v.error = error_;
  v.stream_started = events_;
  return v;
}

asio::awaitable<void> Flight::wait(Subscription& s) {
  {
    std::lock_guard lock(mu_);
    if (s.pending || outcome_ != Outcome::kRunning) co_return;
  }
  // Woken by a cancel posted to this executor after the publish; it cannot run before this wait
  // has started, since both run on the joiner's own thread.
  s.timer.expires_at(asio::steady_timer::time_point::max());
  auto [ec] = co_await s.timer.async_wait(asio::as_tuple(asio::use_awaitable));
  (void)ec;
}

void Flight::wake_all() {
  for (const auto& s : subscribers_) {
    if (s->pending) continue;  // already woken, not yet looked
    s->pending = true;
    asio::post(s->timer.get_executor(), [s] { s->timer.cancel(); });
  }
}

Usage Flight::usage() {
  std::lock_guard lock(mu_);
  if (!usage_) {
    usage_ = outcome_ != Outcome::kComplete || status_ != 200
                 ? Usage{}
                 : usage_of(events_ ? Format::kSse : Format::kJson, data_);
  }
  return *usage_;
}

std::size_t Flight::subscribers() const {
  std::lock_guard lock(mu_);
  return subscribers_.size();
}

std::size_t Flight::bytes() const {
  std::lock_guard lock(mu_);
  return data_.size();
}

Coalescer::Joined Coalescer::join_or_lead(const Key& key, bool stream) {
  Shard& s = shard(key);
  std::lock_guard lock(s.mu);
  auto [it, inserted] = s.flights.try_emplace(key);
  if (inserted) {
    it->second = std::make_shared<Flight>(stream, max_flight_bytes_);
    return {it->second, true};
  }
  return {it->second, false};
}

void Coalescer::finish(const Key& key, const Flight& flight) {
  Shard& s = shard(key);
  std::lock_guard lock(s.mu);
  auto it = s.flights.find(key);
  if (it != s.flights.end() && it->second.get() == &flight) s.flights.erase(it);
}

void Coalescer::count_joined(const Usage& usage) {
  joined_.fetch_add(1, std::memory_order_relaxed);
  prompt_tokens_.fetch_add(usage.prompt_tokens, std::memory_order_relaxed);
  completion_tokens_.fetch_add(usage.completion_tokens, std::memory_order_relaxed);
}

json::object Coalescer::stats() const {
  std::size_t in_flight = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mu);
    in_flight += s.flights.size();
  }
  json::object saved;
  saved["requests"] = joined_.load(std::memory_order_relaxed);
  saved["prompt_tokens"] = prompt_tokens_.load(std::memory_order_relaxed);
  saved["completion_tokens"] = completion_tokens_.load(std::memory_order_relaxed);
  saved["cost_usd"] = nullptr;  // prices come with the keys-and-limits issue
  json::object o;
  o["enabled"] = true;
  o["in_flight"] = in_flight;
  o["joined"] = joined_.load(std::memory_order_relaxed);
  o["saved"] = std::move(saved);
  return o;
}

}  // namespace sluice::cache
