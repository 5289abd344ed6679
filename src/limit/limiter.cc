#include "limit/limiter.h"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <stdexcept>

namespace sluice::limit {

namespace {

bool limited(const Charge& c) { return c.rate.per_minute != 0; }

// A charge on the local limiter: on the bucket its caller resolved, else by its name.
Decision acquire_one(GcraLimiter& local, const Charge& c, core::Clock::time_point now) {
  return c.bucket != nullptr ? GcraLimiter::acquire(*c.bucket, c.rate, c.cost, now)
                             : local.acquire(c.key, c.rate, c.cost, now);
}
Decision peek_one(const GcraLimiter& local, const Charge& c, std::uint64_t cost,
                  core::Clock::time_point now) {
  return c.bucket != nullptr ? GcraLimiter::peek(*c.bucket, c.rate, cost, now)
                             : local.peek(c.key, c.rate, cost, now);
}
void release_one(GcraLimiter& local, const Charge& c, core::Clock::time_point now) {
  if (c.bucket != nullptr) {
    GcraLimiter::release(*c.bucket, c.rate, c.cost, now);
  } else {
    local.release(c.key, c.rate, c.cost, now);
  }
}
void consume_one(GcraLimiter& local, const Charge& c, core::Clock::time_point now) {
  if (c.bucket != nullptr) {
    GcraLimiter::consume(*c.bucket, c.rate, c.cost, now);
  } else {
    local.consume(c.key, c.rate, c.cost, now);
  }
}

// The outcome of per-charge decisions (in v.decisions), with the unlimited ones marked as such.
Verdict finish(Verdict v, std::span<const Charge> charges) {
  for (std::size_t i = 0; i < charges.size(); ++i) {
    Decision& d = v.decisions[i];
    if (!d.allowed) v.outcome = Verdict::Outcome::kRefused;
    if (!limited(charges[i])) d.remaining = kNoLimit;
  }
  return v;
}

}  // namespace

Limiter::Limiter(SharedLimits& shared, const config::RateLimits& config,
                 asio::any_io_executor executor, net::RedisConnection::Options tuning)
    : shared_(shared), fail_open_(config.fail_open) {
  if (config.backend != config::RateLimits::Backend::kRedis) return;
  auto endpoint = net::RedisEndpoint::parse(config.redis.url);
  if (!endpoint) throw std::invalid_argument("limits.redis.url: " + endpoint.error().message);
  tuning.endpoint = std::move(*endpoint);
  auto health = shared_.redis_health(tuning.endpoint, fail_open_);
  health->add_connection();
  connection_ =
      std::make_shared<net::RedisConnection>(std::move(executor), std::move(tuning), health);
  RedisGcra::Options options;
  options.key_prefix = config.redis.key_prefix;
  options.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config.redis.timeout);
  options.dropped_updates = shared_.dropped_updates_counter();
  redis_ = std::make_unique<RedisGcra>(connection_, std::move(options));
}

Limiter::~Limiter() { close(); }

void Limiter::start() {
  if (!connection_) return;
  // On the connection's own thread, which may not be the caller's.
  asio::post(connection_->executor(), [c = connection_] { c->start(); });
}

void Limiter::close() {
  if (connection_) connection_->close();
}

void Limiter::count_decision() {
  if (++decisions_ < kSweepCheckEvery) return;
  decisions_ = 0;
  shared_.maybe_sweep();
}

asio::awaitable<Verdict> Limiter::acquire(std::span<const Charge> charges) {
  // Unlimited charges are not sent, so with nothing else Redis is not asked (nor its state
  // changed by a decision it did not make).
  if (!redis_ || std::none_of(charges.begin(), charges.end(), limited)) {
    co_return acquire_local(charges);
  }
  // Buckets left from a fall-back are swept while Redis decides, too.
  count_decision();
  std::optional<std::vector<Decision>> decided = co_await redis_->acquire(charges);
  if (decided) {
    shared_.on_redis_answer();
    Verdict v;
    v.decisions.assign(decided->begin(), decided->end());
    co_return finish(std::move(v), charges);
  }
  shared_.on_redis_failure(fail_open_, redis_->last_failure());
  if (!fail_open_) co_return Verdict{Verdict::Outcome::kUnavailable, {}, false};
  Verdict v = acquire_local(charges);
  v.fell_back = true;
  co_return v;
}

Verdict Limiter::acquire_local(std::span<const Charge> charges) {
  count_decision();
  GcraLimiter& local = shared_.local();
  const auto now = shared_.clock().now();
  Verdict v;
  auto& decisions = v.decisions;
  decisions.resize(charges.size());
  std::size_t refused = 0;
  for (; refused < charges.size(); ++refused) {
    const Charge& c = charges[refused];
    decisions[refused] = acquire_one(local, c, now);
    if (!decisions[refused].allowed) break;
  }
  if (refused < charges.size()) {
    for (std::size_t i = 0; i < refused; ++i) release_one(local, charges[i], now);
    // As gcra_untaken() reports them for Redis: nothing was taken, so a charge allowed by itself
    // shows its bucket as it stands.
    for (std::size_t i = 0; i < charges.size(); ++i) {
      if (i == refused) continue;
      const Charge& c = charges[i];
      decisions[i] = peek_one(local, c, c.cost, now);
      if (decisions[i].allowed) decisions[i] = peek_one(local, c, 0, now);
    }
  }
  return finish(std::move(v), charges);
}

void Limiter::release(std::span<const Charge> charges) {
  if (redis_ready()) {
    redis_->release(charges);
    return;
  }
  if (redis_ && !fail_open_) return;
  const auto now = shared_.clock().now();
  for (const Charge& c : charges) release_one(shared_.local(), c, now);
}

void Limiter::consume(std::span<const Charge> charges) {
  if (redis_ready()) {
    redis_->consume(charges);
    return;
  }
  if (redis_ && !fail_open_) return;
  const auto now = shared_.clock().now();
  for (const Charge& c : charges) consume_one(shared_.local(), c, now);
}

}  // namespace sluice::limit
